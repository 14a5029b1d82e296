//! Hostile and broken clients: each gets the right code, memory stays bounded, and the server
//! serves the next client normally.

mod common;

use common::smtp::Client;
use common::{Server, server_with_users};
use std::time::{Duration, Instant};

/// The server still delivers for a well-behaved client.
fn healthy(s: &Server) {
    let (mut c, g) = Client::connect(s.smtp);
    assert_eq!(g.code, 220);
    c.ehlo();
    let before = s.message_count("alice@example.test");
    assert_eq!(
        c.send_mail(
            "ok@remote.test",
            &["alice@example.test"],
            "Subject: ok\n\nfine\n"
        )
        .code,
        250
    );
    assert_eq!(s.message_count("alice@example.test"), before + 1);
}

/// MAIL, RCPT to alice, DATA: the client may now send message bytes.
fn start_data(c: &mut Client) {
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<alice@example.test>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
}

#[test]
fn overlong_lines_nul_bytes_and_garbage() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    c.send(&vec![b'A'; 100_000]);
    c.send(b"\r\n");
    assert_eq!(c.read_reply().status(), "500 5.5.2", "line too long");
    c.send(b"NOOP\0x\r\n");
    assert_eq!(c.read_reply().status(), "500 5.5.2", "NUL byte");
    c.send(b"\xff\xfe\xfd\r\n");
    assert_eq!(c.read_reply().code, 501);
    assert_eq!(c.cmd("NOOP").code, 250, "still usable");
    healthy(&s);
}

#[test]
fn smuggling_with_bare_lf_cannot_split_a_message() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    start_data(&mut c);
    c.send(b"Subject: outer\r\n\r\nhello\n.\nMAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n");
    let r = c.read_reply();
    assert_eq!(r.status(), "550 5.5.2", "{r:?}");
    assert_eq!(c.cmd("NOOP").code, 250, "nothing else was read as commands");
    assert_eq!(s.message_count("alice@example.test"), 0);
    assert_eq!(
        s.message_count("bob@example.test"),
        0,
        "no smuggled message"
    );
    // <CR><LF>.<LF> and a bare CR are refused too.
    for bad in [&b"a\r\n.\nb\r\n.\r\n"[..], b"a\rb\r\n.\r\n"] {
        start_data(&mut c);
        c.send(bad);
        assert_eq!(c.read_reply().code, 550);
    }
    // A lone bare-LF message without tricks is stored with CRLF line ends.
    start_data(&mut c);
    c.send(b"Subject: lf\n\nunix line ends\r\n.\r\n");
    assert_eq!(c.read_reply().code, 250);
    let m = String::from_utf8(s.inbox("alice@example.test")[0].clone()).unwrap();
    assert!(
        m.ends_with("Subject: lf\r\n\r\nunix line ends\r\n"),
        "{m:?}"
    );
    healthy(&s);
}

#[test]
fn ten_thousand_recipients() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    let mut batch = Vec::new();
    for _ in 0..10_000 {
        batch.extend_from_slice(b"RCPT TO:<alice@example.test>\r\n");
    }
    c.send(&batch);
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..10_000 {
        *codes.entry(c.read_reply().status()).or_insert(0) += 1;
    }
    assert_eq!(codes.get("250 2.1.5"), Some(&100), "{codes:?}");
    assert_eq!(codes.get("452 4.5.3"), Some(&9_900), "{codes:?}");
    assert_eq!(c.cmd("DATA").code, 354);
    c.send(b"Subject: many\r\n\r\nx\r\n.\r\n");
    assert_eq!(c.read_reply().code, 250);
    assert_eq!(
        s.message_count("alice@example.test"),
        1,
        "one copy however often the account was named"
    );
    healthy(&s);
}

#[test]
fn unknown_recipients_end_the_connection_after_too_many_errors() {
    let s = server_with_users("[smtp]\nmax_errors = 5\n");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    for _ in 0..4 {
        assert_eq!(c.cmd("RCPT TO:<guess@example.test>").code, 550);
    }
    let r = c.cmd("RCPT TO:<guess@example.test>");
    assert_eq!(r.code, 550);
    assert_eq!(c.read_reply().status(), "421 4.7.0");
    assert!(c.is_closed());
    healthy(&s);
}

