//! Submission (587 with STARTTLS, 465 with implicit TLS): authentication, who may send as whom,
//! relaying for logged-in users into the outbound queue, and failed-login counting.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::smtp::Client;
use common::{PASSWORD, server_with_users};

#[test]
fn submission_needs_tls_before_auth_and_auth_before_mail() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.submission);
    let ehlo = c.ehlo();
    assert!(ehlo.lines.contains(&"STARTTLS".into()));
    assert!(
        !ehlo.lines.iter().any(|l| l.starts_with("AUTH")),
        "no AUTH offered in clear text: {ehlo:?}"
    );
    assert_eq!(
        c.auth_plain("alice@example.test", PASSWORD).status(),
        "538 5.7.11"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.test>").status(),
        "530 5.7.0"
    );
    c.starttls();
    let ehlo = c.ehlo();
    assert!(ehlo.lines.contains(&"AUTH PLAIN LOGIN".into()), "{ehlo:?}");
    assert!(!ehlo.lines.contains(&"STARTTLS".into()));
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.test>").status(),
        "530 5.7.0"
    );
    assert_eq!(
        c.auth_plain("alice@example.test", PASSWORD).status(),
        "235 2.7.0"
    );
    assert_eq!(c.cmd("AUTH PLAIN AGAIN").status(), "503 5.5.1");
    let r = c.send_mail(
        "alice@example.test",
        &["bob@example.test", "friend@elsewhere.test"],
        "Subject: out\n\nhi\n",
    );
    assert_eq!(r.status(), "250 2.0.0", "{r:?}");
    assert_eq!(s.message_count("bob@example.test"), 1);
    let q: serde_json::Value = serde_json::from_str(&s.ok(&["queue", "list", "--json"])).unwrap();
    let entry = &q.as_array().unwrap()[0];
    assert_eq!(entry["sender"], "alice@example.test");
    assert_eq!(entry["auth_user"], "alice@example.test");
    assert_eq!(entry["recipients"].as_array().unwrap().len(), 1);
    assert_eq!(entry["recipients"][0]["address"], "friend@elsewhere.test");
    let text = s.ok(&["queue", "list"]);
    assert!(
        text.contains("friend@elsewhere.test")
            && ["queued", "active", "deferred"]
                .iter()
                .any(|st| text.contains(st)),
        "{text}"
    );
    let log = s.wait_log("auth=alice@example.test");
    assert!(log.contains("tls=TLSv1.3"), "{log}");
}

#[test]
fn sender_must_belong_to_the_user() {
    let s = server_with_users("");
    s.ok(&["domain", "alias", "add", "example.org", "example.test"]);
    s.ok(&["alias", "add", "sales@example.test", "alice@example.test"]);
    s.ok(&[
        "domain",
        "catchall",
        "set",
        "example.test",
        "alice@example.test",
    ]);
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
    for own in [
        "alice@example.test",
        "Alice@example.org",
        "alice+tag@example.test",
        "sales@example.test",
    ] {
        assert_eq!(c.cmd(&format!("MAIL FROM:<{own}>")).code, 250, "{own}");
        c.cmd("RSET");
    }
    for other in [
        "bob@example.test",
        "made-up@example.test",
        "someone@elsewhere.test",
        "",
    ] {
        let r = c.cmd(&format!("MAIL FROM:<{other}>"));
        assert_eq!(r.status(), "553 5.7.1", "{other}: {r:?}");
    }
}

/// The From: of what a signed-in user sends must be theirs too: otherwise alice could send
/// "From: ceo@b.test" and Roost would DKIM-sign it for b.test, passing DMARC.
#[test]
fn from_header_spoofing_is_refused() {
    let s = server_with_users("");
    s.ok(&["domain", "add", "b.test"]);
    s.add_user("ceo@b.test");
    s.ok(&["dkim", "generate", "b.test", "--bits", "0"]);
    s.ok(&["alias", "add", "sales@example.test", "alice@example.test"]);
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
    let send = |c: &mut Client, from_header: &str, to: &str| {
        let body = format!("{from_header}To: {to}\r\nSubject: hi\r\n\r\nhello\r\n");
        c.send_mail("alice@example.test", &[to], &body)
    };
    for spoof in [
        "From: The CEO <ceo@b.test>\r\n",
        "From: alice@example.test, ceo@b.test\r\n",
        "From: \"alice@example.test\" <ceo@b.test>\r\n",
        "From: alice@example.test\r\nFrom: ceo@b.test\r\n",
        "From:\r\n ceo@B.TEST\r\n",
        "From: ;\r\n",
    ] {
        for to in ["bob@example.test", "someone@far.test"] {
            let r = send(&mut c, spoof, to);
            assert_eq!(r.status(), "550 5.7.1", "{spoof:?} to {to}: {r:?}");
        }
    }
    assert_eq!(s.message_count("bob@example.test"), 0, "nothing delivered");
    let queue = s.ok(&["queue", "list", "--json"]);
    assert!(!queue.contains("far.test"), "nothing queued: {queue}");
    // Her own addresses, an alias of hers, and a display name that only looks like another
    // address, are fine.
    for own in [
        "From: Alice <alice@example.test>\r\n",
        "From: sales@example.test\r\n",
        "From: \"ceo@b.test\" <alice@example.test>\r\n",
    ] {
        assert_eq!(send(&mut c, own, "bob@example.test").code, 250, "{own:?}");
    }
    assert_eq!(s.message_count("bob@example.test"), 3);
    let log = s.wait_log("is not an address of the logged-in user");
    assert!(log.contains("ceo@b.test"), "{log}");
}

