//! Roost's own spam score, with no engine installed: the header rules file an obvious phish to
//! Junk with X-Roost-Score saying why, and each user's Bayesian classifier learns from their
//! IMAP moves (into Junk: spam; from INBOX to Archive, or out of Junk: not spam) and then
//! sorts new mail for them alone.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{server_with_users, wait_until};

const SPAM_WORDS: &[&str] = &[
    "casino",
    "jackpot",
    "bonus",
    "winner",
    "lottery",
    "bitcoin",
    "investment",
    "guaranteed",
    "profit",
    "pharmacy",
    "discount",
    "viagra",
    "replica",
    "watches",
    "unclaimed",
    "prize",
];
const HAM_WORDS: &[&str] = &[
    "meeting", "agenda", "project", "lunch", "family", "photos", "weekend", "garden", "school",
    "holiday", "minutes", "report", "dinner", "grandma", "birthday", "recipe",
];

/// A well-formed message (Date, Message-ID: no header rule fires) made of the words.
fn message(n: usize, subject: &str, words: &[&str]) -> String {
    let body: Vec<&str> = (0..60).map(|i| words[(i * 7 + n) % words.len()]).collect();
    format!(
        "From: <sender{n}@remote.test>\nTo: <alice@example.test>\nSubject: {subject} {n}\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <m{n}.{subject}@remote.test>\n\n{}\n",
        body.join(" ")
    )
}

fn db_value(s: &common::Server, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(s.data.join("roost.db")).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn an_obvious_phish_is_filed_to_junk_by_the_header_rules_alone() {
    let s = server_with_users("");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let phish = "From: \"service@bank.example\" <x@phish.test>\nSubject: VERIFY YOUR ACCOUNT NOW\n\
                 Content-Type: text/html\n\n<p>click</p>\n";
    assert_eq!(
        c.send_mail("x@phish.test", &["alice@example.test"], phish)
            .code,
        250
    );
    let clean = message(0, "notes", HAM_WORDS);
    assert_eq!(
        c.send_mail("x@remote.test", &["alice@example.test"], &clean)
            .code,
        250
    );
    wait_until(10, "both messages", || {
        s.mailbox("alice@example.test", "Junk").len() == 1
            && s.inbox("alice@example.test").len() == 1
    });
    let junk = String::from_utf8_lossy(&s.mailbox("alice@example.test", "Junk")[0]).to_string();
    assert!(junk.contains("X-Roost-Score: 6.0 ("), "{junk}");
    assert!(junk.contains("FROM_NAME_OTHER_ADDRESS=2.0"), "{junk}");
    let inbox = String::from_utf8_lossy(&s.inbox("alice@example.test")[0]).to_string();
    assert!(!inbox.contains("X-Roost-Score"), "{inbox}");
    // Off: nothing scored, nothing filed.
    let off = server_with_users("[protection]\nauthentication = false\nclassifier = false\n");
    let (mut c, _) = Client::connect(off.smtp);
    c.ehlo();
    assert_eq!(
        c.send_mail("x@phish.test", &["alice@example.test"], phish)
            .code,
        250
    );
    wait_until(10, "the message", || {
        off.inbox("alice@example.test").len() == 1
    });
}

#[test]
fn each_users_classifier_learns_from_their_moves_and_sorts_their_mail() {
    let s =
        server_with_users("[protection]\nauthentication = false\nclassifier_min_learned = 10\n");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    for n in 0..12 {
        let r = c.send_mail(
            "x@remote.test",
            &["alice@example.test"],
            &message(n, "offer", SPAM_WORDS),
        );
        assert_eq!(r.code, 250);
        let r = c.send_mail(
            "x@remote.test",
            &["alice@example.test"],
            &message(n, "family", HAM_WORDS),
        );
        assert_eq!(r.code, 250);
    }
    wait_until(10, "24 messages", || {
        s.inbox("alice@example.test").len() == 24
    });
    // Untrained: a spammy message still reaches the inbox.
    let early = message(90, "offer", SPAM_WORDS);
    assert_eq!(
        c.send_mail("x@remote.test", &["alice@example.test"], &early)
            .code,
        250
    );
    wait_until(10, "25 messages", || {
        s.inbox("alice@example.test").len() == 25
    });

    let mut imap = Imap::login(s.imaps, "alice@example.test");
    assert!(imap.cmd("SELECT INBOX").ok());
    let found = imap.cmd("UID SEARCH SUBJECT offer");
    let spam_uids: Vec<String> = found.untagged[0]
        .trim_start_matches("* SEARCH")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(spam_uids.len(), 13);
    assert!(
        imap.cmd(&format!("UID MOVE {} Junk", spam_uids.join(",")))
            .ok()
    );
    let found = imap.cmd("UID SEARCH SUBJECT family");
    let ham_uids: Vec<String> = found.untagged[0]
        .trim_start_matches("* SEARCH")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(ham_uids.len(), 12);
    assert!(
        imap.cmd(&format!("UID MOVE {} Archive", ham_uids.join(",")))
            .ok()
    );
    wait_until(20, "the classifier to learn", || {
        db_value(
            &s,
            "SELECT ifnull(sum(spam), 0) * 1000 + ifnull(sum(ham), 0) FROM bayes_totals",
        ) == 13_012
    });
    assert!(s.log().contains("learned from the user's sorting"));

    // Now new spam goes to alice's Junk, new ham to her INBOX; bob, untaught, gets both.
    let spam = message(91, "offer", SPAM_WORDS);
    let ham = message(92, "family", HAM_WORDS);
    for m in [&spam, &ham] {
        let r = c.send_mail(
            "x@remote.test",
            &["alice@example.test", "bob@example.test"],
            m,
        );
        assert_eq!(r.code, 250);
    }
    wait_until(10, "the sorted copies", || {
        s.mailbox("alice@example.test", "Junk").len() == 14
            && s.inbox("alice@example.test").len() == 1
            && s.inbox("bob@example.test").len() == 2
    });
    let log = s.log();
    assert!(
        log.contains("BAYES_99") || log.contains("BAYES_95"),
        "no Bayes verdict in the log"
    );

    // A mind changed: a message taken back out of Junk is learned again as not spam, once.
    assert!(imap.cmd("SELECT Junk").ok());
    assert!(imap.cmd("MOVE 1 INBOX").ok());
    wait_until(20, "the relearning", || {
        db_value(&s, "SELECT sum(spam) * 1000 + sum(ham) FROM bayes_totals") == 12_013
    });
    // Bounded: the account's tokens stay under the cap.
    let tokens = db_value(&s, "SELECT count(*) FROM bayes_tokens");
    assert!(tokens > 10 && tokens < 120_000, "{tokens}");

    // What the admin sees, and a fresh start on request.
    let shown: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "classifier", "show"])).unwrap();
    assert_eq!(shown[0]["user"], "alice@example.test");
    assert_eq!(shown[0]["spam"], 12);
    assert_eq!(shown[0]["ham"], 13);
    assert_eq!(shown[0]["active"], true);
    assert!(s.ok(&["classifier", "show"]).contains("yes"));
    s.ok(&["classifier", "reset", "alice@example.test"]);
    assert!(s.ok(&["classifier", "show"]).contains("no user has sorted"));
    assert!(
        !s.admin(&["classifier", "reset", "nobody@example.test"])
            .status
            .success()
    );
}
