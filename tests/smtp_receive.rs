//! Receiving mail on the `smtp` listener: routing to accounts, domain aliases, aliases, groups,
//! catch-alls, sub-addresses; refusals with their exact codes; trace headers; BDAT; limits.

mod common;

use common::smtp::Client;
use common::{Server, server_with_users};

fn body_of(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg).into_owned()
}

#[test]
fn greeting_and_ehlo_capabilities() {
    let s = Server::start();
    let (mut c, greeting) = Client::connect(s.smtp);
    assert_eq!(greeting.code, 220);
    assert!(
        greeting.text().starts_with("mx.test.example ESMTP"),
        "{greeting:?}"
    );
    let r = c.ehlo();
    assert_eq!(
        r.lines,
        [
            "mx.test.example Hello client.test",
            "PIPELINING",
            "SIZE 52428800",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SMTPUTF8",
            "CHUNKING",
            "STARTTLS",
            "HELP"
        ],
        "no AUTH before TLS on port 25"
    );
    assert_eq!(c.cmd("NOOP").status(), "250 2.0.0");
    assert_eq!(c.cmd("VRFY alice").status(), "252 2.5.2");
    assert_eq!(c.cmd("EXPN staff").status(), "502 5.5.1");
    assert_eq!(c.cmd("QUIT").status(), "221 2.0.0");
}

#[test]
fn delivers_to_a_local_account_with_trace_headers() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = c.send_mail(
        "sender@remote.test",
        &["alice@example.test"],
        "Subject: hello\n\nfirst line\n.leading dot\n",
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert!(r.text().contains("queued as"), "{r:?}");
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 1);
    let m = body_of(&inbox[0]);
    assert!(m.starts_with("Return-Path: <sender@remote.test>\r\nReceived: from client.test ([127.0.0.1])\r\n\tby mx.test.example (Roost) with ESMTP id "), "{m}");
    assert!(m.contains("\tfor <alice@example.test>;"), "{m}");
    assert!(
        m.ends_with("Subject: hello\r\n\r\nfirst line\r\n.leading dot\r\n"),
        "dot-unstuffed: {m}"
    );
    let log = s.wait_log("result=250 2.0.0 OK queued as");
    assert!(log.contains("client=127.0.0.1 service=smtp tls=no auth=- from=<sender@remote.test> rcpts=<alice@example.test> 250 2.1.5"), "{log}");
    assert_eq!(s.message_count("bob@example.test"), 0);

    // What IMAP will stand on: the default mailboxes with their special use, UIDs from 1,
    // UIDNEXT and the modification sequence moved on by the delivery.
    let boxes = common::mailboxes(&s.data, "alice@example.test");
    let names: Vec<(&str, Option<&str>)> = boxes
        .iter()
        .map(|b| (b.0.as_str(), b.1.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("INBOX", None),
            ("Sent", Some("\\Sent")),
            ("Drafts", Some("\\Drafts")),
            ("Trash", Some("\\Trash")),
            ("Junk", Some("\\Junk")),
            ("Archive", Some("\\Archive"))
        ]
    );
    let (_, _, uidvalidity, uidnext, modseq) = boxes[0];
    assert!(uidvalidity > 0);
    assert_eq!((uidnext, modseq), (2, 2));
    let uidvalidities: std::collections::BTreeSet<i64> = boxes.iter().map(|b| b.2).collect();
    assert_eq!(uidvalidities.len(), 6, "each mailbox its own UIDVALIDITY");
}