#[test]
fn message_over_the_size_limit() {
    let s = server_with_users("[smtp]\nmax_message_size = \"64K\"\n");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let huge = format!("Subject: huge\n\n{}\n", "0123456789abcdef\n".repeat(20_000));
    assert_eq!(
        c.send_mail("x@remote.test", &["alice@example.test"], &huge)
            .status(),
        "552 5.3.4"
    );
    assert_eq!(c.cmd("NOOP").code, 250);
    healthy(&s);
}

#[test]
fn garbage_in_and_after_data() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    start_data(&mut c);
    // 8-bit binary junk inside the message is the sender's business; it is kept byte for byte.
    let mut body = b"Subject: junk\r\n\r\n".to_vec();
    body.extend((0u8..=255).filter(|&b| b != b'\r' && b != b'\n'));
    body.extend_from_slice(b"\r\n.\r\n\x01\x02garbage after the end\r\n");
    c.send(&body);
    assert_eq!(c.read_reply().code, 250);
    assert_eq!(
        c.read_reply().status(),
        "500 5.5.1",
        "what follows the end is a (bad) command"
    );
    assert_eq!(c.cmd("NOOP").code, 250);
    assert!(s.inbox("alice@example.test")[0].ends_with(&body[17..body.len() - 28]));
    healthy(&s);
}

#[test]
fn talking_before_the_greeting_is_refused() {
    let s = server_with_users("[smtp]\ngreet_pause_ms = 300\n");
    let mut c = Client::connect_silent(s.smtp);
    c.send(
        b"EHLO spam.test\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
    );
    let r = c.read_reply();
    assert_eq!(r.status(), "554 5.5.0", "{r:?}");
    assert!(c.is_closed());
    // Without a pause the same client is caught at EHLO (it did not wait for the answer).
    let s2 = server_with_users("");
    let (mut c, _) = Client::connect(s2.smtp);
    c.send(b"EHLO spam.test\r\nMAIL FROM:<x@remote.test>\r\n");
    assert_eq!(c.read_reply().status(), "554 5.5.0");
    assert!(c.is_closed());
    healthy(&s);
    healthy(&s2);
}

#[test]
fn stalled_client_is_disconnected_and_others_are_served() {
    let s = server_with_users("[smtp]\ncommand_timeout_secs = 1\ndata_timeout_secs = 1\n");
    let (mut idle, _) = Client::connect(s.smtp);
    let (mut in_data, _) = Client::connect(s.smtp);
    in_data.ehlo();
    in_data.cmd("MAIL FROM:<x@remote.test>");
    in_data.cmd("RCPT TO:<alice@example.test>");
    assert_eq!(in_data.cmd("DATA").code, 354);
    in_data.send(b"Subject: half a mess");
    healthy(&s);
    let start = Instant::now();
    assert_eq!(idle.read_reply().status(), "421 4.4.2");
    assert!(idle.is_closed());
    assert_eq!(in_data.read_reply().status(), "421 4.4.2");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(
        s.message_count("alice@example.test"),
        1,
        "the half message was not stored"
    );
}

#[test]
fn http_on_the_smtp_port() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_reply().status(), "500 5.5.1");
    assert!(c.is_closed());
    healthy(&s);
}

#[test]
fn connections_per_ip_are_limited() {
    let s = server_with_users("[limits]\nmax_connections_per_ip = 3\n");
    let held: Vec<_> = (0..3).map(|_| Client::connect(s.smtp).0).collect();
    let (mut c, r) = Client::connect(s.smtp);
    assert_eq!(r.status(), "421 4.7.0");
    assert!(c.is_closed());
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    healthy(&s);
}

/// The key of older versions still works (it moved from [smtp] to [limits]), and says so.
#[test]
fn the_old_connection_limit_key_still_applies_and_is_logged() {
    let s = server_with_users("[smtp]\nmax_connections_per_ip = 3\n");
    let held: Vec<_> = (0..3).map(|_| Client::connect(s.smtp).0).collect();
    let (mut c, r) = Client::connect(s.smtp);
    assert_eq!(r.status(), "421 4.7.0");
    assert!(c.is_closed());
    drop(held);
    assert!(
        s.log().contains(
            "deprecated setting: smtp.max_connections_per_ip is now limits.max_connections_per_ip"
        ),
        "{}",
        s.log()
    );
}

