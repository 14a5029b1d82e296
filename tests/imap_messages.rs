//! IMAP message commands: FETCH, STORE, SEARCH, EXPUNGE, SORT, THREAD, QUOTA, and the
//! BODYSTRUCTURE of unusual messages.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{deliver, server_with_users};

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
fn sort_thread_and_quota() {
    let s = server_with_users("");
    s.ok(&["user", "quota", "alice@example.test", "10M"]);
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let msgs = [
        (
            "Date: Mon, 2 Jan 2026 10:00:00 +0000\nSubject: Zebra\nMessage-ID: <a@x>\nFrom: zed@x.test",
            "one",
        ),
        (
            "Date: Sun, 1 Jan 2026 10:00:00 +0000\nSubject: Re: Zebra\nMessage-ID: <b@x>\nReferences: <a@x>\nFrom: amy@x.test",
            "two",
        ),
        (
            "Date: Tue, 3 Jan 2026 10:00:00 +0000\nSubject: apple\nMessage-ID: <c@x>\nFrom: bob@x.test",
            "three, the longest body of all",
        ),
    ];
    for (h, b) in msgs {
        assert_eq!(
            c.send_mail(
                "x@remote.test",
                &["alice@example.test"],
                &format!("{h}\n\n{b}\n")
            )
            .code,
            250
        );
    }
    let mut i = Imap::login(s.imaps, "alice@example.test");
    i.cmd("SELECT INBOX");
    assert_eq!(i.cmd("SORT (SUBJECT) UTF-8 ALL").untagged, ["* SORT 3 1 2"]);
    assert_eq!(i.cmd("SORT (DATE) UTF-8 ALL").untagged, ["* SORT 2 1 3"]);
    assert_eq!(
        i.cmd("SORT (REVERSE SIZE) UTF-8 ALL").untagged,
        ["* SORT 3 2 1"]
    );
    assert_eq!(
        i.cmd("SORT (FROM) UTF-8 NOT FROM bob").untagged,
        ["* SORT 2 1"]
    );
    assert_eq!(
        i.cmd("UID SORT (ARRIVAL) UTF-8 ALL").untagged,
        ["* SORT 1 2 3"]
    );
    assert_eq!(
        i.cmd("THREAD REFERENCES UTF-8 ALL").untagged,
        ["* THREAD (1 2)(3)"]
    );
    assert_eq!(
        i.cmd("THREAD ORDEREDSUBJECT UTF-8 ALL").untagged,
        ["* THREAD (2 1)(3)"]
    );
    assert_eq!(
        i.cmd("SORT (SUBJECT) KOI8-R ALL").status(),
        "BAD [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"
    );
    let used_kib = s.user("alice@example.test")["used"]
        .as_u64()
        .unwrap()
        .div_ceil(1024);
    let q = i.cmd("GETQUOTAROOT INBOX");
    assert_eq!(
        q.untagged,
        [
            "* QUOTAROOT \"INBOX\" \"\"".to_string(),
            format!("* QUOTA \"\" (STORAGE {used_kib} 10240)")
        ]
    );
    assert_eq!(
        i.cmd("SETQUOTA \"\" (STORAGE 1)").status(),
        "NO [NOPERM] quotas are set by the administrator"
    );
}

/// BODYSTRUCTURE of nested and unusual messages, compared whole.
#[test]
fn bodystructure_corpus() {
    let s = server_with_users("");
    let mut i = Imap::login(s.imaps, "alice@example.test");
    let corpus: [(&str, &str); 4] = [
        (
            "Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: a@b.test\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain\r\n\r\nplain\r\n--alt\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n<b>html</b>\r\n--alt--\r\n--outer\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--outer--\r\n",
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 15 1 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 201 (NIL "inner" ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) NIL NIL NIL NIL NIL) (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "alt") NIL NIL NIL) 13 NIL NIL NIL NIL)("APPLICATION" "PDF" ("NAME" "r.pdf") NIL NIL "BASE64" 8 NIL ("ATTACHMENT" ("FILENAME" "r.pdf")) NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)"#,
        ),
        (
            "Subject: no content type\r\n\r\nline\r\n",
            r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 6 1 NIL NIL NIL NIL)"#,
        ),
        (
            "Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n",
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "MIXED" NIL NIL NIL NIL)"#,
        ),
        (
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nunterminated part",
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 17 1 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)"#,
        ),
    ];
    for (n, (msg, want)) in corpus.iter().enumerate() {
        assert!(
            i.cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
                .ok()
        );
        i.cmd("SELECT INBOX");
        let r = i.cmd(&format!("FETCH {} BODYSTRUCTURE", n + 1));
        assert_eq!(
            r.untagged,
            [format!("* {} FETCH (BODYSTRUCTURE {want})", n + 1)],
            "message {n}"
        );
    }
    // Sections of the nested message.
    let r = i.cmd("FETCH 1 (BODY.PEEK[2.2] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BINARY.PEEK[1] BODY.PEEK[3.MIME])");
    assert_eq!(
        r.untagged,
        [
            "* 1 FETCH (BODY[2.2] {11}\r\n<b>html</b> BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n BINARY[1] {7}\r\nGrüße BODY[3.MIME] {133}\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n)"
        ]
    );
}

/// SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) remembers the result; `$` uses it.
#[test]
fn saved_search_results() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["a", "b", "c", "d"]);
    let mut i = Imap::login(s.imaps, "alice@example.test");
    i.cmd("SELECT INBOX");
    i.cmd("STORE 2,4 +FLAGS (\\Flagged)");
    let r = i.cmd("SEARCH RETURN (SAVE) FLAGGED");
    assert!(r.ok() && r.untagged.is_empty(), "{:?}", r.untagged);
    assert_eq!(
        i.cmd("FETCH $ (UID)").untagged,
        ["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)"]
    );
    assert_eq!(i.cmd("SEARCH $ SUBJECT d").untagged, ["* SEARCH 4"]);
    assert_eq!(
        i.cmd("UID STORE $ +FLAGS.SILENT (\\Seen)").status(),
        "OK STORE completed"
    );
    assert_eq!(i.cmd("SEARCH SEEN").untagged, ["* SEARCH 2 4"]);
    let r = i.cmd("SEARCH RETURN (SAVE MIN) SUBJECT c");
    assert!(r.untagged[0].ends_with(" MIN 3"), "{:?}", r.untagged);
    assert_eq!(
        i.cmd("UID FETCH $ (FLAGS)").untagged,
        ["* 3 FETCH (UID 3 FLAGS (\\Recent))"]
    );
    assert!(i.cmd("CAPABILITY").untagged[0].contains(" SEARCHRES"));
}

/// Hostile and unusual messages: every one gets a well-formed answer, never an error or a hang.
#[test]
fn hostile_mime_corpus() {
    let s = server_with_users("");
    let mut i = Imap::login(s.imaps, "alice@example.test");
    let deep = {
        let mut m = String::new();
        for d in 0..200 {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{d}\"\r\n\r\n--b{d}\r\n"
            ));
        }
        m.push_str("\r\ninnermost\r\n");
        m
    };
    let corpus: Vec<(String, &str)> = vec![
        // Encoded words stay encoded in ENVELOPE; the group syntax becomes its markers.
        (
            "From: =?UTF-8?B?w4Rsw7Zu?= <a@x.test>\r\nTo: team: b@x.test, c@x.test;\r\nSubject: =?ISO-8859-1?Q?caf=E9?=\r\n\r\nx\r\n".into(),
            "(NIL \"=?ISO-8859-1?Q?caf=E9?=\" ((\"=?UTF-8?B?w4Rsw7Zu?=\" NIL \"a\" \"x.test\"))",
        ),
        // Raw 8-bit header bytes: sent as a literal to a client that has not enabled UTF-8.
        ("Subject: Grüße\r\n\r\nx\r\n".into(), "(NIL {7}\r\nGrüße"),
        // No blank line at all: the whole message is header.
        ("Subject: only a header\r\nX-Other: y".into(), "(NIL \"only a header\""),
        // 200 nested multiparts: bounded depth, still an answer.
        (deep, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
        // An empty message/rfc822 part.
        ("Content-Type: message/rfc822\r\n\r\n".into(), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
    ];
    for (n, (msg, envelope_start)) in corpus.iter().enumerate() {
        assert!(
            i.cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
                .ok(),
            "append {n}"
        );
        i.cmd("SELECT INBOX");
        let r = i.cmd(&format!(
            "FETCH {} (ENVELOPE BODYSTRUCTURE BODY[1] BINARY.SIZE[1])",
            n + 1
        ));
        assert!(r.ok(), "message {n}: {}", r.tagged);
        assert_eq!(r.untagged.len(), 1, "message {n}");
        let line = &r.untagged[0];
        assert!(
            line.starts_with(&format!("* {} FETCH (ENVELOPE {envelope_start}", n + 1)),
            "message {n}: {line}"
        );
        assert!(
            line.contains(" BODYSTRUCTURE (") && line.ends_with(')'),
            "message {n}: {line}"
        );
    }
}
