//! What Roost keeps is readable by Roost alone, and mail that is deleted is gone from the disk:
//! file modes whatever the umask, and message files removed once no message refers to them.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{PASSWORD, Server, server_with_users};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn blob_files(s: &Server) -> Vec<PathBuf> {
    files(&s.data.join("blobs"))
}

fn send(s: &Server, to: &[&str], subject: &str) {
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let body = format!("From: x@remote.test\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n");
    assert_eq!(c.send_mail("x@remote.test", to, &body).code, 250);
}

#[test]
fn the_data_folder_database_keys_and_mail_are_private() {
    let s = server_with_users("");
    send(&s, &["alice@example.test"], "private");
    s.ok(&["dkim", "generate", "example.test", "--bits", "0"]);
    assert_eq!(mode(&s.data), 0o700, "data folder");
    for name in ["blobs", "tmp", "tls"] {
        assert_eq!(mode(&s.data.join(name)), 0o700, "{name}");
    }
    let all = files(&s.data);
    assert!(all.iter().any(|p| p.ends_with("roost.db")));
    for f in &all {
        let m = mode(f);
        let public = f.ends_with("tls/cert.pem");
        assert!(
            m & 0o077 == 0 || public,
            "{} is {m:o}: readable by other users",
            f.display()
        );
    }
    assert!(!blob_files(&s).is_empty());
    // Settings written by `roost settings set` are private too (they can name password files).
    s.ok(&["settings", "set", "limits.messages_per_day=500"]);
    assert_eq!(mode(&s.config) & 0o077, 0, "configuration file");
}

#[test]
fn an_existing_open_data_folder_is_mended_at_start() {
    let mut s = server_with_users("");
    send(&s, &["alice@example.test"], "before");
    s.signal(common::SIGTERM);
    s.wait_exit(std::time::Duration::from_secs(20));
    // As an older version, or another umask, left them.
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    set(&s.data, 0o755);
    set(&s.data.join("blobs"), 0o755);
    set(&s.data.join("roost.db"), 0o644);
    s.launch();
    assert_eq!(mode(&s.data), 0o700);
    assert_eq!(mode(&s.data.join("blobs")), 0o700);
    assert_eq!(mode(&s.data.join("roost.db")), 0o600);
}

/// EXPUNGE, POP3 DELE and deleting a mailbox remove the message file as soon as no message
/// names it; a file two accounts share stays until both copies are gone; `roost status`
/// shows the space coming back.
#[test]
fn deleted_mail_leaves_the_disk() {
    let s = server_with_users("");
    send(&s, &["alice@example.test"], "one");
    send(&s, &["alice@example.test"], "two");
    send(&s, &["alice@example.test", "bob@example.test"], "shared");
    assert_eq!(blob_files(&s).len(), 3, "one file per delivery");
    let usage = |s: &Server| {
        let v: serde_json::Value = serde_json::from_str(&s.ok(&["--json", "status"])).unwrap();
        (
            v["mail"]["files"].as_u64().unwrap(),
            v["mail"]["bytes"].as_u64().unwrap(),
        )
    };
    let (files0, bytes0) = usage(&s);
    assert_eq!(files0, 3);

    let mut a = Imap::login(s.imaps, "alice@example.test");
    assert!(a.cmd("SELECT INBOX").ok());
    assert!(a.cmd("STORE 1 +FLAGS (\\Deleted)").ok());
    assert!(a.cmd("EXPUNGE").ok());
    common::wait_until(10, "the expunged message's file to go", || {
        blob_files(&s).len() == 2
    });
    let (files1, bytes1) = usage(&s);
    assert_eq!(files1, 2);
    assert!(
        bytes1 < bytes0,
        "status shows the space freed: {bytes1} < {bytes0}"
    );
    assert!(s.ok(&["status"]).contains("in 2 message files"));

    // The shared message: alice's copy goes, bob's keeps the file.
    assert!(a.cmd("STORE 2 +FLAGS (\\Deleted)").ok());
    assert!(a.cmd("EXPUNGE").ok());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(blob_files(&s).len(), 2, "bob still has the shared message");
    let (mut p, _) = Client::connect_tls_line(s.pop3s);
    assert!(p.line("USER bob@example.test").starts_with("+OK"));
    assert!(p.line(&format!("PASS {PASSWORD}")).starts_with("+OK"));
    assert!(p.line("DELE 1").starts_with("+OK"));
    assert!(p.line("QUIT").starts_with("+OK"));
    common::wait_until(10, "the shared file to go", || blob_files(&s).len() == 1);

    // A mailbox deleted with a message in it.
    assert!(a.cmd("CREATE Old").ok());
    assert!(a.cmd("COPY 1 Old").ok());
    assert!(a.cmd("STORE 1 +FLAGS (\\Deleted)").ok());
    assert!(a.cmd("EXPUNGE").ok());
    assert_eq!(blob_files(&s).len(), 1, "the copy in Old keeps it");
    assert!(a.cmd("DELETE Old").ok());
    common::wait_until(10, "the deleted mailbox's files to go", || {
        blob_files(&s).is_empty()
    });
    assert_eq!(usage(&s), (0, 0));
}
