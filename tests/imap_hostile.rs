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
