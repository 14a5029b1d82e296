//! IMAP: exact responses for the command families, two sessions seeing each other's changes,
//! IDLE, hostile input, and Python's imaplib and curl as clients.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{PASSWORD, Server, have, server_with_users};
use std::time::{Duration, Instant};

fn deliver(s: &Server, to: &str, subjects: &[&str]) {
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for subj in subjects {
        let body = format!(
            "From: Sender <x@remote.test>\nTo: {to}\nSubject: {subj}\nMessage-ID: <{subj}@remote.test>\n\nbody of {subj}\n"
        );
        assert_eq!(c.send_mail("x@remote.test", &[to], &body).code, 250);
    }
}

#[test]
fn greeting_login_needs_tls_then_capabilities_grow() {
    let s = server_with_users("");
    let (mut i, g) = Imap::connect(s.imap);
    assert_eq!(
        g,
        "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NAMESPACE STARTTLS LOGINDISABLED] Roost IMAP ready"
    );
    let r = i.cmd(&format!("LOGIN alice@example.test {PASSWORD}"));
    assert_eq!(
        r.status(),
        "NO [PRIVACYREQUIRED] passwords only over TLS: use STARTTLS or port 993"
    );
    assert_eq!(i.cmd("SELECT INBOX").status(), "BAD log in first");
    assert_eq!(i.cmd("STARTTLS").status(), "OK begin TLS negotiation now");
    i.c.upgrade_tls();
    let caps = i.cmd("CAPABILITY");
    assert_eq!(
        caps.untagged,
        ["* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NAMESPACE AUTH=PLAIN"]
    );
    assert_eq!(
        i.cmd("LOGIN alice@example.test wrong-password").status(),
        "NO [AUTHENTICATIONFAILED] invalid credentials"
    );
    let r = i.cmd(&format!("LOGIN \"alice@example.test\" \"{PASSWORD}\""));
    assert!(r.status().starts_with("OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NAMESPACE UIDPLUS MOVE"), "{}", r.tagged);
    assert_eq!(
        i.cmd("NAMESPACE").untagged,
        ["* NAMESPACE ((\"\" \"/\")) NIL NIL"]
    );
    assert_eq!(i.cmd("LOGOUT").untagged, ["* BYE Roost logging out"]);
    let log = s.wait_log("service=\"imap\"");
    assert!(log.contains("authentication failed"), "{log}");
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    use base64::Engine;
    let s = server_with_users("");
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("\0bob@example.test\0{PASSWORD}"));
    let (mut i, _) = Imap::connect_tls(s.imaps);
    assert!(i.cmd(&format!("AUTHENTICATE PLAIN {token}")).ok());
    let (mut i, _) = Imap::connect_tls(s.imaps);
    let tag = i.next_tag();
    i.c.send(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes());
    assert_eq!(i.line().unwrap(), "+ ");
    i.c.send(format!("{token}\r\n").as_bytes());
    assert!(i.until(&tag).ok());
}

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
fn fetch_store_search_exact() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["alpha", "beta", "gamma"]);
    let mut i = Imap::login(s.imaps, "alice@example.test");
    i.cmd("SELECT INBOX");
    let r = i.cmd("FETCH 1:* (UID FLAGS)");
    assert_eq!(
        r.untagged,
        [
            "* 1 FETCH (UID 1 FLAGS (\\Recent))",
            "* 2 FETCH (UID 2 FLAGS (\\Recent))",
            "* 3 FETCH (UID 3 FLAGS (\\Recent))"
        ]
    );
    let r = i.cmd("FETCH 2 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        r.untagged[0].contains("\"beta\" ((\"Sender\" NIL \"x\" \"remote.test\"))")
            && r.untagged[0]
                .ends_with("BODY[HEADER.FIELDS (SUBJECT)] {17}\r\nSubject: beta\r\n\r\n)"),
        "{}",
        r.untagged[0]
    );
    let r = i.cmd("FETCH 3 BODY[TEXT]");
    assert_eq!(
        r.untagged,
        ["* 3 FETCH (BODY[TEXT] {15}\r\nbody of gamma\r\n FLAGS (\\Seen \\Recent))"]
    );
    let r = i.cmd("STORE 1 +FLAGS (\\Flagged $Important)");
    assert_eq!(
        r.untagged,
        ["* 1 FETCH (FLAGS (\\Flagged \\Recent $Important))"]
    );
    assert!(
        i.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
            .untagged
            .is_empty()
    );
    assert_eq!(
        i.cmd("UID STORE 1 -FLAGS ($Important)").untagged,
        ["* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"]
    );
    assert_eq!(i.cmd("SEARCH FLAGGED").untagged, ["* SEARCH 1"]);
    assert_eq!(i.cmd("SEARCH SUBJECT gam").untagged, ["* SEARCH 3"]);
    assert_eq!(i.cmd("SEARCH OR DELETED SEEN").untagged, ["* SEARCH 2 3"]);
    assert_eq!(i.cmd("UID SEARCH NOT DELETED").untagged, ["* SEARCH 1 3"]);
    assert_eq!(i.cmd("SEARCH BODY \"of beta\"").untagged, ["* SEARCH 2"]);
    let r = i.cmd("SEARCH RETURN (MIN MAX COUNT) ALL");
    assert_eq!(
        r.untagged[0],
        format!(
            "* ESEARCH (TAG \"{}\") MIN 1 MAX 3 COUNT 3",
            r.tagged.split(' ').next().unwrap()
        )
    );
    assert_eq!(
        i.cmd("SEARCH CHARSET KOI8-R ALL").status(),
        "BAD [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"
    );
    let r = i.cmd("EXPUNGE");
    assert_eq!(r.untagged, ["* 2 EXPUNGE"]);
    assert_eq!(i.cmd("FETCH 2 UID").untagged, ["* 2 FETCH (UID 3)"]);
    assert_eq!(i.cmd("FETCH 9 UID").status(), "BAD no such message");
    assert_eq!(s.message_count("alice@example.test"), 2);
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

