//! IMAP mailbox commands: LIST, STATUS, SELECT/EXAMINE, APPEND, COPY/MOVE, CREATE, RENAME, DELETE.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{PASSWORD, deliver, server_with_users};

#[test]
fn select_list_status_exact() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["one", "two"]);
    let mut i = Imap::login(s.imaps, "alice@example.test");
    let list = i.cmd("LIST \"\" \"*\"");
    assert_eq!(
        list.untagged,
        [
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
            "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
            "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
            "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
        ]
    );
    assert_eq!(
        i.cmd("LIST \"\" \"\"").untagged,
        ["* LIST (\\Noselect) \"/\" \"\""]
    );
    let st = i.cmd("STATUS INBOX (MESSAGES UNSEEN RECENT)");
    assert_eq!(
        st.untagged,
        ["* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2 RECENT 2)"]
    );
    let sel = i.cmd("SELECT INBOX");
    let uv: Vec<&String> = sel
        .untagged
        .iter()
        .filter(|l| l.contains("UIDVALIDITY"))
        .collect();
    let uidvalidity: u32 = uv[0]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(']')
        .parse()
        .unwrap();
    assert_eq!(
        sel.untagged,
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)".to_string(),
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted".into(),
            "* 2 EXISTS".into(),
            "* 2 RECENT".into(),
            "* OK [UNSEEN 1] first unseen message".into(),
            format!("* OK [UIDVALIDITY {uidvalidity}] UIDs valid"),
            "* OK [UIDNEXT 3] predicted next UID".into(),
        ]
    );
    assert_eq!(sel.status(), "OK [READ-WRITE] SELECT completed");
    // \Recent belongs to the first session only.
    let mut other = Imap::login(s.imaps, "alice@example.test");
    assert!(
        other
            .cmd("EXAMINE INBOX")
            .untagged
            .contains(&"* 0 RECENT".to_string())
    );
    // The POP3 UIDL of a message is its IMAP UID and UIDVALIDITY.
    let (mut p, _) = Client::connect_tls_line(s.pop3s);
    p.line("USER alice@example.test");
    p.line(&format!("PASS {PASSWORD}"));
    assert_eq!(
        p.line("UIDL 2"),
        format!("+OK 2 {:08X}{uidvalidity:08X}", 2)
    );
}

