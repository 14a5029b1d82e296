//! Roost's own SMTP client (the base of outbound delivery) against the real server: opportunistic
//! STARTTLS, required STARTTLS with AUTH, implicit TLS, pipelined transactions with refused
//! recipients.

mod common;

use common::{PASSWORD, server_with_users};
use roost_core::outbound::client::{Client, Security, Timeouts, Verification};

/// A broken exchange fails the test in seconds, not after RFC 5321's minutes.
fn short() -> Timeouts {
    let t = std::time::Duration::from_secs(10);
    Timeouts {
        connect: t,
        greeting: t,
        command: t,
        data_block: t,
        data_end: t,
    }
}

fn body(subject: &str) -> Vec<u8> {
    body_from("a@remote.test", subject)
}

fn body_from(from: &str, subject: &str) -> Vec<u8> {
    format!("From: {from}\r\nSubject: {subject}\r\n\r\n.leading dot\nbare LF line\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opportunistic_starttls_and_pipelined_recipients() {
    let s = server_with_users("");
    let mut c = Client::connect(
        s.smtp,
        "mx.test.example",
        "client.test",
        Security::Opportunistic,
        &Verification::Opportunistic,
        short(),
    )
    .await
    .unwrap();
    assert!(
        c.tls.as_deref().unwrap().starts_with("TLSv1.3"),
        "{:?}",
        c.tls
    );
    assert!(c.ext.pipelining && c.ext.smtputf8 && c.ext.size == Some(52_428_800));
    let rcpts = vec![
        "alice@example.test".to_string(),
        "nobody@example.test".into(),
        "bob@example.test".into(),
    ];
    let sent = c
        .send("a@remote.test", &rcpts, &body("pipelined"))
        .await
        .unwrap();
    let codes: Vec<u16> = sent.rcpts.iter().map(|(_, r)| r.code).collect();
    assert_eq!(codes, [250, 550, 250]);
    assert_eq!(sent.data.unwrap().code, 250);
    let stored = String::from_utf8(s.inbox("alice@example.test")[0].clone()).unwrap();
    assert!(
        stored.ends_with("Subject: pipelined\r\n\r\n.leading dot\r\nbare LF line\r\n"),
        "{stored}"
    );
    // Nobody accepted: no message is sent, and the session stays usable.
    let sent = c
        .send(
            "a@remote.test",
            &["ghost@example.test".to_string()],
            &body("none"),
        )
        .await
        .unwrap();
    assert!(sent.data.is_none());
    let sent = c
        .send(
            "a@remote.test",
            &["bob@example.test".to_string()],
            &body("again"),
        )
        .await
        .unwrap();
    assert_eq!(sent.data.unwrap().code, 250);
    c.quit().await;
    assert_eq!(s.message_count("bob@example.test"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_starttls_with_auth_and_implicit_tls() {
    let s = server_with_users("");
    let mut c = Client::connect(
        s.submission,
        "mx.test.example",
        "client.test",
        Security::StartTls,
        &Verification::Opportunistic,
        short(),
    )
    .await
    .unwrap();
    assert!(c.tls.is_some());
    c.auth("alice@example.test", PASSWORD).await.unwrap();
    let sent = c
        .send(
            "alice@example.test",
            &["friend@elsewhere.test".to_string()],
            &body_from("alice@example.test", "out"),
        )
        .await
        .unwrap();
    assert_eq!(sent.data.unwrap().code, 250);
    assert!(s.ok(&["queue", "list"]).contains("friend@elsewhere.test"));

    let mut c = Client::connect(
        s.submissions,
        "mx.test.example",
        "client.test",
        Security::Tls,
        &Verification::Opportunistic,
        short(),
    )
    .await
    .unwrap();
    let err = c
        .auth("alice@example.test", "wrong-password")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("535 5.7.8"), "{err}");
    c.auth("bob@example.test", PASSWORD).await.unwrap();
    let err = c
        .send(
            "alice@example.test",
            &["alice@example.test".to_string()],
            &body("spoof"),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("MAIL: 553 5.7.1"), "{err}");
    // Plain text only, where the server requires TLS for AUTH: the AUTH is refused with 538.
    let mut c = Client::connect(
        s.submission,
        "mx.test.example",
        "client.test",
        Security::None,
        &Verification::Opportunistic,
        short(),
    )
    .await
    .unwrap();
    assert!(c.tls.is_none());
    assert!(c.auth("alice@example.test", PASSWORD).await.is_err());
}
