//! MTA-STS for mail leaving (RFC 8461), end to end: dnsmasq serves the _mta-sts records and the
//! MX hosts, a Python HTTPS server (certificate from a CA only this test knows, which the
//! sender is told to trust) serves the policies, and Roosts play the MX hosts: one with its
//! self-signed certificate, one with a certificate the CA signed.

mod common;

use common::dns::{DnsServer, Zone};
use common::mx::{mx, queue_error, submit};
use common::{Server, TempDir, test_ca, wait_until};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// Where each test's policy server listens (tests run at the same time: one address each).
const POLICY_IP: &str = "127.0.28.9";
const OWN_POLICY_IP: &str = "127.0.28.10";

/// Serves https://mta-sts.DOMAIN/.well-known/mta-sts.txt from DIR/DOMAIN.txt on port 443.
struct PolicyServer {
    child: Child,
    _dir: TempDir,
}

impl PolicyServer {
    fn start(
        ip: &str,
        cert: &std::path::Path,
        key: &std::path::Path,
        policies: &[(&str, &str)],
    ) -> Self {
        let dir = TempDir::new("sts");
        for (domain, text) in policies {
            std::fs::write(dir.0.join(format!("{domain}.txt")), text).unwrap();
        }
        let script = r#"
import http.server, ssl, sys, os
root, cert, key, ip = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get('Host') or '').split(':')[0]
        name = host[len('mta-sts.'):] if host.startswith('mta-sts.') else ''
        path = os.path.join(root, name + '.txt')
        if self.path != '/.well-known/mta-sts.txt' or not name or not os.path.exists(path):
            self.send_error(404)
            return
        body = open(path, 'rb').read()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer((ip, 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print('ready', flush=True)
srv.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(&dir.0)
            .arg(cert)
            .arg(key)
            .arg(ip)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the policy server did not start");
        PolicyServer { child, _dir: dir }
    }
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn policy(mx: &str) -> String {
    format!("version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 86400\r\n")
}

#[test]
fn an_enforce_policy_is_obeyed_and_its_refusals_explained_in_the_queue() {
    let dir = TempDir::new("stsca");
    let ca = test_ca(
        &dir.0,
        &[
            "mta-sts.bad.test",
            "mta-sts.good.test",
            "mta-sts.other.test",
            "mx.good.test",
        ],
    );
    let _https = PolicyServer::start(
        POLICY_IP,
        &ca.cert,
        &ca.key,
        &[
            ("bad.test", &policy("mx.bad.test")),
            ("good.test", &policy("*.good.test")),
            ("other.test", &policy("mx.elsewhere.test")),
        ],
    );
    let mut dns = DnsServer::reserve();
    let mut zone = Zone::new()
        .mx("bad.test", "mx.bad.test", 10)
        .a("mx.bad.test", "127.0.28.1")
        .mx("good.test", "mx.good.test", 10)
        .a("mx.good.test", "127.0.28.2")
        .mx("other.test", "mx.other.test", 10)
        .a("mx.other.test", "127.0.28.3");
    for d in ["bad.test", "good.test", "other.test"] {
        zone = zone
            .txt(&format!("_mta-sts.{d}"), "v=STSv1; id=20261202;")
            .txt(
                &format!("_smtp._tls.{d}"),
                "v=TLSRPTv1; rua=mailto:tls@good.test",
            )
            .a(&format!("mta-sts.{d}"), POLICY_IP);
    }
    dns.serve(&zone);
    let bad = mx(&["127.0.28.1"], "mx.bad.test", "bad.test", None);
    let good = mx(&["127.0.28.2"], "mx.good.test", "good.test", Some(&ca));
    let other = mx(&["127.0.28.3"], "mx.other.test", "other.test", None);
    let s = Server::start_with(&format!(
        "{}\n[queue]\nretry_min_secs = 1\nretry_max_secs = 2\nca_file = \"{}\"\n",
        dns.config(),
        ca.ca.display()
    ));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");

    // A valid certificate from a host the policy names: delivered, over TLS.
    submit(&s, "bob@good.test", "good");
    wait_until(30, "delivery to good.test", || {
        good.message_count("bob@good.test") == 1
    });
    let m = String::from_utf8_lossy(&good.inbox("bob@good.test")[0]).to_string();
    assert!(m.contains("with ESMTPS"), "{m}");
    assert!(s.log().contains("MTA-STS policy fetched"));

    // A self-signed certificate under an enforce policy: the mail waits, and says why.
    submit(&s, "bob@bad.test", "bad");
    wait_until(30, "the refusal to show in the queue", || {
        queue_error(&s, "bob@bad.test").contains("MTA-STS policy of bad.test (enforce)")
    });
    let why = queue_error(&s, "bob@bad.test");
    assert!(why.contains("certificate"), "{why}");
    eprintln!("queue: {why}");
    assert_eq!(bad.message_count("bob@bad.test"), 0);
    let shown = s.ok(&["queue", "list"]);
    assert!(shown.contains("MTA-STS policy of bad.test"), "{shown}");

    // An MX the policy does not name is not used at all.
    submit(&s, "bob@other.test", "other");
    wait_until(30, "the refusal to show in the queue", || {
        queue_error(&s, "bob@other.test").contains("none of the MX hosts")
    });
    assert_eq!(other.message_count("bob@other.test"), 0);

    // TLS-RPT: each domain that asked gets the day's report (today's, on request).
    good.add_user("tls@good.test");
    let out = s.ok(&["reports", "send", "--today"]);
    assert!(out.contains("2 TLS reports queued"), "{out}");
    wait_until(30, "the TLS reports", || {
        good.message_count("tls@good.test") == 2
    });
    let reports: Vec<serde_json::Value> = good
        .inbox("tls@good.test")
        .iter()
        .map(|m| {
            let m = String::from_utf8_lossy(m).to_string();
            assert!(m.contains("report-type=\"tlsrpt\""), "{m}");
            let json = m
                .lines()
                .find(|l| l.starts_with('{'))
                .expect("the JSON part");
            serde_json::from_str(json).unwrap()
        })
        .collect();
    let of = |d: &str| {
        reports
            .iter()
            .find(|r| r["policies"][0]["policy"]["policy-domain"] == d)
            .unwrap_or_else(|| panic!("no report for {d}"))["policies"][0]
            .clone()
    };
    let bad_report = of("bad.test");
    assert_eq!(bad_report["policy"]["policy-type"], "sts");
    assert!(
        bad_report["summary"]["total-failure-session-count"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(
        bad_report["failure-details"][0]["result-type"],
        "certificate-not-trusted"
    );
    assert_eq!(
        bad_report["failure-details"][0]["receiving-mx-hostname"],
        "mx.bad.test"
    );
    let good_report = of("good.test");
    assert!(
        good_report["summary"]["total-successful-session-count"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(good_report["summary"]["total-failure-session-count"], 0);
    // Sent once.
    assert!(
        s.ok(&["reports", "send", "--today"])
            .contains("no TLS report is due")
    );

    // The policy is kept: with the policy host gone, it still holds.
    drop(_https);
    submit(&s, "bob@bad.test", "bad-again");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(bad.message_count("bob@bad.test"), 0);
}

#[test]
fn the_dns_check_explains_and_verifies_our_own_policies() {
    let dir = TempDir::new("stsca");
    let ca = test_ca(&dir.0, &["mta-sts.ours.test", "mta-sts.wrong.test"]);
    let _https = PolicyServer::start(
        OWN_POLICY_IP,
        &ca.cert,
        &ca.key,
        &[
            ("ours.test", &policy("mx.ours.test")),
            ("wrong.test", &policy("mail.elsewhere.test")),
        ],
    );
    let mut dns = DnsServer::reserve();
    let zone = Zone::new()
        .txt("_mta-sts.ours.test", "v=STSv1; id=1")
        .a("mta-sts.ours.test", OWN_POLICY_IP)
        .txt(
            "_smtp._tls.ours.test",
            "v=TLSRPTv1; rua=mailto:tls@ours.test",
        )
        .txt("_mta-sts.wrong.test", "v=STSv1; id=1")
        .a("mta-sts.wrong.test", OWN_POLICY_IP);
    dns.serve(&zone);
    let s = Server::start_config(&format!(
        "hostname = \"mx.ours.test\"\n[listeners]\nsmtp = [\"127.0.0.1:0\"]\n{}\n\
         [queue]\nca_file = \"{}\"\n",
        dns.config(),
        ca.ca.display()
    ));
    // ours.test comes with the first start (the domain of the hostname).
    for d in ["wrong.test", "plain.test"] {
        s.ok(&["domain", "add", d]);
    }
    let report: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "dns", "check"])).unwrap();
    let find = |domain: &str, name: &str| -> serde_json::Value {
        report["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["domain"] == domain)
            .and_then(|d| {
                d["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == name)
            })
            .cloned()
            .unwrap_or_else(|| panic!("{domain} {name}: {report:#}"))
    };
    assert_eq!(find("ours.test", "MTA-STS")["verdict"], "pass");
    let ok = find("ours.test", "MTA-STS policy");
    assert_eq!(ok["verdict"], "pass", "{ok:#}");
    assert!(
        ok["reason"].as_str().unwrap().contains("mode: enforce"),
        "{ok:#}"
    );
    assert_eq!(find("ours.test", "TLS-RPT")["verdict"], "pass");
    // A policy that leaves this server out would turn its mail away: said plainly.
    let wrong = find("wrong.test", "MTA-STS policy");
    assert_eq!(wrong["verdict"], "fail", "{wrong:#}");
    assert!(
        wrong["reason"]
            .as_str()
            .unwrap()
            .contains("do not name mx.ours.test")
    );
    // Nothing published: what each record is for, and the lines to publish.
    let none = find("plain.test", "MTA-STS");
    assert_eq!(none["verdict"], "info");
    let fix = none["fix"].to_string();
    assert!(fix.contains("_mta-sts.plain.test. 3600 IN TXT"), "{fix}");
    assert!(fix.contains("mx: mx.ours.test"), "{fix}");
    let rpt = find("plain.test", "TLS-RPT");
    assert!(
        rpt["fix"][0]
            .as_str()
            .unwrap()
            .contains("v=TLSRPTv1; rua=mailto:tls-reports@plain.test")
    );
    // And the same for people.
    let text = s.ok(&["dns", "check", "wrong.test"]);
    assert!(text.contains("MTA-STS policy"), "{text}");
}
