//! Programs people use, against the real server: Python's smtplib (plain, STARTTLS, implicit TLS,
//! AUTH, SMTPUTF8, BDAT-less pipelined sending) and swaks.

mod common;

use common::{PASSWORD, have, server_with_users};
use std::process::Command;

#[test]
fn python_smtplib() {
    assert!(
        have("python3"),
        "python3 is needed (scripts/test installs it)"
    );
    let s = server_with_users("");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/smtplib_client.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args([
            s.smtp.to_string(),
            s.submission.to_string(),
            s.submissions.to_string(),
            PASSWORD.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "smtplib client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.message_count("alice@example.test"), 4);
    assert_eq!(s.message_count("bob@example.test"), 2);
    let inbox = s.inbox("bob@example.test");
    assert!(
        inbox
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("Subject: =?utf-8?")),
        "UTF-8 message stored"
    );
}

fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn swaks_plain_starttls_and_tls_with_auth() {
    assert!(have("swaks"), "swaks is needed (scripts/test installs it)");
    let s = server_with_users("");
    let smtp = s.smtp.to_string();
    let sub = s.submission.to_string();
    let subs = s.submissions.to_string();
    let (ok, out) = swaks(&[
        "--server",
        &smtp,
        "--to",
        "alice@example.test",
        "--from",
        "a@remote.test",
        "--helo",
        "swaks.test",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = swaks(&[
        "--server",
        &smtp,
        "--to",
        "alice@example.test",
        "--from",
        "a@remote.test",
        "--tls",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("STARTTLS"), "{out}");
    let (ok, out) = swaks(&[
        "--server",
        &sub,
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "bob@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "bob@example.test",
        "--to",
        "alice@example.test",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = swaks(&[
        "--server",
        &subs,
        "--tls-on-connect",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "bob@example.test",
        "--to",
        "friend@outside.test",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = swaks(&[
        "--server",
        &sub,
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@example.test",
        "--auth-password",
        "wrong-password",
        "--to",
        "alice@example.test",
    ]);
    assert!(!ok && out.contains("535 5.7.8"), "{out}");
    let (ok, out) = swaks(&[
        "--server",
        &smtp,
        "--to",
        "relay@elsewhere.test",
        "--from",
        "a@remote.test",
    ]);
    assert!(!ok && out.contains("554 5.7.1"), "{out}");
    assert_eq!(s.message_count("alice@example.test"), 3);
    assert!(s.ok(&["queue", "list"]).contains("friend@outside.test"));
}
