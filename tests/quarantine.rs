//! The quarantine (messages held instead of delivered, released or deleted by the admin with
//! `roost quarantine`) and the per-domain message size limits, through the real roost process.

mod common;

use common::smtp::Client;
use common::{server_with_users, wait_until};

const TOOL: &str = "From: <friend@partner.test>\nTo: <alice@example.test>\nSubject: the tool\n\
                    MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
                    Content-Type: text/plain\n\nhere\n--b\nContent-Type: application/octet-stream\n\
                    Content-Disposition: attachment; filename=tool.exe\n\nTVqQAAMAAAAEAAAA\n--b--\n";

fn held(s: &common::Server) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(&s.ok(&["--json", "quarantine", "list"]))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

fn blob_rows(s: &common::Server) -> i64 {
    let db = rusqlite::Connection::open(s.data.join("roost.db")).unwrap();
    db.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn held_messages_are_listed_shown_released_and_deleted() {
    let s = server_with_users(
        "[protection]\nauthentication = false\nattachment_action = \"quarantine\"\n",
    );
    assert!(
        s.ok(&["quarantine", "list"])
            .contains("the quarantine is empty")
    );
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for _ in 0..2 {
        let r = c.send_mail(
            "friend@partner.test",
            &["alice@example.test", "bob@example.test"],
            TOOL,
        );
        assert_eq!(r.code, 250, "{r:?}");
    }
    let list = held(&s);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["reason"], "attachment tool.exe (.exe)");
    assert_eq!(list[0]["sender"], "friend@partner.test");
    assert_eq!(list[0]["subject"], "the tool");
    assert_eq!(list[0]["client"], "127.0.0.1");
    assert!(s.inbox("alice@example.test").is_empty());
    assert!(s.inbox("bob@example.test").is_empty());
    assert!(s.log().contains("quarantined: held for the admin"));
    let table = s.ok(&["quarantine", "list"]);
    assert!(
        table.contains("attachment tool.exe") && table.contains("alice@example.test"),
        "{table}"
    );

    let (first, second) = (
        list[0]["id"].as_str().unwrap().to_string(),
        list[1]["id"].as_str().unwrap().to_string(),
    );
    let shown = s.ok(&["quarantine", "show", &first]);
    assert!(
        shown.contains("Subject: the tool") && shown.contains("Received:"),
        "{shown}"
    );

    let out = s.ok(&["quarantine", "release", &first]);
    assert!(out.contains("released"), "{out}");
    wait_until(10, "the released copies", || {
        s.inbox("alice@example.test").len() == 1 && s.inbox("bob@example.test").len() == 1
    });
    let m = String::from_utf8_lossy(&s.inbox("alice@example.test")[0]).to_string();
    assert!(m.starts_with("Return-Path: <friend@partner.test>"), "{m}");
    assert!(m.contains("filename=tool.exe"));

    let before = blob_rows(&s);
    s.ok(&["quarantine", "delete", &second]);
    assert!(held(&s).is_empty());
    assert_eq!(
        blob_rows(&s),
        before - 1,
        "the deleted message's file goes with it"
    );
    // Unknown ids: a clear error, nothing changed.
    for cmd in ["show", "release", "delete"] {
        let out = s.admin(&["quarantine", cmd, &second]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no message"));
    }
    assert_eq!(s.inbox("alice@example.test").len(), 1);
}

#[test]
fn a_domain_can_take_smaller_messages_than_the_server() {
    let s = server_with_users("[limits]\ndomain_message_size = { \"example.test\" = \"2K\" }\n");
    s.ok(&["domain", "add", "other.test"]);
    s.add_user("carol@other.test");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    // Announced: refused at RCPT for that domain only.
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test> SIZE=5000").code, 250);
    let r = c.cmd("RCPT TO:<alice@example.test>");
    assert_eq!(r.code, 552, "{r:?}");
    assert!(r.text().contains("limited to 2048 bytes"), "{r:?}");
    assert_eq!(c.cmd("RCPT TO:<carol@other.test>").code, 250);
    c.cmd("RSET");
    // Not announced: refused at the end of DATA.
    let big = format!("Subject: big\n\n{}\n", "x".repeat(4000));
    let r = c.send_mail("x@remote.test", &["alice@example.test"], &big);
    assert_eq!(r.code, 552, "{r:?}");
    assert!(s.inbox("alice@example.test").is_empty());
    assert_eq!(
        c.send_mail("x@remote.test", &["carol@other.test"], &big)
            .code,
        250
    );
    let small = "Subject: small\n\nhello\n";
    assert_eq!(
        c.send_mail("x@remote.test", &["alice@example.test"], small)
            .code,
        250
    );
    // A bad size in the file is refused with its reason.
    let out = s.admin(&[
        "settings",
        "set",
        "limits.domain_message_size={\"example.test\"=\"lots\"}",
    ]);
    assert!(!out.status.success());
}