#[test]
fn one_blob_is_shared_by_all_local_recipients() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = c.send_mail(
        "x@remote.test",
        &["alice@example.test", "bob@example.test"],
        "Subject: both\n\nhi\n",
    );
    assert_eq!(r.code, 250);
    let files: Vec<_> = walk(&s.data.join("blobs"));
    assert_eq!(files.len(), 1, "one file for two recipients: {files:?}");
    let a = s.inbox("alice@example.test");
    let b = s.inbox("bob@example.test");
    assert_eq!(a, b);
    assert!(
        !body_of(&a[0]).contains("\tfor <"),
        "no single 'for' with two recipients"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn refusals_have_the_right_codes() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.test>").status(),
        "503 5.5.1",
        "RCPT before MAIL"
    );
    assert_eq!(c.cmd("DATA").status(), "503 5.5.1");
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(
        c.cmd("MAIL FROM:<x@remote.test>").status(),
        "503 5.5.1",
        "nested MAIL"
    );
    assert_eq!(c.cmd("RCPT TO:<nobody@example.test>").status(), "550 5.1.1");
    assert_eq!(
        c.cmd("RCPT TO:<someone@elsewhere.test>").status(),
        "554 5.7.1",
        "no open relay"
    );
    assert_eq!(c.cmd("DATA").status(), "554 5.5.1", "no valid recipients");
    assert_eq!(c.cmd("RSET").status(), "250 2.0.0");
    assert_eq!(
        c.cmd("MAIL FROM:<x@remote.test> SIZE=999999999999")
            .status(),
        "552 5.3.4"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<x@remote.test> FROB=1").status(),
        "555 5.5.4"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<用户@remote.test>").status(),
        "553 5.6.7",
        "UTF-8 needs SMTPUTF8"
    );
    assert_eq!(c.cmd("FROB").status(), "500 5.5.1");
    assert_eq!(c.cmd("MAIL FROM:x@remote.test").status(), "501 5.5.4");
}

#[test]
fn domain_aliases_aliases_groups_catchall_and_subaddresses() {
    let s = server_with_users("");
    s.ok(&["domain", "add", "family.test"]);
    s.ok(&["domain", "alias", "add", "example.org", "example.test"]);
    s.ok(&[
        "alias",
        "add",
        "info@example.test",
        "alice@example.test",
        "bob@example.test",
        "friend@outside.test",
    ]);
    s.ok(&["group", "add", "staff", "--address", "staff@example.test"]);
    s.ok(&[
        "group",
        "member",
        "add",
        "staff",
        "alice@example.test",
        "bob@example.test",
    ]);
    s.ok(&[
        "domain",
        "catchall",
        "set",
        "family.test",
        "bob@example.test",
    ]);

    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for (rcpt, alice, bob) in [
        ("alice@example.org", 1, 0),
        ("ALICE+news@Example.Test", 2, 0),
        ("info@example.test", 3, 1),
        ("staff@example.test", 4, 2),
        ("anything@family.test", 4, 3),
    ] {
        let r = c.send_mail("x@remote.test", &[rcpt], "Subject: routed\n\nhi\n");
        assert_eq!(r.code, 250, "{rcpt}: {r:?}");
        assert_eq!(s.message_count("alice@example.test"), alice, "{rcpt}");
        assert_eq!(s.message_count("bob@example.test"), bob, "{rcpt}");
    }
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(
        c.cmd("RCPT TO:<nobody@example.org>").status(),
        "550 5.1.1",
        "no catch-all on example.test"
    );
    // The alias's outside target went to the outbound queue, not dropped.
    let q: serde_json::Value = serde_json::from_str(&s.ok(&["queue", "list", "--json"])).unwrap();
    let q = q.as_array().unwrap();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["recipients"][0]["address"], "friend@outside.test");
    // Waiting for its first attempt, being tried, or deferred (the tests have no DNS).
    let state = q[0]["recipients"][0]["state"].as_str().unwrap();
    assert!(["queued", "active", "deferred"].contains(&state), "{state}");
}

#[test]
fn disabled_account_and_quota() {
    let s = server_with_users("");
    s.ok(&["user", "disable", "bob@example.test"]);
    s.add_user("carol@example.test");
    s.ok(&["user", "quota", "carol@example.test", "2K"]);
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@example.test>").status(), "550 5.2.1");
    c.cmd("RSET");
    // A message alone larger than the quota: 552 5.2.2, declared or not.
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test> SIZE=5000").code, 250);
    assert_eq!(c.cmd("RCPT TO:<carol@example.test>").status(), "552 5.2.2");
    c.cmd("RSET");
    let big = format!("Subject: big\n\n{}\n", "x".repeat(3000));
    assert_eq!(
        c.send_mail("x@remote.test", &["carol@example.test"], &big)
            .status(),
        "552 5.2.2"
    );
    // Fill the mailbox, then the next message is refused for now (452 4.2.2).
    let mid = format!("Subject: mid\n\n{}\n", "y".repeat(1200));
    assert_eq!(
        c.send_mail("x@remote.test", &["carol@example.test"], &mid)
            .code,
        250
    );
    assert_eq!(
        c.send_mail("x@remote.test", &["carol@example.test"], &mid)
            .status(),
        "452 4.2.2"
    );
    assert_eq!(s.message_count("carol@example.test"), 1);
}