#[test]
fn auth_login_and_plain_with_continuation() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.submission);
    c.ehlo();
    c.starttls();
    c.ehlo();
    let r = c.cmd("AUTH LOGIN");
    assert_eq!((r.code, r.text()), (334, "VXNlcm5hbWU6".to_string()));
    assert_eq!(c.cmd(&B64.encode("bob@example.test")).code, 334);
    assert_eq!(c.cmd(&B64.encode(PASSWORD)).status(), "235 2.7.0");

    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(c.cmd("AUTH PLAIN").code, 334);
    assert_eq!(c.cmd("*").status(), "501 5.0.0", "cancelled");
    assert_eq!(c.cmd("AUTH CRAM-MD5").status(), "504 5.5.4");
    assert_eq!(c.cmd("AUTH PLAIN !!!notbase64").status(), "501 5.5.2");
    assert_eq!(c.cmd("AUTH PLAIN").code, 334);
    assert_eq!(
        c.cmd(&B64.encode(format!("\0alice@example.test\0{PASSWORD}")))
            .status(),
        "235 2.7.0"
    );
}

#[test]
fn failed_logins_are_logged_and_block_the_address() {
    let s = server_with_users("[auth]\nmax_failures = 3\n");
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    for _ in 0..3 {
        assert_eq!(
            c.auth_plain("alice@example.test", "wrong-password")
                .status(),
            "535 5.7.8"
        );
    }
    assert_eq!(
        c.auth_plain("nosuch@example.test", PASSWORD).status(),
        "454 4.7.0",
        "blocked now"
    );
    assert_eq!(
        c.auth_plain("alice@example.test", PASSWORD).status(),
        "454 4.7.0",
        "even with the right password"
    );
    let log = s.wait_log("authentication failed");
    assert!(
        log.contains(
            "client=127.0.0.1 user=alice@example.test mechanism=\"PLAIN\" service=\"submissions\""
        ),
        "{log}"
    );
    assert!(log.contains("blocked=true"), "{log}");
}

#[test]
fn disabled_users_cannot_log_in() {
    let s = server_with_users("");
    s.ok(&["user", "disable", "bob@example.test"]);
    let (mut c, _) = Client::connect_tls(s.submissions);
    c.ehlo();
    assert_eq!(
        c.auth_plain("bob@example.test", PASSWORD).status(),
        "535 5.7.8"
    );
    s.ok(&["user", "enable", "bob@example.test"]);
    assert_eq!(
        c.auth_plain("bob@example.test", PASSWORD).status(),
        "235 2.7.0"
    );
}

#[test]
fn port_25_offers_auth_after_starttls_and_relays_only_when_authenticated() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    c.starttls();
    let ehlo = c.ehlo();
    assert!(ehlo.lines.contains(&"AUTH PLAIN LOGIN".into()));
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<y@elsewhere.test>").status(), "554 5.7.1");
    c.cmd("RSET");
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
    assert_eq!(
        c.send_mail(
            "alice@example.test",
            &["y@elsewhere.test"],
            "Subject: r\n\nx\n"
        )
        .code,
        250
    );
}

#[test]
fn plain_text_auth_on_loopback_when_allowed() {
    let s = server_with_users("[auth]\nallow_plaintext_on_loopback = true\n");
    let (mut c, _) = Client::connect(s.submission);
    let ehlo = c.ehlo();
    assert!(ehlo.lines.contains(&"AUTH PLAIN LOGIN".into()), "{ehlo:?}");
    assert_eq!(c.auth_plain("alice@example.test", PASSWORD).code, 235);
}
