//! POP3 (pop3 with STLS, pop3s): the whole command set with exact replies, deletions only at
//! QUIT, stable UIDLs, the IN-USE lock, and Python's poplib and curl as clients.

mod common;

use common::smtp::Client;
use common::{PASSWORD, Server, have, server_with_users};
use std::process::Command;

/// Delivers `n` small messages to alice over SMTP.
fn deliver(s: &Server, n: usize) {
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for i in 1..=n {
        let body = format!("Subject: message {i}\n\nline one of {i}\n.dotted line\nline three\n");
        assert_eq!(
            c.send_mail("x@remote.test", &["alice@example.test"], &body)
                .code,
            250
        );
    }
}

/// A logged-in POP3 session over implicit TLS.
fn login(s: &Server) -> Client {
    let (mut c, g) = Client::connect_tls_line(s.pop3s);
    assert!(g.starts_with("+OK"), "{g}");
    assert_eq!(c.line("USER alice@example.test"), "+OK send PASS");
    let r = c.line(&format!("PASS {PASSWORD}"));
    assert!(r.starts_with("+OK alice@example.test has"), "{r}");
    c
}

#[test]
fn plain_pop3_needs_stls_before_passwords() {
    let s = server_with_users("");
    let (mut c, g) = Client::connect_line(s.pop3);
    assert_eq!(g, "+OK Roost POP3 server ready");
    c.send(b"CAPA\r\n");
    assert_eq!(c.read_line().unwrap(), "+OK capability list follows");
    assert_eq!(
        c.multiline(),
        [
            "TOP",
            "UIDL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "STLS",
            "IMPLEMENTATION Roost"
        ]
    );
    assert!(
        c.line("USER alice@example.test")
            .starts_with("-ERR [AUTH] Plaintext authentication disallowed")
    );
    assert!(c.line("STAT").starts_with("-ERR log in first"));
    assert_eq!(c.line("STLS"), "+OK begin TLS negotiation");
    c.upgrade_tls();
    c.send(b"CAPA\r\n");
    c.read_line();
    let caps = c.multiline();
    assert!(
        caps.contains(&"USER".to_string())
            && caps.contains(&"SASL PLAIN".to_string())
            && !caps.contains(&"STLS".to_string()),
        "{caps:?}"
    );
    assert_eq!(c.line("USER alice@example.test"), "+OK send PASS");
    assert!(c.line(&format!("PASS {PASSWORD}")).starts_with("+OK"));
}

#[test]
fn the_command_set_with_exact_replies() {
    let s = server_with_users("");
    deliver(&s, 3);
    let sizes: Vec<usize> = s
        .inbox("alice@example.test")
        .iter()
        .map(|m| m.len())
        .collect();
    let mut c = login(&s);
    let total: usize = sizes.iter().sum();
    assert_eq!(c.line("STAT"), format!("+OK 3 {total}"));
    assert_eq!(c.line("LIST"), "+OK 3 messages");
    assert_eq!(
        c.multiline(),
        [
            format!("1 {}", sizes[0]),
            format!("2 {}", sizes[1]),
            format!("3 {}", sizes[2])
        ]
    );
    assert_eq!(c.line("LIST 2"), format!("+OK 2 {}", sizes[1]));
    assert_eq!(c.line("LIST 9"), "-ERR no such message");
    assert_eq!(c.line("UIDL"), "+OK unique-id listing follows");
    let uidls = c.multiline();
    assert_eq!(uidls.len(), 3);
    assert!(
        uidls[0].starts_with("1 00000001") && uidls[2].starts_with("3 00000003"),
        "{uidls:?}"
    );
    assert_eq!(c.line("RETR 2"), format!("+OK {} octets", sizes[1]));
    let msg = c.multiline();
    assert_eq!(msg.last().unwrap(), "line three");
    assert!(
        msg.contains(&"..dotted line".to_string()),
        "dot-stuffed on the wire: {msg:?}"
    );
    assert!(msg.contains(&"Subject: message 2".to_string()));
    assert!(c.line("TOP 1 1").starts_with("+OK"));
    let top = c.multiline();
    let blank = top.iter().position(|l| l.is_empty()).unwrap();
    assert_eq!(&top[blank + 1..], ["line one of 1"]);
    assert_eq!(c.line("DELE 1"), "+OK message 1 deleted");
    assert_eq!(c.line("DELE 1"), "-ERR message is deleted");
    assert_eq!(c.line("RETR 1"), "-ERR message is deleted");
    assert_eq!(c.line("STAT"), format!("+OK 2 {}", sizes[1] + sizes[2]));
    assert_eq!(c.line("RSET"), "+OK 3 messages");
    assert_eq!(c.line("DELE 3"), "+OK message 3 deleted");
    assert_eq!(c.line("NOOP"), "+OK");
    // Nothing is removed before QUIT.
    assert_eq!(s.message_count("alice@example.test"), 3);
    assert_eq!(
        c.line("QUIT"),
        "+OK Roost POP3 server signing off (1 messages deleted)"
    );
    assert!(c.is_closed());
    assert_eq!(s.message_count("alice@example.test"), 2);

    // UIDLs are stable: the same messages keep theirs in the next session (3 was deleted).
    let mut c = login(&s);
    c.line("UIDL");
    let ids = |v: &[String]| {
        v.iter()
            .map(|l| l.split(' ').nth(1).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&c.multiline()), ids(&uidls[..2]));
}