#[test]
fn too_many_recipients_and_mail_loops() {
    let s = server_with_users("[smtp]\nmax_recipients = 3\nmax_received_headers = 5\n");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    for _ in 0..3 {
        assert_eq!(c.cmd("RCPT TO:<alice@example.test>").code, 250);
    }
    assert_eq!(c.cmd("RCPT TO:<bob@example.test>").status(), "452 4.5.3");
    c.cmd("RSET");
    let looped = format!(
        "{}Subject: loop\n\nx\n",
        "Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\n".repeat(5)
    );
    assert_eq!(
        c.send_mail("x@remote.test", &["alice@example.test"], &looped)
            .status(),
        "554 5.4.6"
    );
    assert_eq!(s.message_count("alice@example.test"), 0);
}

#[test]
fn bdat_chunking_and_size_limit() {
    let s = server_with_users("[smtp]\nmax_message_size = \"2K\"\n");
    let (mut c, _) = Client::connect(s.smtp);
    let ehlo = c.ehlo();
    assert!(ehlo.lines.contains(&"SIZE 2048".to_string()));
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<alice@example.test>").code, 250);
    let part1 = b"Subject: chunks\r\n\r\nline one\r\n.not stuffed\r\n";
    let part2 = b"bare\nlf line\r\n";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    assert_eq!(c.read_reply().status(), "250 2.0.0");
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    assert_eq!(c.read_reply().status(), "250 2.0.0");
    let m = body_of(&s.inbox("alice@example.test")[0]);
    assert!(
        m.ends_with("Subject: chunks\r\n\r\nline one\r\n.not stuffed\r\nbare\r\nlf line\r\n"),
        "{m}"
    );
    assert!(m.contains(" with ESMTP id "));

    // Over the limit by BDAT: the chunk is read and thrown away, then 552.
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<alice@example.test>").code, 250);
    let big = vec![b'z'; 3000];
    c.send(format!("BDAT {} LAST\r\n", big.len()).as_bytes());
    c.send(&big);
    assert_eq!(c.read_reply().status(), "552 5.3.4");
    // Over the limit by DATA.
    let r = c.send_mail("x@remote.test", &["alice@example.test"], &"w".repeat(3000));
    assert_eq!(r.status(), "552 5.3.4");
    // BDAT without a transaction: the chunk is still consumed, the session stays in sync.
    c.send(b"BDAT 5 LAST\r\nhello");
    assert_eq!(c.read_reply().status(), "503 5.5.1");
    assert_eq!(c.cmd("NOOP").code, 250);
    assert_eq!(s.message_count("alice@example.test"), 1);
}

#[test]
fn pipelined_transactions_get_all_their_replies() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    c.send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
    let codes: Vec<u16> = (0..5).map(|_| c.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    let codes: Vec<u16> = (0..4).map(|_| c.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 250, 354]);
    c.send(b"Subject: second\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert_eq!(c.read_reply().code, 250);
    assert_eq!(c.read_reply().code, 221);
    assert_eq!(s.message_count("alice@example.test"), 2);
    assert_eq!(s.message_count("bob@example.test"), 1);
}

#[test]
fn postmaster_reaches_the_admins_in_every_domain() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(
        c.cmd("MAIL FROM:<>").code,
        250,
        "null sender (bounces) is accepted"
    );
    assert_eq!(
        c.cmd("RCPT TO:<Postmaster>").status(),
        "250 2.1.5",
        "RFC 5321 4.5.1"
    );
    assert_eq!(
        c.cmd("RCPT TO:<postmaster@example.test>").status(),
        "250 2.1.5"
    );
    assert_eq!(c.cmd("DATA").code, 354);
    c.send(b"Subject: to postmaster\r\n\r\nhi\r\n.\r\n");
    assert_eq!(c.read_reply().code, 250);
    // The first admin was made at first start in the host's domain; both recipients are it.
    assert_eq!(s.message_count("admin@test.example"), 1);
    // An alias takes precedence over the default.
    s.ok(&[
        "alias",
        "add",
        "postmaster@example.test",
        "alice@example.test",
    ]);
    assert_eq!(
        c.send_mail(
            "x@remote.test",
            &["postmaster@example.test"],
            "Subject: pm\n\nhi\n"
        )
        .code,
        250
    );
    assert_eq!(s.message_count("alice@example.test"), 1);
}
