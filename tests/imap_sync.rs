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

/// QRESYNC (RFC 7162): a client that comes back learns what vanished and what changed since
/// its last look, in one SELECT.
#[test]
fn qresync_resynchronises_a_returning_client() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["one", "two", "three", "four"]);
    let mut a = Imap::login(s.imaps, "alice@example.test");
    assert_eq!(
        a.cmd("SELECT INBOX (QRESYNC (1 1))").status(),
        "BAD ENABLE QRESYNC first"
    );
    assert_eq!(a.cmd("ENABLE QRESYNC").untagged, ["* ENABLED QRESYNC"]);
    let sel = a.cmd("SELECT INBOX");
    let find = |prefix: &str| -> u64 {
        let l = sel.untagged.iter().find(|l| l.starts_with(prefix)).unwrap();
        l[prefix.len()..]
            .split(']')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (uidvalidity, modseq) = (find("* OK [UIDVALIDITY "), find("* OK [HIGHESTMODSEQ "));
    a.cmd("LOGOUT");

    let mut b = Imap::login(s.imaps, "alice@example.test");
    b.cmd("SELECT INBOX");
    b.cmd("STORE 1 +FLAGS (\\Seen)");
    b.cmd("STORE 2 +FLAGS (\\Deleted)");
    b.cmd("EXPUNGE");

    let mut c = Imap::login(s.imaps, "alice@example.test");
    c.cmd("ENABLE QRESYNC");
    let r = c.cmd(&format!(
        "SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:4))"
    ));
    assert!(
        r.untagged.contains(&"* VANISHED (EARLIER) 2".to_string()),
        "{:?}",
        r.untagged
    );
    let fetched: Vec<&String> = r
        .untagged
        .iter()
        .filter(|l| l.contains(" FETCH (UID "))
        .collect();
    assert_eq!(fetched.len(), 1, "{:?}", r.untagged);
    assert!(
        fetched[0].starts_with("* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ ("),
        "{}",
        fetched[0]
    );
    let r = c.cmd(&format!(
        "UID FETCH 1:* FLAGS (CHANGEDSINCE {modseq} VANISHED)"
    ));
    assert_eq!(r.untagged[0], "* VANISHED (EARLIER) 2");
    // With QRESYNC enabled, an expunge elsewhere arrives as VANISHED, not EXPUNGE.
    b.cmd("STORE 3 +FLAGS (\\Deleted)");
    b.cmd("EXPUNGE");
    assert_eq!(c.cmd("NOOP").untagged, ["* VANISHED 4"]);
    // A wrong UIDVALIDITY gets a plain SELECT.
    let r = c.cmd("SELECT INBOX (QRESYNC (1 1))");
    assert!(!r.untagged.iter().any(|l| l.contains("VANISHED")));
}

/// A client that pipelines commands without reading the answers meets TCP back-pressure: the
/// server stops reading instead of buffering replies without bound.
#[test]
fn command_flood_without_reading_stays_bounded() {
    use std::io::Write;
    // Logged in (over plain text, allowed on loopback here): a stranger is cut off after 50
    // commands anyway.
    let s = server_with_users("[auth]\nallow_plaintext_on_loopback = true\n");
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = rss();
    let stream = std::net::TcpStream::connect(s.imap).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let login = format!("l LOGIN alice@example.test {}\r\n", common::PASSWORD);
        if writer.write_all(login.as_bytes()).is_err() {
            return;
        }
        let chunk = b"a NOOP\r\n".repeat(8192);
        // 64 MiB of commands; blocks (and then fails at shutdown) once the server stops reading.
        for _ in 0..1024 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let during = rss();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    flood.join().unwrap();
    assert!(
        during < before + 32 * 1024,
        "RSS grew from {before} KiB to {during} KiB"
    );
    // And the server still serves.
    let (mut i, _) = Imap::connect(s.imap);
    assert!(i.cmd("NOOP").ok());
}