#[test]
fn a_dropped_connection_deletes_nothing_and_a_second_session_is_in_use() {
    let s = server_with_users("");
    deliver(&s, 2);
    let mut first = login(&s);
    assert_eq!(first.line("DELE 1"), "+OK message 1 deleted");
    let (mut second, _) = Client::connect_tls_line(s.pop3s);
    second.line("USER alice@example.test");
    assert_eq!(
        second.line(&format!("PASS {PASSWORD}")),
        "-ERR [IN-USE] this mailbox is already open in another POP3 session"
    );
    drop(first);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        s.message_count("alice@example.test"),
        2,
        "no QUIT, no deletion"
    );
    second.line("USER alice@example.test");
    assert!(
        second.line(&format!("PASS {PASSWORD}")).starts_with("+OK"),
        "the lock went with the connection"
    );
}

#[test]
fn auth_plain_bad_passwords_and_bad_commands() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect_tls_line(s.pop3s);
    assert_eq!(c.line("AUTH"), "+OK");
    assert_eq!(c.multiline(), ["PLAIN"]);
    assert_eq!(
        c.line("AUTH CRAM-MD5"),
        "-ERR unsupported mechanism; use PLAIN"
    );
    c.line("USER alice@example.test");
    assert_eq!(
        c.line("PASS wrong-password"),
        "-ERR [AUTH] authentication failed"
    );
    assert_eq!(
        c.line("RETR 1"),
        "-ERR log in first (USER/PASS or AUTH PLAIN)"
    );
    assert_eq!(c.line("FROB"), "-ERR unknown command");
    assert_eq!(c.line("AUTH PLAIN"), "+ ");
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("\0bob@example.test\0{PASSWORD}"));
    assert!(
        c.line(&token)
            .starts_with("+OK bob@example.test has 0 message(s)")
    );
    assert_eq!(
        c.line("RETR 0"),
        "-ERR message numbers are whole numbers from 1"
    );
    assert_eq!(c.line(&"X".repeat(5000)), "-ERR line too long");
    assert_eq!(
        c.line("QUIT"),
        "+OK Roost POP3 server signing off (0 messages deleted)"
    );
    let log = s.wait_log("authentication failed");
    assert!(log.contains("service=\"pop3s\""), "{log}");
}

#[test]
fn python_poplib() {
    let s = server_with_users("");
    deliver(&s, 3);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/poplib_client.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args([
            s.pop3.to_string(),
            s.pop3s.to_string(),
            PASSWORD.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.message_count("alice@example.test"),
        2,
        "the script deleted one message"
    );
}

#[test]
fn curl_lists_and_retrieves() {
    assert!(have("curl"), "curl is needed (scripts/test installs it)");
    let s = server_with_users("");
    deliver(&s, 2);
    let user = format!("alice@example.test:{PASSWORD}");
    let list = Command::new("curl")
        .args([
            "-sS",
            "--ssl-reqd",
            "-k",
            "-u",
            &user,
            &format!("pop3://{}/", s.pop3),
        ])
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    let msg = Command::new("curl")
        .args(["-sS", "-k", "-u", &user, &format!("pop3s://{}/2", s.pop3s)])
        .output()
        .unwrap();
    assert!(
        msg.status.success(),
        "{}",
        String::from_utf8_lossy(&msg.stderr)
    );
    assert!(String::from_utf8_lossy(&msg.stdout).contains("Subject: message 2"));
}
