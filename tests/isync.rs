//! isync (mbsync) keeps a local Maildir and the server in step, both ways: new mail comes
//! down, local additions and flag changes go up, expunges on either side reach the other.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{PASSWORD, TempDir, have, server_with_users};
use std::path::Path;
use std::process::Command;

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            out.extend(rd.map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

fn mbsync(conf: &Path) {
    let out = Command::new("mbsync")
        .arg("-c")
        .arg(conf)
        .arg("-a")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mbsync failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mbsync_two_way() {
    assert!(
        have("mbsync"),
        "mbsync is needed (scripts/test installs isync)"
    );
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for subj in ["first", "second"] {
        assert_eq!(
            c.send_mail(
                "x@remote.test",
                &["alice@example.test"],
                &format!("Subject: {subj}\n\nbody\n")
            )
            .code,
            250
        );
    }
    let local = TempDir::new("mbsync");
    let mail = local.0.join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    let conf = local.0.join("mbsyncrc");
    std::fs::write(
        &conf,
        format!(
            "IMAPAccount roost\nHost localhost\nPort {port}\nUser alice@example.test\nPass {PASSWORD}\nSSLType IMAPS\n\
             CertificateFile {cert}\n\nIMAPStore remote\nAccount roost\n\n\
             MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n\
             Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            port = s.imaps.port(),
            cert = s.data.join("tls/cert.pem").display(),
            mail = mail.display(),
        ),
    )
    .unwrap();
    mbsync(&conf);
    let inbox = files(&mail.join("INBOX"));
    assert_eq!(inbox.len(), 2, "both messages came down: {inbox:?}");
    assert!(
        mail.join("Sent").is_dir() && mail.join("Archive").is_dir(),
        "folders created locally"
    );

    // Up: a new local message in Archive, and the first message marked read locally.
    let archive_new = mail.join("Archive/new");
    std::fs::write(
        archive_new.join("1700000000.local.host"),
        "Subject: written offline\r\n\r\nhello\r\n",
    )
    .unwrap();
    let first = &inbox[0];
    let read = first
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("cur")
        .join(format!(
            "{}{}",
            first
                .file_name()
                .unwrap()
                .to_string_lossy()
                .split(":2,")
                .next()
                .unwrap(),
            ":2,S"
        ));
    std::fs::rename(first, &read).unwrap();
    mbsync(&conf);
    let mut i = Imap::login(s.imaps, "alice@example.test");
    assert_eq!(
        i.cmd("STATUS Archive (MESSAGES)").untagged,
        ["* STATUS \"Archive\" (MESSAGES 1)"]
    );
    i.cmd("SELECT INBOX");
    assert_eq!(i.cmd("SEARCH SEEN").untagged.len(), 1);
    assert_ne!(i.cmd("SEARCH SEEN").untagged[0], "* SEARCH");

    // Down: an expunge on the server removes the local copy.
    i.cmd("STORE 2 +FLAGS (\\Deleted)");
    i.cmd("EXPUNGE");
    mbsync(&conf);
    assert_eq!(files(&mail.join("INBOX")).len(), 1);
}
