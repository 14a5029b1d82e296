//! DMARC aggregate reports both ways, through real SMTP: this Roost counts what arrives from a
//! domain that asks for reports and sends it the day's report (mail-auth makes and gzips the
//! XML); a second Roost playing the report address's MX reads it on arrival; and a report in
//! the form big providers send (gzipped XML made by Python, not by Roost) is summarised too.

mod common;

use common::dns::{DnsServer, Zone};
use common::smtp::Client;
use common::{NO_DNS, Server, wait_until};
use std::io::Write;
use std::process::{Command, Stdio};

fn reports(s: &Server) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(&s.ok(&["--json", "reports", "dmarc"]))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

/// A report as a provider sends it: gzipped XML in an application/gzip attachment.
fn provider_report(domain: &str) -> String {
    let xml = r#"<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>bigmail.test</org_name>
    <email>noreply-dmarc@bigmail.test</email>
    <report_id>1234567890</report_id>
    <date_range><begin>1796083200</begin><end>1796169599</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.test</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct>
  </policy_published>
  <record>
    <row><source_ip>192.0.2.10</source_ip><count>7</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.test</header_from></identifiers>
    <auth_results><dkim><domain>example.test</domain><result>pass</result></dkim>
      <spf><domain>example.test</domain><result>pass</result></spf></auth_results>
  </record>
  <record>
    <row><source_ip>203.0.113.66</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.test</header_from></identifiers>
    <auth_results><spf><domain>spoofer.test</domain><result>fail</result></spf></auth_results>
  </record>
</feedback>
"#
    .replace("example.test</domain>", &format!("{domain}</domain>"));
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys, gzip, base64; d = gzip.compress(sys.stdin.buffer.read()); \
             print(base64.encodebytes(d).decode(), end='')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let b64 = String::from_utf8(py.wait_with_output().unwrap().stdout).unwrap();
    format!(
        "From: <noreply-dmarc@bigmail.test>\nTo: <dmarc@example.test>\n\
         Subject: Report Domain: example.test Submitter: bigmail.test Report-ID: <1234567890>\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <r1@bigmail.test>\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\nContent-Type: text/plain\n\n\
         This is a DMARC aggregate report.\n--x\nContent-Type: application/gzip\n\
         Content-Transfer-Encoding: base64\n\
         Content-Disposition: attachment; filename=\"bigmail.test!example.test!1796083200!1796169599.xml.gz\"\n\n\
         {b64}--x--\n"
    )
}

#[test]
fn reports_are_sent_to_domains_that_ask_and_read_when_they_arrive() {
    let mut dns = DnsServer::reserve();
    dns.serve(
        &Zone::new()
            .txt("sender.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt(
                "_dmarc.sender.test",
                "v=DMARC1; p=none; rua=mailto:dmarc@reports.test",
            )
            .txt("sender.test._report._dmarc.reports.test", "v=DMARC1")
            .mx("reports.test", "mx.reports.test", 10)
            .a("mx.reports.test", "127.0.29.1"),
    );
    let s = Server::start_with(&format!(
        "{}\n[queue]\nretry_min_secs = 1\n[protection]\ndmarc_reports = true\n",
        dns.config()
    ));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");
    s.add_user("dmarc@example.test");
    let remote = Server::start_config(&format!(
        "hostname = \"mx.reports.test\"\ndomain = \"reports.test\"\n[listeners]\n\
         smtp = [\"127.0.29.1:25\"]\n{NO_DNS}"
    ));
    remote.add_user("dmarc@reports.test");
    // The report service also hosts sender.test's mail: reports about it are its own.
    remote.ok(&["domain", "add", "sender.test"]);

    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for n in 0..2 {
        let m = format!(
            "From: <a@sender.test>\nTo: <alice@example.test>\nSubject: hi {n}\n\
             Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <{n}@sender.test>\n\nhello\n"
        );
        assert_eq!(
            c.send_mail("a@sender.test", &["alice@example.test"], &m)
                .code,
            250
        );
    }
    wait_until(10, "the counts", || {
        let db = rusqlite::Connection::open(s.data.join("roost.db")).unwrap();
        db.query_row("SELECT ifnull(sum(count), 0) FROM dmarc_rows", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
            == 2
    });
    let out = s.ok(&["reports", "send", "--today"]);
    assert!(out.contains("1 DMARC report queued"), "{out}");
    wait_until(30, "the report to arrive", || {
        remote.message_count("dmarc@reports.test") == 1
    });
    let m = String::from_utf8_lossy(&remote.inbox("dmarc@reports.test")[0]).to_string();
    assert!(m.contains("Report_Domain:_sender.test"), "{m}");
    assert!(m.contains("application/gzip"), "{m}");
    // The receiving Roost read it.
    wait_until(10, "the summary", || !reports(&remote).is_empty());
    let r = &reports(&remote)[0];
    assert_eq!(r["org"], "mx.test.example");
    assert_eq!(r["domain"], "sender.test");
    assert_eq!(r["messages"], 2);
    assert_eq!(r["passed"], 2);

    // A provider's report about our own domain, summarised with who fails; one about a
    // stranger's domain is delivered but not kept.
    let stranger = provider_report("elsewhere.test");
    assert_eq!(
        c.send_mail(
            "noreply-dmarc@bigmail.test",
            &["dmarc@example.test"],
            &stranger
        )
        .code,
        250
    );
    s.wait_log("a DMARC report about a domain that is not ours");
    let report = provider_report("example.test");
    assert_eq!(
        c.send_mail(
            "noreply-dmarc@bigmail.test",
            &["dmarc@example.test"],
            &report
        )
        .code,
        250
    );
    wait_until(10, "the provider's report", || !reports(&s).is_empty());
    let r = &reports(&s)[0];
    assert_eq!(r["org"], "bigmail.test");
    assert_eq!(r["domain"], "example.test");
    assert_eq!(r["messages"], 10);
    assert_eq!(r["passed"], 7);
    assert_eq!(r["failing_sources"][0], "203.0.113.66 (3)");
    assert!(s.ok(&["reports", "dmarc"]).contains("203.0.113.66 (3)"));
    assert_eq!(reports(&s).len(), 1);
    // Delivered as any mail too.
    assert_eq!(s.inbox("dmarc@example.test").len(), 2);
}
