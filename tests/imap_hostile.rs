//! Hostile input against IMAP: what a stranger's message or a logged-in user can send to stop
//! the daemon or freeze other sessions. Each test checks that the daemon stays up and that
//! another session logs in and gets its answers while the hostile command runs.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{Server, server_with_users};

/// A second user's session works: login, SELECT, a FETCH.
fn another_session_answers(s: &Server) {
    let mut b = Imap::login(s.imaps, "bob@example.test");
    assert!(b.cmd("SELECT INBOX").ok());
    assert!(b.cmd("NOOP").ok());
    assert!(b.cmd("LOGOUT").ok());
}

fn send(s: &Server, to: &str, message: &str) {
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = c.send_mail("stranger@remote.test", &[to], message);
    assert_eq!(r.code, 250, "{r:?}");
}

/// Defect 1: a message whose References holds 60,000 message ids overflowed the stack of the
/// whole daemon at every THREAD, again after each restart.
#[test]
fn thread_over_sixty_thousand_references_survives() {
    let s = server_with_users("");
    let refs: String = (0..60_000)
        .map(|i| format!("\r\n <ref{i}@remote.test>"))
        .collect();
    send(
        &s,
        "alice@example.test",
        &format!(
            "From: x@remote.test\r\nSubject: deep\r\nMessage-ID: <deep@remote.test>\r\nReferences:{refs}\r\n\r\nbody\r\n"
        ),
    );
    // One long line too, and a reply chain on top.
    let line: String = (0..60_000)
        .map(|i| format!(" <ref{i}@remote.test>"))
        .collect();
    send(
        &s,
        "alice@example.test",
        &format!(
            "From: x@remote.test\r\nSubject: Re: deep\r\nMessage-ID: <deeper@remote.test>\r\nReferences:{line} <deep@remote.test>\r\n\r\nbody\r\n"
        ),
    );
    let mut a = Imap::login(s.imaps, "alice@example.test");
    assert!(a.cmd("SELECT INBOX").ok());
    let tag = a.next_tag();
    a.c.send(format!("{tag} UID THREAD REFERENCES UTF-8 ALL\r\n").as_bytes());
    another_session_answers(&s);
    let r = a.until(&tag);
    assert!(r.ok(), "{}", r.tagged);
    assert_eq!(r.untagged, ["* THREAD (1 2)"]);
    // ORDEREDSUBJECT and SORT over the same headers.
    let r = a.cmd("THREAD ORDEREDSUBJECT UTF-8 ALL");
    assert_eq!(r.untagged, ["* THREAD (1 2)"], "{}", r.tagged);
    assert!(a.cmd("SORT (SUBJECT) UTF-8 ALL").ok());
    assert!(a.cmd("FETCH 1:* (ENVELOPE BODYSTRUCTURE)").ok());
    // The daemon is still the same process.
    assert!(s.child.as_ref().is_some());
    another_session_answers(&s);
}

/// Defect 2: a backtracking LIST matcher froze every IMAP session on one core.
#[test]
fn list_with_a_pathological_pattern_freezes_nobody() {
    let s = server_with_users("");
    let mut a = Imap::login(s.imaps, "alice@example.test");
    for i in 0..30 {
        let name = format!("{}{i:02}", "a".repeat(43));
        assert!(a.cmd(&format!("CREATE {name}")).ok());
    }
    let tag = a.next_tag();
    a.c.send(format!("{tag} LIST \"\" \"*a*a*a*a*a*a*a*a*b\"\r\n").as_bytes());
    another_session_answers(&s);
    let r = a.until(&tag);
    assert!(r.ok(), "{}", r.tagged);
    assert!(r.untagged.is_empty(), "{:?}", r.untagged);
    // A pattern that does match (a "0" then anything: 00 to 09, 10 and 20), and one too
    // long to take.
    let r = a.cmd("LIST \"\" \"*a*a*a*a*a*a*a*a*0%\"");
    assert_eq!(r.untagged.len(), 12, "{:?}", r.untagged);
    let long = "*a".repeat(600);
    assert!(
        a.cmd(&format!("LIST \"\" \"{long}\""))
            .status()
            .starts_with("BAD")
    );
    another_session_answers(&s);
}

/// ENVELOPE of addresses built to be split again and again: an open group and 100,000
/// commas, and as many nested comments.
#[test]
fn envelope_of_hostile_address_lists() {
    let s = server_with_users("");
    let commas = "x@y, ".repeat(100_000);
    let parens = "(".repeat(50_000);
    send(
        &s,
        "alice@example.test",
        &format!(
            "From: a@remote.test\r\nTo: group: {commas}\r\nCc: {parens}\r\nSubject: {}\r\n\r\nbody\r\n",
            "Re: ".repeat(50_000)
        ),
    );
    let mut a = Imap::login(s.imaps, "alice@example.test");
    assert!(a.cmd("SELECT INBOX").ok());
    let tag = a.next_tag();
    a.c.send(format!("{tag} FETCH 1 (ENVELOPE)\r\n").as_bytes());
    another_session_answers(&s);
    let r = a.until(&tag);
    assert!(r.ok(), "{}", r.tagged);
    assert!(a.cmd("SORT (SUBJECT TO CC) UTF-8 ALL").ok());
    another_session_answers(&s);
}

