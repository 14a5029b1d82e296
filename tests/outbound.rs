//! Outbound delivery end to end: a DNS server (dnsmasq) on loopback serves the test zones, the
//! sending Roost looks up MX records there and delivers to remote MX hosts played by a second
//! Roost and by Debian's Postfix, each on port 25 of its own 127.0.x.y address.

mod common;

use common::dns::{DnsServer, Zone};
use common::smtp::{Client, Reply};
use common::{NO_DNS, PASSWORD, Server, TempDir, base_config, test_ca, wait_until};
use std::path::Path;
use std::process::Command;

/// A Roost that sends: example.test with alice, quick retries, the test's name server.
fn sender(dns: &DnsServer, extra: &str) -> Server {
    let s = Server::start_with(&format!(
        "{}\n[queue]\nretry_min_secs = 1\nretry_max_secs = 2\n{extra}",
        dns.config()
    ));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");
    s
}

/// A Roost playing a remote domain's MX on port 25 of `ip`.
fn remote(ip: &str, hostname: &str, domain: &str, users: &[&str]) -> Server {
    let config = format!(
        "hostname = \"{hostname}\"\ndomain = \"{domain}\"\n[listeners]\nsmtp = [\"{ip}:25\"]\n\
         submission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\n\
         pop3 = [\"127.0.0.1:0\"]\npop3s = [\"127.0.0.1:0\"]\n\
         imap = [\"127.0.0.1:0\"]\nimaps = [\"127.0.0.1:0\"]\n{NO_DNS}"
    );
    // The first start creates `domain` (from the configuration) with its admin account.
    let s = Server::start_config(&config);
    for u in users {
        s.add_user(&format!("{u}@{domain}"));
    }
    s
}

fn submit(s: &Server, to: &[&str], subject: &str) -> Reply {
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
    let body = format!(
        "From: Alice <alice@example.test>\r\nTo: {}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n\
         Hello from Alice: {subject}\r\n",
        to.join(", ")
    );
    c.send_mail("alice@example.test", to, &body)
}

fn queue(s: &Server) -> Vec<serde_json::Value> {
    let out = s.ok(&["--json", "queue", "list"]);
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn dkim_record(s: &Server) -> (String, String) {
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "dkim", "show", "example.test"])).unwrap();
    (
        v["record_name"].as_str().unwrap().to_string(),
        v["record_text"].as_str().unwrap().to_string(),
    )
}

fn text(m: &[u8]) -> String {
    String::from_utf8_lossy(m).into_owned()
}

#[test]
fn delivers_by_mx_in_one_transaction_per_domain_signed_with_dkim() {
    let mut dns = DnsServer::reserve();
    let s = sender(&dns, "");
    s.ok(&["dkim", "generate", "example.test"]);
    let (name, record) = dkim_record(&s);
    dns.serve(
        &Zone::new()
            .mx("remote.test", "mx.remote.test", 10)
            .a("mx.remote.test", "127.0.21.1")
            .a("nomx.test", "127.0.21.1")
            .txt(&name, &record),
    );
    let r = remote(
        "127.0.21.1",
        "mx.remote.test",
        "remote.test",
        &["carol", "dan"],
    );
    r.ok(&["domain", "add", "nomx.test"]);
    r.add_user("gil@nomx.test");

    let reply = submit(&s, &["carol@remote.test", "dan@remote.test"], "by-mx");
    assert_eq!(reply.code, 250, "{}", reply.text());
    wait_until(20, "delivery to the remote MX", || {
        r.message_count("carol@remote.test") == 1 && r.message_count("dan@remote.test") == 1
    });
    // A domain without MX: its own address record is the implicit MX (RFC 5321 5.1).
    assert_eq!(submit(&s, &["gil@nomx.test"], "implicit-mx").code, 250);
    wait_until(20, "delivery to the implicit MX", || {
        r.message_count("gil@nomx.test") == 1
    });
    wait_until(10, "the queue to empty", || queue(&s).is_empty());

    // One transaction for both recipients: the remote stored one copy, with one queue id.
    let carol = r.inbox("carol@remote.test").remove(0);
    let dan = r.inbox("dan@remote.test").remove(0);
    assert_eq!(carol, dan);
    let m = text(&carol);
    assert!(m.contains("Subject: by-mx"), "{m}");
    assert!(
        m.contains("by mx.remote.test (Roost) with ESMTPS"),
        "TLS used: {m}"
    );
    let log = s.log();
    assert!(
        log.contains("certificate not verified"),
        "TLS verdict logged: {log}"
    );
    assert!(
        log.contains("status=\"sent\"") || log.contains("status=sent"),
        "{log}"
    );

    // The receiving side verifies the DKIM signature against the published key.
    assert!(m.starts_with("Return-Path:"), "{m}");
    let received_part = m.split_once("\r\n").unwrap().1;
    verify_dkim_with_mail_auth(received_part.as_bytes(), &dns);
    verify_dkim_with_dkimpy(received_part.as_bytes(), &name, &record);
}

