//! Hostile input against POP3: long lines, floods before login, broken SASL; the daemon stays
//! up and another client is served.

mod common;

use common::smtp::Client;
use common::{PASSWORD, Server, server_with_users};

fn healthy(s: &Server) {
    let (mut c, g) = Client::connect_tls_line(s.pop3s);
    assert!(g.starts_with("+OK"), "{g}");
    assert!(c.line("USER bob@example.test").starts_with("+OK"));
    assert!(c.line(&format!("PASS {PASSWORD}")).starts_with("+OK"));
    assert!(c.line("STAT").starts_with("+OK"));
    assert!(c.line("QUIT").starts_with("+OK"));
}

#[test]
fn long_lines_floods_and_broken_sasl() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect_tls_line(s.pop3s);
    let long = "A".repeat(100_000);
    assert!(c.line(&long).starts_with("-ERR"), "line too long");
    assert!(c.line("AUTH PLAIN ****").starts_with("-ERR"));
    assert!(c.line("AUTH PLAIN AGFsaWNlAA==").starts_with("-ERR"));
    assert!(c.line("CAPA").starts_with("+OK"));
    // Endless commands without a login end the connection.
    let mut flood = Client::connect_tls_line(s.pop3s).0;
    flood.send(&b"NOOP\r\n".repeat(80));
    let mut last = String::new();
    while let Some(l) = flood.read_line() {
        last = l;
    }
    assert_eq!(last, "-ERR too many commands without logging in");
    healthy(&s);
}

/// RETR of a message larger than the message memory budget still comes out whole.
#[test]
fn retr_larger_than_the_memory_budget() {
    let s = server_with_users("[limits]\nmessage_memory = \"1M\"\nmessage_in_memory = \"256K\"\n");
    let body = format!("Subject: big\r\n\r\n{}", "0123456789\r\n".repeat(200_000));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(
        c.send_mail("x@remote.test", &["bob@example.test"], &body)
            .code,
        250
    );
    let (mut p, _) = Client::connect_tls_line(s.pop3s);
    assert!(p.line("USER bob@example.test").starts_with("+OK"));
    assert!(p.line(&format!("PASS {PASSWORD}")).starts_with("+OK"));
    assert!(p.line("RETR 1").starts_with("+OK"));
    let mut got = 0;
    let mut lines = 0;
    while let Some(l) = p.read_line() {
        if l == "." {
            break;
        }
        got += l.len() + 2;
        lines += 1;
    }
    assert!(
        lines > 200_000 && got > body.len(),
        "{lines} lines, {got} bytes"
    );
    assert!(p.line("QUIT").starts_with("+OK"));
    healthy(&s);
}