#[test]
fn append_copy_move_with_uidplus() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["one", "two"]);
    let mut i = Imap::login(s.imaps, "alice@example.test");
    let msg = "Subject: draft\r\n\r\nunsent\r\n";
    let tag = i.next_tag();
    i.c.send(
        format!(
            "{tag} APPEND Drafts (\\Draft) \"17-Jul-1996 02:44:25 -0700\" {{{}}}\r\n",
            msg.len()
        )
        .as_bytes(),
    );
    assert_eq!(i.line().unwrap(), "+ Ready for literal data");
    i.c.send(format!("{msg}\r\n").as_bytes());
    let r = i.until(&tag);
    assert!(
        r.status().starts_with("OK [APPENDUID ") && r.status().ends_with(" 1] APPEND completed"),
        "{}",
        r.tagged
    );
    // LITERAL+: no continuation.
    assert!(
        i.cmd(&format!("APPEND Drafts {{{}+}}\r\n{msg}", msg.len()))
            .ok()
    );
    assert_eq!(
        i.cmd("APPEND Nowhere {1+}\r\nx").status(),
        "NO [TRYCREATE] mailbox Nowhere does not exist"
    );
    i.cmd("SELECT Drafts");
    let r = i.cmd("FETCH 1 (FLAGS INTERNALDATE)");
    assert_eq!(
        r.untagged,
        ["* 1 FETCH (FLAGS (\\Draft \\Recent) INTERNALDATE \"17-Jul-1996 09:44:25 +0000\")"]
    );
    i.cmd("SELECT INBOX");
    let r = i.cmd("COPY 1:2 Archive");
    assert!(
        r.status().starts_with("OK [COPYUID ") && r.status().ends_with(" 1:2 1:2] COPY completed"),
        "{}",
        r.tagged
    );
    let r = i.cmd("UID MOVE 2 Trash");
    assert_eq!(r.untagged[1], "* 2 EXPUNGE");
    assert!(
        r.untagged[0].starts_with("* OK [COPYUID ") && r.untagged[0].ends_with(" 2 1] moved"),
        "{:?}",
        r.untagged
    );
    assert_eq!(
        i.cmd("COPY 1 Missing").status(),
        "NO [TRYCREATE] mailbox Missing does not exist"
    );
    assert_eq!(
        i.cmd("STATUS Trash (MESSAGES)").untagged,
        ["* STATUS \"Trash\" (MESSAGES 1)"]
    );
    assert_eq!(
        i.cmd("STATUS Archive (MESSAGES)").untagged,
        ["* STATUS \"Archive\" (MESSAGES 2)"]
    );
    // Mailbox management, with the INBOX rename rule.
    assert!(i.cmd("CREATE Projects/2026").ok());
    assert_eq!(
        i.cmd("CREATE Projects").status(),
        "NO [ALREADYEXISTS] mailbox Projects exists already"
    );
    assert!(i.cmd("RENAME Projects Work").ok());
    assert_eq!(
        i.cmd("LIST \"\" Work/%").untagged,
        ["* LIST (\\HasNoChildren) \"/\" \"Work/2026\""]
    );
    assert_eq!(
        i.cmd("DELETE Work").status(),
        "NO [INUSE] mailbox Work has sub-mailboxes; delete them first"
    );
    assert!(i.cmd("DELETE Work/2026").ok());
    assert!(i.cmd("RENAME INBOX Old").ok());
    assert_eq!(
        i.cmd("STATUS Old (MESSAGES)").untagged,
        ["* STATUS \"Old\" (MESSAGES 1)"]
    );
    assert_eq!(
        i.cmd("STATUS INBOX (MESSAGES)").untagged,
        ["* STATUS \"INBOX\" (MESSAGES 0)"]
    );
    assert_eq!(i.cmd("CREATE Entw&APw-rfe").status(), "OK CREATE completed");
    assert!(i.cmd("LIST \"\" Entw*").untagged[0].ends_with("\"Entw&APw-rfe\""));
    assert_eq!(
        i.cmd("CREATE &Jjo").status(),
        "BAD unterminated &-sequence in mailbox name"
    );
}

/// LIST-EXTENDED (RFC 5258) and SPECIAL-USE selection (RFC 6154).
#[test]
fn list_extended_selection_and_return_options() {
    let s = server_with_users("");
    let mut i = Imap::login(s.imaps, "alice@example.test");
    assert!(i.cmd("CREATE Projects/Roost").ok());
    assert!(i.cmd("UNSUBSCRIBE Projects").ok());
    assert!(i.cmd("UNSUBSCRIBE Junk").ok());
    let r = i.cmd("LIST (SPECIAL-USE) \"\" \"*\"");
    assert_eq!(r.untagged.len(), 5, "{:?}", r.untagged);
    assert!(r.untagged.iter().all(|l| l.contains("\\Sent")
        || l.contains("\\Drafts")
        || l.contains("\\Trash")
        || l.contains("\\Junk")
        || l.contains("\\Archive")));
    let r = i.cmd("LIST (SUBSCRIBED) \"\" \"P*\"");
    assert_eq!(
        r.untagged,
        ["* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Projects/Roost\""]
    );
    let r = i.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
    assert!(
        r.untagged.contains(
            &"* LIST (\\HasChildren) \"/\" \"Projects\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"
                .to_string()
        ),
        "{:?}",
        r.untagged
    );
    assert!(!r.untagged.iter().any(|l| l.ends_with("\"Junk\"")));
    let r = i.cmd("LIST \"\" \"Junk\" RETURN (SUBSCRIBED)");
    assert_eq!(
        r.untagged,
        ["* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\""]
    );
    let r = i.cmd("LIST \"\" \"Sent\" RETURN (SUBSCRIBED STATUS (MESSAGES))");
    assert_eq!(
        r.untagged,
        [
            "* LIST (\\HasNoChildren \\Sent \\Subscribed) \"/\" \"Sent\"",
            "* STATUS \"Sent\" (MESSAGES 0)"
        ]
    );
    assert_eq!(
        i.cmd("LIST (RECURSIVEMATCH) \"\" \"*\"").status(),
        "BAD RECURSIVEMATCH needs another selection option"
    );
    assert_eq!(
        i.cmd("LSUB \"\" \"*\"").untagged.len(),
        6,
        "INBOX Archive Drafts Projects/Roost Sent Trash"
    );
}
