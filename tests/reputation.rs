//! Allow and block lists, the automatic blocks and greylisting, through the real roost process
//! and its CLI, as an admin and a hostile client see them. Every client here comes from
//! 127.0.0.1, which the tests take off the exemptions where a block of it is wanted.

mod common;

use common::imap::Imap;
use common::smtp::Client;
use common::{server_with_users, wait_until};
use std::time::Duration;

const MSG: &str = "From: <spam@bad.test>\nTo: <alice@example.test>\nSubject: hello\n\nhello\n";

fn connect_reply(s: &common::Server) -> String {
    let (_, line) = Client::connect_line(s.smtp);
    line
}

fn block_list(s: &common::Server) -> serde_json::Value {
    serde_json::from_str(&s.ok(&["--json", "block", "list"])).unwrap()
}

#[test]
fn a_blocked_address_is_refused_on_every_service_until_removed_or_lapsed() {
    let s = server_with_users("");
    let out = s.ok(&["block", "add", "127.0.0.1", "--reason", "testing"]);
    assert!(
        out.contains("127.0.0.1 is blocked for the whole server"),
        "{out}"
    );
    let line = connect_reply(&s);
    assert!(line.starts_with("554 5.7.1"), "{line}");
    assert!(line.contains("blocked"), "{line}");
    let (_, greeting) = Imap::connect(s.imap);
    assert!(greeting.starts_with("* BYE"), "{greeting}");
    let list = s.ok(&["block", "list"]);
    assert!(
        list.contains("127.0.0.1") && list.contains("testing"),
        "{list}"
    );
    assert!(s.log().contains("connection refused: blocked"));

    let out = s.ok(&["block", "remove", "127.0.0.1"]);
    assert!(out.contains("removed"), "{out}");
    assert!(connect_reply(&s).starts_with("220"));
    let again = s.admin(&["block", "remove", "127.0.0.1"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("on neither list"));

    // A network, for a while.
    s.ok(&["block", "add", "127.0.0.0/8", "--for", "2s"]);
    assert!(connect_reply(&s).starts_with("554"));
    wait_until(10, "the block to lapse", || {
        connect_reply(&s).starts_with("220")
    });
    assert_eq!(block_list(&s).as_array().unwrap().len(), 0);

    // Bad input is refused with a reason and changes nothing.
    for bad in ["300.1.2.3", "10.0.0.0/99", "@nodot", "a b@x.test"] {
        let out = s.admin(&["block", "add", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(!out.stderr.is_empty());
    }
    let out = s.admin(&["block", "add", "192.0.2.1", "--for", "soon"]);
    assert!(!out.status.success());
    assert_eq!(block_list(&s).as_array().unwrap().len(), 0);
}

#[test]
fn the_server_blocks_senders_and_whole_domains_at_mail_from() {
    let s = server_with_users("");
    s.ok(&["block", "add", "@bad.test"]);
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let r = c.cmd("MAIL FROM:<spam@bad.test>");
    assert_eq!(r.code, 550, "{r:?}");
    c.cmd("RSET");
    // A subdomain of a blocked domain is blocked too; another sender is not.
    assert_eq!(c.cmd("MAIL FROM:<x@mail.bad.test>").code, 550);
    c.cmd("RSET");
    assert_eq!(
        c.send_mail("ok@good.test", &["alice@example.test"], MSG)
            .code,
        250
    );
    // A signed-in user is not judged by the lists.
    let entries = block_list(&s);
    assert_eq!(entries[0]["entry"], "@bad.test");
    assert_eq!(entries[0]["automatic"], false);
}

#[test]
fn a_users_own_lists_refuse_at_rcpt_and_file_authors_to_junk() {
    let s = server_with_users("");
    s.ok(&[
        "block",
        "add",
        "spam@bad.test",
        "--user",
        "alice@example.test",
    ]);
    s.ok(&["block", "add", "@pest.test", "--user", "alice@example.test"]);
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<spam@bad.test>").code, 250);
    let r = c.cmd("RCPT TO:<alice@example.test>");
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().contains("does not accept mail"), "{r:?}");
    // Bob has no such entry.
    assert_eq!(c.cmd("RCPT TO:<bob@example.test>").code, 250);
    c.cmd("RSET");
    // An author in From: that alice blocked, behind an envelope sender she did not: her copy
    // goes to Junk, bob's to INBOX.
    let msg = "From: <nuisance@pest.test>\nTo: <alice@example.test>\nSubject: pest\n\nhi\n";
    let r = c.send_mail(
        "bounce@mailer.test",
        &["alice@example.test", "bob@example.test"],
        msg,
    );
    assert_eq!(r.code, 250, "{r:?}");
    wait_until(10, "the copies", || {
        s.mailbox("alice@example.test", "Junk").len() == 1 && s.inbox("bob@example.test").len() == 1
    });
    assert!(s.inbox("alice@example.test").is_empty());
    let mine = s.ok(&["block", "list", "--user", "alice@example.test"]);
    assert!(
        mine.contains("@pest.test") && mine.contains("alice@example.test"),
        "{mine}"
    );
    let out = s.admin(&["block", "add", "x@y.test", "--user", "nobody@example.test"]);
    assert!(!out.status.success());
}

#[test]
fn allowed_senders_are_not_filed_to_junk() {
    // The attachment rule files to Junk here: something to override.
    let s =
        server_with_users("[protection]\nauthentication = false\nattachment_action = \"junk\"\n");
    let msg = "From: <friend@partner.test>\nTo: <alice@example.test>\nSubject: tool\n\
               MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
               Content-Type: text/plain\n\nhere\n--b\nContent-Type: application/octet-stream\n\
               Content-Disposition: attachment; filename=tool.exe\n\nTVqQAAMAAAAEAAAA\n--b--\n";
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(
        c.send_mail("friend@partner.test", &["alice@example.test"], msg)
            .code,
        250
    );
    wait_until(10, "the first copy", || {
        s.mailbox("alice@example.test", "Junk").len() == 1
    });
    s.ok(&[
        "allow",
        "add",
        "@partner.test",
        "--user",
        "alice@example.test",
    ]);
    assert_eq!(
        c.send_mail("friend@partner.test", &["alice@example.test"], msg)
            .code,
        250
    );
    wait_until(10, "the second copy", || {
        s.inbox("alice@example.test").len() == 1
    });
    let out = s.ok(&["allow", "list"]);
    assert!(
        out.contains("allow") && out.contains("@partner.test"),
        "{out}"
    );
    // On one list at a time: blocking replaces the allow entry.
    s.ok(&[
        "block",
        "add",
        "@partner.test",
        "--user",
        "alice@example.test",
    ]);
    assert!(!s.ok(&["allow", "list"]).contains("@partner.test"));
}

#[test]
fn a_client_hunting_for_addresses_is_blocked_automatically() {
    let s = server_with_users(
        "[protection]\nauthentication = false\nauto_block_exempt = []\n\
         unknown_recipients_max = 3\nauto_block_secs = 600\n",
    );
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<probe@bad.test>").code, 250);
    for name in ["a", "b", "c"] {
        let r = c.cmd(&format!("RCPT TO:<{name}@example.test>"));
        assert_eq!(r.code, 550);
    }
    wait_until(10, "the automatic block", || {
        connect_reply(&s).starts_with("554")
    });
    let entries = block_list(&s);
    assert_eq!(entries[0]["entry"], "127.0.0.1");
    assert_eq!(entries[0]["automatic"], true);
    assert_eq!(entries[0]["reason"], "too many unknown recipients");
    assert!(entries[0]["expires"].as_i64().is_some());
    assert!(s.log().contains("client blocked automatically"));
    s.ok(&["block", "remove", "127.0.0.1"]);
    assert!(connect_reply(&s).starts_with("220"));
}

#[test]
fn mail_to_a_spam_trap_blocks_the_client() {
    let s = server_with_users(
        "[protection]\nauthentication = false\nauto_block_exempt = []\n\
         spam_traps = [\"trap@example.test\"]\n",
    );
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<spam@bad.test>").code, 250);
    // The trap looks like any unknown address.
    let r = c.cmd("RCPT TO:<trap@example.test>");
    assert_eq!(r.code, 550);
    assert!(r.text().contains("no such user"));
    wait_until(10, "the block", || connect_reply(&s).starts_with("554"));
    assert_eq!(block_list(&s)[0]["reason"], "mail to a spam trap");
}

#[test]
fn failed_logins_block_the_address_on_every_service() {
    let s = server_with_users(
        "[auth]\nmax_failures = 3\nallow_plaintext_on_loopback = true\n\
         [protection]\nauthentication = false\nauto_block_exempt = []\n",
    );
    let (mut i, _) = Imap::connect(s.imap);
    for n in 0..3 {
        let r = i.cmd(&format!("LOGIN alice@example.test wrong{n}"));
        assert!(!r.ok());
    }
    wait_until(10, "the block", || connect_reply(&s).starts_with("554"));
    let (_, greeting) = Imap::connect(s.imap);
    assert!(greeting.starts_with("* BYE"), "{greeting}");
    assert_eq!(block_list(&s)[0]["reason"], "failed logins");
}

#[test]
fn the_exempt_addresses_are_never_blocked_automatically() {
    // 127.0.0.1 is exempt by default.
    let s = server_with_users("[protection]\nauthentication = false\nunknown_recipients_max = 2\n");
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<probe@bad.test>").code, 250);
    for name in ["a", "b", "c", "d"] {
        assert_eq!(c.cmd(&format!("RCPT TO:<{name}@example.test>")).code, 550);
    }
    s.wait_log("not blocked: the address is exempt");
    assert!(connect_reply(&s).starts_with("220"));
    assert_eq!(block_list(&s).as_array().unwrap().len(), 0);
}

#[test]
fn greylisting_lets_a_retry_through_after_the_delay() {
    let s = server_with_users(
        "[protection]\nauthentication = false\ngreylisting = true\ngreylist_delay_secs = 2\n",
    );
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let mut rcpt = |from: &str, to: &str| {
        assert_eq!(c.cmd(&format!("MAIL FROM:<{from}>")).code, 250);
        let r = c.cmd(&format!("RCPT TO:<{to}>"));
        c.cmd("RSET");
        r
    };
    let first = rcpt("new@sender.test", "alice@example.test");
    assert_eq!(first.code, 451, "{first:?}");
    assert!(first.text().contains("Greylisted"), "{first:?}");
    // Too soon: still waiting.
    assert_eq!(rcpt("new@sender.test", "alice@example.test").code, 451);
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(rcpt("new@sender.test", "alice@example.test").code, 250);
    // Known now: straight through; a new recipient starts over.
    assert_eq!(rcpt("new@sender.test", "alice@example.test").code, 250);
    assert_eq!(rcpt("new@sender.test", "bob@example.test").code, 451);
    // An allowed sender is never greylisted.
    s.ok(&["allow", "add", "@friend.test"]);
    assert_eq!(rcpt("a@friend.test", "bob@example.test").code, 250);
    assert!(s.log().contains("greylisted"));
    let status = s.ok(&["status"]);
    assert!(
        status.contains("greylisting") && status.contains("waits 2s"),
        "{status}"
    );
    assert!(status.contains("automatic blocks"), "{status}");
    assert_eq!(
        c.send_mail("new@sender.test", &["alice@example.test"], MSG)
            .code,
        250
    );
}

#[test]
fn a_first_time_sender_waits_for_the_answer_once() {
    let s = server_with_users(
        "[auth]\nallow_plaintext_on_loopback = true\n\
         [protection]\nauthentication = false\nfirst_sender_delay_secs = 2\n\
         first_sender_delay_exempt = []\n",
    );
    let (mut c, _) = Client::connect(s.smtp);
    c.ehlo();
    let started = std::time::Instant::now();
    assert_eq!(
        c.send_mail("new@sender.test", &["alice@example.test"], MSG)
            .code,
        250
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    // Stored before the wait: the message is there however the client fares.
    assert_eq!(s.inbox("alice@example.test").len(), 1);
    assert_eq!(
        c.send_mail("new@sender.test", &["alice@example.test"], MSG)
            .code,
        250
    );
    // Someone alice wrote to is known to her from then on.
    let (mut sub, _) = Client::connect(s.submission);
    sub.ehlo();
    assert_eq!(
        sub.auth_plain("alice@example.test", common::PASSWORD).code,
        235
    );
    let note = "From: <alice@example.test>\nTo: <friend@far.test>\nSubject: hi\n\nhi\n";
    assert_eq!(
        sub.send_mail("alice@example.test", &["friend@far.test"], note)
            .code,
        250
    );
    assert_eq!(
        c.send_mail("friend@far.test", &["alice@example.test"], MSG)
            .code,
        250
    );
    let delayed = s.log().matches("first-time sender: answer delayed").count();
    assert_eq!(delayed, 1, "only the very first message waited");
}