/// Before login a stranger gets a few KiB: a large literal is refused before a byte of it is
/// read, a LITERAL+ one ends the connection, a long line is answered BAD, and a flood of
/// commands without a login ends with BYE.
#[test]
fn strangers_get_a_few_kilobytes_and_a_few_commands() {
    let s = server_with_users("");
    let (mut i, _) = Imap::connect(s.imap);
    let tag = i.next_tag();
    i.c.send(format!("{tag} LOGIN {{1000000}}\r\n").as_bytes());
    let r = i.until(&tag);
    assert!(r.status().starts_with("NO [TOOBIG]"), "{}", r.tagged);
    assert!(r.tagged.contains("before login"), "{}", r.tagged);
    // A small literal is fine (a password with odd characters).
    let tag = i.next_tag();
    i.c.send(format!("{tag} ID {{5}}\r\n").as_bytes());
    assert_eq!(i.line().unwrap(), "+ Ready for literal data");
    i.c.send(b"hello\r\n");
    let r = i.until(&tag);
    assert!(!r.tagged.contains("TOOBIG"), "{}", r.tagged);
    // Lines before login are cut at 8 KiB.
    let long = "A".repeat(10_000);
    i.c.send(format!("y NOOP {long}\r\n").as_bytes());
    assert_eq!(i.line().unwrap(), "* BAD line too long");
    assert!(i.cmd("NOOP").ok());
    let (mut plus, _) = Imap::connect(s.imap);
    plus.c.send(b"a LOGIN {1000000+}\r\n");
    assert!(plus.line().unwrap().starts_with("* BYE [TOOBIG]"));
    let (mut flood, _) = Imap::connect(s.imap);
    flood.c.send(&b"x CAPABILITY\r\n".repeat(60));
    let mut lines = Vec::new();
    while let Some(l) = flood.line() {
        lines.push(l);
    }
    assert_eq!(
        lines.last().map(String::as_str),
        Some("* BYE too many commands without logging in")
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("x OK")).count(), 50);
    another_session_answers(&s);
}

/// Nesting and counts a client chooses: refused with BAD, never a stack overflow.
#[test]
fn deep_nesting_and_huge_programs() {
    let s = server_with_users("");
    send(&s, "alice@example.test", "Subject: one\r\n\r\nbody\r\n");
    let mut a = Imap::login(s.imaps, "alice@example.test");
    assert!(a.cmd("SELECT INBOX").ok());
    let parens = "(".repeat(20_000);
    assert!(
        a.cmd(&format!("FETCH 1 {parens}"))
            .status()
            .starts_with("BAD")
    );
    let ors = "OR ".repeat(5_000);
    assert!(
        a.cmd(&format!("SEARCH {ors}ALL ALL"))
            .status()
            .starts_with("BAD")
    );
    let nots = "NOT ".repeat(5_000);
    assert!(
        a.cmd(&format!("SEARCH {nots}ALL"))
            .status()
            .starts_with("BAD")
    );
    let set: String = (1..10_000).map(|n| format!("{n},")).collect();
    assert!(a.cmd(&format!("FETCH {set}1 (FLAGS)")).ok());
    // A line past the 64 KiB limit is thrown away whole; the session goes on.
    let too_long: String = (1..20_000).map(|n| format!("{n},")).collect();
    a.c.send(format!("x FETCH {too_long}1 (FLAGS)\r\n").as_bytes());
    assert_eq!(a.line().unwrap(), "* BAD line too long");
    assert!(a.cmd("NOOP").ok());
    let many = " ALL".repeat(15_000);
    let r = a.cmd(&format!("SEARCH{many}"));
    assert!(
        r.tagged.contains("OK") || r.tagged.contains("BAD"),
        "{}",
        r.tagged
    );
    another_session_answers(&s);
}

/// An APPEND far larger than the whole message memory budget waits for the budget and goes
/// through; the message comes back byte for byte.
#[test]
fn append_larger_than_the_memory_budget() {
    let s = server_with_users("[limits]\nmessage_memory = \"1M\"\nmessage_in_memory = \"256K\"\n");
    let mut a = Imap::login(s.imaps, "alice@example.test");
    let big = format!("Subject: big\r\n\r\n{}", "z123456789\r\n".repeat(300_000));
    let tag = a.next_tag();
    a.c.send(format!("{tag} APPEND INBOX {{{}+}}\r\n", big.len()).as_bytes());
    a.c.send(big.as_bytes());
    a.c.send(b"\r\n");
    let r = a.until(&tag);
    assert!(r.ok(), "{}", r.tagged);
    assert!(a.cmd("SELECT INBOX").ok());
    let r = a.cmd("FETCH 1 BODY.PEEK[]");
    assert!(r.ok());
    assert!(r.untagged[0].contains(&big[big.len() - 1000..]));
    another_session_answers(&s);
}

/// Searching and sorting messages far larger than the message memory budget: read a chunk at
/// a time within the budget, and SORT keeps only headers of what matched.
#[test]
fn search_and_sort_over_messages_larger_than_the_budget() {
    let s = server_with_users("[limits]\nmessage_memory = \"1M\"\nmessage_in_memory = \"256K\"\n");
    for (i, word) in ["apple", "needle", "pear", "needle"].iter().enumerate() {
        let filler = "lorem ipsum dolor sit amet\r\n".repeat(80_000);
        send(
            &s,
            "alice@example.test",
            &format!("Subject: m{i}\r\n\r\n{filler}the word is {word}\r\n"),
        );
    }
    let mut a = Imap::login(s.imaps, "alice@example.test");
    assert!(a.cmd("SELECT INBOX").ok());
    let r = a.cmd("SEARCH BODY needle");
    assert_eq!(r.untagged, ["* SEARCH 2 4"], "{}", r.tagged);
    let r = a.cmd("SORT (REVERSE SUBJECT) UTF-8 TEXT needle");
    assert_eq!(r.untagged, ["* SORT 4 2"], "{}", r.tagged);
    another_session_answers(&s);
}