#[test]
fn two_sessions_see_each_others_changes() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["one", "two", "three"]);
    let mut a = Imap::login(s.imaps, "alice@example.test");
    let mut b = Imap::login(s.imaps, "alice@example.test");
    a.cmd("SELECT INBOX");
    b.cmd("SELECT INBOX");
    b.cmd("STORE 1 +FLAGS (\\Seen)");
    assert_eq!(
        a.cmd("NOOP").untagged,
        ["* 1 FETCH (FLAGS (\\Seen \\Recent))"]
    );
    b.cmd("STORE 2 +FLAGS (\\Deleted)");
    b.cmd("EXPUNGE");
    // Not during FETCH: sequence numbers stay as A knows them.
    assert_eq!(a.cmd("FETCH 3 UID").untagged, ["* 3 FETCH (UID 3)"]);
    assert_eq!(a.cmd("NOOP").untagged, ["* 2 EXPUNGE"]);
    assert_eq!(a.cmd("FETCH 2 UID").untagged, ["* 2 FETCH (UID 3)"]);
    deliver(&s, "alice@example.test", &["four"]);
    // Recent to this session: the two it saw first (1 and 3) and the new one.
    assert_eq!(
        a.cmd("NOOP").untagged,
        ["* 3 EXISTS", "* 3 RECENT"].map(String::from)
    );
    // UIDs never repeat.
    assert_eq!(a.cmd("FETCH 3 UID").untagged, ["* 3 FETCH (UID 4)"]);
}

#[test]
fn idle_reports_new_mail_within_a_second() {
    let s = server_with_users("");
    let mut a = Imap::login(s.imaps, "alice@example.test");
    a.cmd("SELECT INBOX");
    let tag = a.next_tag();
    a.c.send(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(a.line().unwrap(), "+ idling");
    let sent = Instant::now();
    deliver(&s, "alice@example.test", &["pushed"]);
    assert_eq!(a.line().unwrap(), "* 1 EXISTS");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(a.line().unwrap(), "* 1 RECENT");
    a.c.send(b"DONE\r\n");
    assert_eq!(a.until(&tag).status(), "OK IDLE terminated");
}

#[test]
fn hostile_input_gets_reasoned_answers() {
    let s = server_with_users("");
    let mut i = Imap::login(s.imaps, "alice@example.test");
    let tag = i.next_tag();
    i.c.send(format!("{tag} APPEND INBOX {{999999999999}}\r\n").as_bytes());
    assert_eq!(
        i.line().unwrap(),
        format!("{tag} NO [TOOBIG] literal of 999999999999 octets exceeds the limit of 52428800")
    );
    assert_eq!(
        i.cmd(&format!("SEARCH {}ALL{}", "(".repeat(50), ")".repeat(50)))
            .status(),
        "BAD parentheses nested too deep"
    );
    assert_eq!(
        i.cmd(&format!("SELECT INBOX {}", "(".repeat(3))).status(),
        "BAD missing ')'"
    );
    assert_eq!(i.cmd("FROBNICATE").status(), "BAD unknown command");
    assert_eq!(
        i.cmd("FETCH 1 FLAGS").status(),
        "BAD select a mailbox first"
    );
    // A name is a name: nothing reaches outside the account.
    assert!(i.cmd("CREATE \"../../../etc\"").ok());
    assert!(
        i.cmd("LIST \"\" \"../*\"")
            .untagged
            .iter()
            .any(|l| l.ends_with("\"../../../etc\""))
    );
    assert_eq!(
        i.cmd("CREATE \"a//b\"").status(),
        "BAD mailbox name has an empty level"
    );
    assert!(i.cmd("NOOP").ok(), "still usable");
    let tag = i.next_tag();
    i.c.send(format!("{tag} APPEND INBOX {{99999999999+}}\r\n").as_bytes());
    assert_eq!(
        i.line().unwrap(),
        "* BYE [TOOBIG] literal of 99999999999 octets exceeds the limit of 52428800"
    );
    assert!(i.c.is_closed());
}

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