#[test]
fn endless_noops_end_the_connection() {
    let s = server_with_users("[smtp]\nmax_errors = 3\n");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    c.send(&b"NOOP\r\n".repeat(120));
    let codes: Vec<u16> = std::iter::from_fn(|| c.try_read_reply())
        .map(|r| r.code)
        .collect();
    // 100 free NOOPs; the next two count as errors and are answered; the third error is the
    // limit: 421 and the connection closes.
    assert_eq!(codes.len(), 103, "{codes:?}");
    assert!(codes[..102].iter().all(|&c| c == 250));
    assert_eq!(codes[102], 421);
    healthy(&s);
}

/// A message larger than `limits.message_in_memory` goes to a temporary file while it arrives
/// and is stored byte for byte; the temporary file leaves nothing behind.
#[test]
fn large_messages_are_spooled_to_disk_and_stored_intact() {
    let s = server_with_users("[limits]\nmessage_in_memory = \"64K\"\n");
    let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n";
    let body = format!("Subject: big\r\n\r\n{}", line.repeat(50_000));
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    start_data(&mut c);
    c.send(body.as_bytes());
    c.send(b".\r\n");
    assert_eq!(c.read_reply().code, 250);
    // The same by BDAT, in many chunks of odd sizes.
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<alice@example.test>").code, 250);
    let bytes = body.as_bytes();
    let mut at = 0;
    let mut chunks = 0;
    while at < bytes.len() {
        let n = (7_919 + chunks * 131).min(bytes.len() - at);
        let last = at + n == bytes.len();
        c.send(format!("BDAT {n}{}\r\n", if last { " LAST" } else { "" }).as_bytes());
        c.send(&bytes[at..at + n]);
        assert_eq!(c.read_reply().code, 250);
        at += n;
        chunks += 1;
    }
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 2);
    for m in &inbox {
        assert!(
            m.ends_with(bytes),
            "stored byte for byte ({} bytes)",
            m.len()
        );
    }
    let tmp = std::fs::read_dir(s.data.join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "no temporary file left");
    healthy(&s);
}

/// With a message memory budget far smaller than what is arriving, every message still goes
/// through (to temporary files) and none is damaged.
#[test]
fn many_large_messages_at_once_within_a_small_memory_budget() {
    let s = server_with_users("[limits]\nmessage_memory = \"1M\"\nmessage_in_memory = \"512K\"\n");
    let line = "the quick brown fox jumps over the lazy dog 0123456789\r\n";
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let addr = s.smtp;
            let body = format!("Subject: m{i}\r\n\r\n{}", line.repeat(20_000 + i * 100));
            std::thread::spawn(move || {
                let (mut c, _) = Client::connect(addr);
                c.ehlo();
                start_data(&mut c);
                for piece in body.as_bytes().chunks(64 * 1024) {
                    c.send(piece);
                    std::thread::sleep(Duration::from_millis(5));
                }
                c.send(b".\r\n");
                (c.read_reply().code, body)
            })
        })
        .collect();
    let mut sent = Vec::new();
    for t in senders {
        let (code, body) = t.join().unwrap();
        assert_eq!(code, 250);
        sent.push(body);
    }
    let inbox = s.inbox("alice@example.test");
    assert_eq!(inbox.len(), 8);
    for body in &sent {
        assert!(
            inbox.iter().any(|m| m.ends_with(body.as_bytes())),
            "a message was damaged"
        );
    }
    healthy(&s);
}

/// A client that opens connection after connection is refused past the per-minute rate; an
/// exempt address (here none is) or another client is not.
#[test]
fn connection_rate_per_address() {
    let s = server_with_users("[limits]\nconnections_per_minute = 5\nrate_exempt = []\n");
    for _ in 0..5 {
        let (mut c, g) = Client::connect(s.smtp);
        assert_eq!(g.code, 220);
        c.cmd("QUIT");
    }
    let (mut c, g) = Client::connect(s.smtp);
    assert_eq!(g.status(), "421 4.7.0", "{g:?}");
    assert!(g.text().contains("minute"), "{g:?}");
    assert!(c.is_closed());
    // The same limit holds across services: IMAP from the same address is refused too.
    let (_, greeting) = common::imap::Imap::connect(s.imap);
    assert!(greeting.starts_with("* BYE"), "{greeting}");
}
