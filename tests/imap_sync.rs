//! IMAP concurrency and robustness: sessions see each other's changes, IDLE pushes within a
//! second, hostile input gets reasoned answers.

mod common;

use common::imap::Imap;
use common::{deliver, server_with_users};
use std::time::{Duration, Instant};

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
