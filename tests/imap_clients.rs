//! Programs people use against the IMAP server: Python's imaplib and curl.

mod common;

use common::{PASSWORD, deliver, have, server_with_users};

#[test]
fn python_imaplib() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["hello world", "second"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/imaplib_client.py"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([
            s.imap.to_string(),
            s.imaps.to_string(),
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
}

#[test]
fn curl_fetches_and_lists() {
    assert!(have("curl"), "curl is needed (scripts/test installs it)");
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["via curl"]);
    let user = format!("alice@example.test:{PASSWORD}");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-k",
            "-u",
            &user,
            &format!("imaps://{}/INBOX;UID=1", s.imaps),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Subject: via curl"));
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--ssl-reqd",
            "-k",
            "-u",
            &user,
            &format!("imap://{}/", s.imap),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"Sent\""));
}