fn verify_dkim_with_mail_auth(message: &[u8], dns: &DnsServer) {
    use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
    let mut ns = NameServerConfig::udp_and_tcp(dns.addr.ip());
    for c in &mut ns.connections {
        c.port = dns.addr.port();
    }
    let auth = MessageAuthenticator::new(
        ResolverConfig::from_parts(None, vec![], vec![ns]),
        ResolverOpts::default(),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let parsed = AuthenticatedMessage::parse(message).expect("parsable message");
    let results = rt.block_on(auth.verify_dkim(&parsed));
    assert!(!results.is_empty(), "a DKIM-Signature is present");
    assert!(
        results.iter().all(|r| r.result() == &DkimResult::Pass),
        "mail-auth: {:?}",
        results.iter().map(|r| r.result()).collect::<Vec<_>>()
    );
}

fn verify_dkim_with_dkimpy(message: &[u8], name: &str, record: &str) {
    let python = "/usr/bin/python3";
    let have = Command::new(python)
        .args(["-c", "import dkim"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(have, "dkimpy (python3-dkim) is installed by scripts/test");
    let dir = TempDir::new("dkimpy");
    let msg = dir.0.join("message.eml");
    std::fs::write(&msg, message).unwrap();
    let script = format!(
        "import dkim, sys\n\
         rec = {record:?}.encode()\n\
         def dnsfunc(n, timeout=5):\n\
         \x20   return rec if n.decode().rstrip('.') == {name:?} else b''\n\
         data = open(sys.argv[1], 'rb').read()\n\
         ok = dkim.verify(data, dnsfunc=dnsfunc)\n\
         print('dkimpy', ok)\n\
         sys.exit(0 if ok else 1)\n"
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&msg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dkimpy: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn backup_mx_takes_over_and_postfix_receives() {
    let dns = DnsServer::start(
        &Zone::new()
            .mx("pf.test", "mx1.pf.test", 10)
            .mx("pf.test", "mx2.pf.test", 20)
            .a("mx1.pf.test", "127.0.22.1")
            .a("mx2.pf.test", "127.0.22.2"),
    );
    // mx1 is down (nothing listens on 127.0.22.1:25); mx2 is Debian's Postfix.
    let pf = Postfix::start("127.0.22.2:25", "pf.test");
    let s = sender(&dns, "");
    assert_eq!(submit(&s, &["erin@pf.test"], "to-backup").code, 250);
    wait_until(30, "Postfix to store the message", || {
        pf.messages("pf.test", "erin").len() == 1
    });
    let m = text(&pf.messages("pf.test", "erin")[0]);
    assert!(m.contains("Subject: to-backup"), "{m}");
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    let log = s.log();
    assert!(log.contains("mx2.pf.test[127.0.22.2]:25"), "{log}");
}

#[test]
fn temporary_failure_then_success_across_a_crash_with_hold_and_release() {
    let dns = DnsServer::start(
        &Zone::new()
            .mx("later.test", "mx.later.test", 10)
            .a("mx.later.test", "127.0.23.1"),
    );
    let mut s = sender(&dns, "");
    assert_eq!(submit(&s, &["fay@later.test"], "later").code, 250);
    wait_until(20, "a deferred attempt", || {
        queue(&s).first().is_some_and(|e| {
            e["recipients"][0]["state"] == "deferred"
                && e["recipients"][0]["last_error"]
                    .as_str()
                    .is_some_and(|t| t.contains("127.0.23.1"))
        })
    });
    // Held: stays in the queue whatever happens.
    let held = s.ok(&["queue", "hold", "--all"]);
    assert!(held.contains("1 message"), "{held}");
    // A crash with the message queued loses nothing.
    s.signal(9);
    s.wait_exit(std::time::Duration::from_secs(10));
    s.launch();
    let r = remote("127.0.23.1", "mx.later.test", "later.test", &["fay"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(r.message_count("fay@later.test"), 0, "held mail waits");
    assert_eq!(queue(&s)[0]["recipients"][0]["state"], "held");
    let released = s.ok(&["queue", "release", "--recipient", "fay@later.test"]);
    assert!(released.contains("released"), "{released}");
    wait_until(20, "delivery after release", || {
        r.message_count("fay@later.test") == 1
    });
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    // Nothing was bounced to alice.
    assert_eq!(s.message_count("alice@example.test"), 0);
}

#[test]
fn permanent_failures_bounce_to_the_sender_inbox_never_to_the_null_sender() {
    let dns = DnsServer::start(
        &Zone::new()
            .mx("remote.test", "mx.remote.test", 10)
            .a("mx.remote.test", "127.0.24.1")
            .null_mx("nomail.test"),
    );
    let r = remote("127.0.24.1", "mx.remote.test", "remote.test", &["carol"]);
    let s = sender(&dns, "");
    let reply = submit(
        &s,
        &["nobody@remote.test", "x@nomail.test", "y@missing.test"],
        "doomed",
    );
    assert_eq!(reply.code, 250);
    wait_until(20, "three bounces", || {
        let all: String = s
            .inbox("alice@example.test")
            .iter()
            .map(|m| text(m))
            .collect();
        all.contains("nobody@remote.test")
            && all.contains("x@nomail.test")
            && all.contains("y@missing.test")
    });
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    let bounces: Vec<String> = s
        .inbox("alice@example.test")
        .iter()
        .map(|m| text(m))
        .collect();
    let all = bounces.join("\n");
    assert!(
        all.contains("Subject: Undelivered Mail Returned to Sender"),
        "{all}"
    );
    assert!(
        all.contains("Content-Type: multipart/report; report-type=delivery-status"),
        "{all}"
    );
    assert!(
        all.contains("Action: failed\r\nStatus: 5.1.1"),
        "remote 550 5.1.1: {all}"
    );
    assert!(all.contains("Status: 5.1.10"), "null MX: {all}");
    assert!(all.contains("Status: 5.1.2"), "no such domain: {all}");
    assert!(
        all.contains("Return-Path: <>"),
        "bounces come from the null sender: {all}"
    );
    assert!(
        all.contains("Subject: doomed"),
        "the original is attached: {all}"
    );

    // Mail from the null sender that cannot be delivered is dropped, not bounced.
    s.ok(&["alias", "add", "fwd@example.test", "nobody@remote.test"]);
    let before = s.message_count("alice@example.test");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let body = "From: MAILER-DAEMON@elsewhere.test\r\nSubject: a bounce\r\n\r\nx\r\n";
    assert_eq!(c.send_mail("", &["fwd@example.test"], body).code, 250);
    wait_until(20, "the forwarded bounce to fail", || {
        s.log().matches("status=\"bounced\"").count() + s.log().matches("status=bounced").count()
            >= 4
    });
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    assert_eq!(s.message_count("alice@example.test"), before);
    drop(r);
}

#[test]
fn delay_warning_then_bounce_when_the_lifetime_ends() {
    let dns = DnsServer::start(
        &Zone::new()
            .mx("down.test", "mx.down.test", 10)
            .a("mx.down.test", "127.0.27.1"),
    );
    let s = sender(&dns, "delay_warning_secs = 1\nlifetime_secs = 4\n");
    assert_eq!(submit(&s, &["hal@down.test"], "never").code, 250);
    wait_until(30, "a delay warning and then a bounce", || {
        let all: Vec<String> = s
            .inbox("alice@example.test")
            .iter()
            .map(|m| text(m))
            .collect();
        all.len() >= 2
    });
    let all: Vec<String> = s
        .inbox("alice@example.test")
        .iter()
        .map(|m| text(m))
        .collect();
    assert!(
        all[0].contains("Subject: Delayed Mail (still being retried)"),
        "{}",
        all[0]
    );
    assert!(
        all[0].contains("Action: delayed") && all[0].contains("Will-Retry-Until:"),
        "{}",
        all[0]
    );
    assert!(
        all[1].contains("Subject: Undelivered Mail Returned to Sender"),
        "{}",
        all[1]
    );
    assert!(
        all[1].contains("Status: 5.4.7") && all[1].contains("127.0.27.1"),
        "{}",
        all[1]
    );
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        s.message_count("alice@example.test"),
        2,
        "one warning, one bounce, no more"
    );
}

#[test]
fn queue_retry_and_delete_by_filter() {
    let dns = DnsServer::start(
        &Zone::new()
            .mx("slow.test", "mx.slow.test", 10)
            .a("mx.slow.test", "127.0.28.1"),
    );
    let s = Server::start_with(&format!("{}[queue]\nretry_min_secs = 3600\n", dns.config()));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");
    for subject in ["first", "third", "fourth"] {
        assert_eq!(submit(&s, &["ida@slow.test"], subject).code, 250);
    }
    assert_eq!(submit(&s, &["jo@slow.test"], "second").code, 250);
    wait_until(20, "all deferred", || {
        queue(&s)
            .iter()
            .filter(|e| e["recipients"][0]["state"] == "deferred")
            .count()
            == 4
    });
    let refused = s.admin(&["queue", "delete"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("name queue ids"));
    let deleted = s.ok(&["queue", "delete", "--recipient", "jo@slow.test"]);
    assert!(
        deleted.contains("1 message (1 recipient) deleted"),
        "{deleted}"
    );
    assert_eq!(queue(&s).len(), 3);
    // The next attempt is an hour away; retry brings it forward.
    let r = remote("127.0.28.1", "mx.slow.test", "slow.test", &["ida", "jo"]);
    let retried = s.ok(&["queue", "retry", "--state", "deferred"]);
    assert!(retried.contains("3 messages"), "{retried}");
    wait_until(20, "delivery after retry", || {
        r.message_count("ida@slow.test") == 3
    });
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    // The three went over one connection.
    let log = s.log();
    let connected = log
        .lines()
        .filter(|l| l.contains("connected") && l.contains("mx.slow.test[127.0.28.1]:25"))
        .count();
    assert_eq!(connected, 1, "{log}");
    assert_eq!(r.message_count("jo@slow.test"), 0);
}

/// A certificate authority made for one test, and a certificate it signed for `names`.
#[test]
fn relay_host_with_starttls_and_auth() {
    // The relay is a Roost on 127.0.25.1 whose submission port requires STARTTLS and AUTH;
    // far.test is local to it. Its certificate comes from a CA only this test knows.
    let dir = TempDir::new("relaypw");
    let ca = test_ca(&dir.0, &["127.0.25.1", "relay.test"]);
    let config = format!(
        "hostname = \"relay.test\"\n[listeners]\nsmtp = [\"127.0.0.1:0\"]\n\
         submission = [\"127.0.25.1:587\"]\nsubmissions = [\"127.0.0.1:0\"]\n\
         pop3 = [\"127.0.0.1:0\"]\npop3s = [\"127.0.0.1:0\"]\n\
         imap = [\"127.0.0.1:0\"]\nimaps = [\"127.0.0.1:0\"]\n\
         [tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        ca.cert.display(),
        ca.key.display()
    );
    let relay = Server::start_config(&format!("{config}{NO_DNS}"));
    relay.ok(&["domain", "add", "far.test"]);
    relay.ok(&["domain", "add", "example.test"]);
    relay.add_user("dave@far.test");
    // The provider's account: the relay lets it send as itself only, like most providers.
    relay.add_user("alice@example.test");
    let pw = dir.0.join("password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let relay_config = |extra: &str| {
        format!(
            "[dns]\nnameservers = [\"127.0.0.1:9\"]\n[queue]\nretry_min_secs = 1\n\
             [relay]\nhost = \"127.0.25.1\"\nport = 587\nsecurity = \"starttls\"\n\
             username = \"alice@example.test\"\npassword_file = \"{}\"\n{extra}",
            pw.display()
        )
    };

    // A certificate the sender cannot trust: the password is not sent, the mail waits.
    let untrusting = Server::start_with(&relay_config(""));
    untrusting.ok(&["domain", "add", "example.test"]);
    untrusting.add_user("alice@example.test");
    assert_eq!(
        submit(&untrusting, &["dave@far.test"], "untrusted").code,
        250
    );
    let log = untrusting.wait_log("is not trusted");
    assert!(log.contains("127.0.25.1"), "{log}");
    assert!(
        !relay.log().contains("alice@example.test"),
        "no login reached the relay: {}",
        relay.log()
    );
    assert_eq!(relay.message_count("dave@far.test"), 0);
    let waiting = queue(&untrusting);
    assert_eq!(waiting.len(), 1, "kept in the queue: {waiting:?}");
    drop(untrusting);

    // The same relay with its CA in relay.ca_file: verified, logged in, delivered.
    let s = Server::start_with(&relay_config(&format!(
        "ca_file = \"{}\"\n",
        ca.ca.display()
    )));
    s.ok(&["domain", "add", "example.test"]);
    s.add_user("alice@example.test");
    assert_eq!(submit(&s, &["dave@far.test"], "via-relay").code, 250);
    wait_until(20, "delivery through the relay", || {
        relay.message_count("dave@far.test") == 1
    });
    let m = text(&relay.inbox("dave@far.test")[0]);
    assert!(m.contains("with ESMTPSA"), "STARTTLS and AUTH used: {m}");
    assert!(
        relay.log().contains("alice@example.test"),
        "{}",
        relay.log()
    );
    wait_until(10, "the queue to empty", || queue(&s).is_empty());
    assert!(s.log().contains("certificate verified"), "{}", s.log());

    // Verification turned off on purpose: it goes, and the log says so each time.
    let lax = Server::start_with(&relay_config("verify_certificate = false\n"));
    lax.ok(&["domain", "add", "example.test"]);
    lax.add_user("alice@example.test");
    assert_eq!(submit(&lax, &["dave@far.test"], "unverified").code, 250);
    wait_until(20, "the unverified delivery", || {
        relay.message_count("dave@far.test") == 2
    });
    assert!(lax.log().contains("NOT verified"), "{}", lax.log());
}

#[test]
fn per_user_daily_and_recipient_limits() {
    let dns = DnsServer::start(&Zone::new());
    let s = sender(
        &dns,
        "[limits]\nmessages_per_day = 2\nrecipients_per_message = 2\n",
    );
    s.add_user("bob@example.test");
    s.add_user("carl@example.test");
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
    assert_eq!(c.cmd("MAIL FROM:<alice@example.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@example.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<carl@example.test>").code, 250);
    let third = c.cmd("RCPT TO:<alice@example.test>");
    assert_eq!(third.code, 452, "{}", third.text());
    assert!(third.text().contains("4.5.3"), "{}", third.text());
    assert_eq!(c.cmd("RSET").code, 250);
    let body = "Subject: x\r\n\r\nx\r\n";
    assert_eq!(
        c.send_mail("alice@example.test", &["bob@example.test"], body)
            .code,
        250
    );
    assert_eq!(
        c.send_mail("alice@example.test", &["bob@example.test"], body)
            .code,
        250
    );
    let over = c.cmd("MAIL FROM:<alice@example.test>");
    assert_eq!(over.code, 550, "{}", over.text());
    assert!(
        over.text().contains("5.4.5") && over.text().contains("2 messages"),
        "{}",
        over.text()
    );
    // Other users have their own count; unauthenticated inbound mail is not limited.
    let (mut b, _) = Client::connect_tls(s.submissions);
    b.ehlo();
    assert_eq!(b.auth_plain("bob@example.test", PASSWORD).code, 235);
    assert_eq!(
        b.send_mail("bob@example.test", &["alice@example.test"], body)
            .code,
        250
    );
}

/// dns check: every verdict passes for a correct zone and fails, with the line to publish, for
/// a broken one.
#[test]
fn dns_check_verdicts_for_a_correct_and_a_broken_zone() {
    let mut dns = DnsServer::reserve();
    // The public address is only looked up, never contacted: a documentation address does.
    let listeners = "hostname = \"mx.test.example\"\n[listeners]\nsmtp = [\"127.0.26.1:25\"]\n\
         submission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\n\
         pop3 = [\"127.0.0.1:0\"]\npop3s = [\"127.0.0.1:0\"]\n\
         imap = [\"127.0.0.1:0\"]\nimaps = [\"127.0.0.1:0\"]\n";
    let s = Server::start_config(&format!(
        "{listeners}{}public_ip = \"203.0.113.10\"\n",
        dns.config()
    ));
    s.ok(&["domain", "add", "good.test"]);
    s.ok(&["domain", "add", "bad.test"]);
    s.ok(&["dkim", "generate", "good.test", "--selector", "s1"]);
    s.ok(&[
        "dkim",
        "generate",
        "bad.test",
        "--selector",
        "s1",
        "--bits",
        "0",
    ]);
    let good: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "dkim", "show", "good.test"])).unwrap();
    let host = "mx.test.example";
    dns.serve(
        &Zone::new()
            .mx("good.test", host, 10)
            .mx("good.test", "backup.good.test", 20)
            .a(host, "203.0.113.10")
            .ptr("203.0.113.10", host)
            .txt("good.test", "v=spf1 mx -all")
            .txt(
                good["record_name"].as_str().unwrap(),
                good["record_text"].as_str().unwrap(),
            )
            .txt("_dmarc.good.test", "v=DMARC1; p=reject")
            .mx("bad.test", "mx.elsewhere.test", 10)
            .txt("bad.test", "v=spf1 ip4:192.0.2.1 -all")
            .txt("s1._domainkey.bad.test", "v=DKIM1; k=ed25519; p=AAAA")
            .a("wrong.test.example", "203.0.113.99")
            .ptr("203.0.113.99", "wrong.test.example"),
    );
    let report: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "dns", "check"])).unwrap();
    let verdict = |domain: Option<&str>, name: &str| -> (String, serde_json::Value) {
        let checks = match domain {
            None => report["host"].clone(),
            Some(d) => report["domains"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["domain"] == d)
                .unwrap()["checks"]
                .clone(),
        };
        let c = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {checks}"))
            .clone();
        (c["verdict"].as_str().unwrap().to_string(), c)
    };
    assert_eq!(report["public_ip"], "203.0.113.10");
    assert_eq!(verdict(None, "A").0, "pass", "{report:#}");
    assert_eq!(verdict(None, "PTR").0, "pass", "{report:#}");
    for name in ["MX", "SPF", "DKIM", "DMARC"] {
        assert_eq!(
            verdict(Some("good.test"), name).0,
            "pass",
            "{name}: {report:#}"
        );
    }
    assert!(
        verdict(Some("good.test"), "MX").1["reason"]
            .as_str()
            .unwrap()
            .contains("backup.good.test (priority 20)")
    );
    assert_eq!(verdict(Some("good.test"), "MTA-STS").0, "info");
    let (mx, c) = verdict(Some("bad.test"), "MX");
    assert_eq!(mx, "fail");
    assert_eq!(c["fix"][0], "bad.test. 3600 IN MX 10 mx.test.example.");
    let (spf, c) = verdict(Some("bad.test"), "SPF");
    assert_eq!(spf, "fail", "{c}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("does not permit 203.0.113.10"),
        "{c}"
    );
    let (dkim, c) = verdict(Some("bad.test"), "DKIM");
    assert_eq!(dkim, "fail", "{c}");
    assert!(
        c["fix"][0]
            .as_str()
            .unwrap()
            .starts_with("s1._domainkey.bad.test. 3600 IN TXT")
    );
    assert_eq!(verdict(Some("bad.test"), "DMARC").0, "warn");
    let ports = report["ports"].as_array().unwrap();
    let smtp = ports.iter().find(|p| p["service"] == "smtp").unwrap();
    assert_eq!(smtp["standard_port"], 25);
    assert_eq!(smtp["listening"], true, "{smtp}");
    assert_eq!(ports.len(), 7);

    // The same server seen from a wrong public address: A and PTR fail with the fix.
    let other = s.dir.0.join("other.toml");
    std::fs::write(
        &other,
        base_config(&format!("{}public_ip = \"203.0.113.99\"\n", dns.config())),
    )
    .unwrap();
    let out = Command::new(common::roost_bin())
        .arg("--config")
        .arg(&other)
        .arg("--data")
        .arg(&s.data)
        .args(["dns", "check", "good.test"])
        .output()
        .unwrap();
    let t = text(&out.stdout);
    assert!(out.status.success(), "{t} {}", text(&out.stderr));
    assert!(t.contains("FAIL A"), "{t}");
    assert!(
        t.contains("publish: mx.test.example. 3600 IN A 203.0.113.99"),
        "{t}"
    );
    assert!(
        t.contains("FAIL PTR") && t.contains("is wrong.test.example, not mx.test.example"),
        "{t}"
    );
    assert!(
        t.contains("99.113.0.203.in-addr.arpa. 3600 IN PTR mx.test.example."),
        "{t}"
    );
    assert!(t.contains("SERVICE"), "port table: {t}");
}

/// Debian's Postfix as a remote MX, through tests/support/postfix-mx.
struct Postfix {
    dir: TempDir,
}

impl Postfix {
    fn start(addr: &str, domain: &str) -> Postfix {
        let dir = TempDir::new("postfix");
        let out = Command::new(support("postfix-mx"))
            .arg("start")
            .arg(&dir.0)
            .arg(addr)
            .arg(domain)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postfix-mx start: {} {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Postfix { dir }
    }

    fn messages(&self, domain: &str, user: &str) -> Vec<Vec<u8>> {
        let new = self.dir.0.join("mail").join(domain).join(user).join("new");
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(new) {
            for e in entries.flatten() {
                if let Ok(b) = std::fs::read(e.path()) {
                    out.push(b);
                }
            }
        }
        out
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(support("postfix-mx"))
            .arg("stop")
            .arg(&self.dir.0)
            .output();
    }
}

fn support(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/support")
        .join(name)
}
