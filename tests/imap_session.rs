//! IMAP sessions: the greeting, TLS before passwords, LOGIN and AUTHENTICATE, capabilities.

mod common;

use common::imap::Imap;
use common::{PASSWORD, deliver, server_with_users};

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

/// IMAP4rev2 after ENABLE (RFC 9051): ESEARCH answers, no \Recent, UTF-8 mailbox names.
#[test]
fn imap4rev2_after_enable() {
    let s = server_with_users("");
    deliver(&s, "alice@example.test", &["one", "two"]);
    let mut i = Imap::login(s.imaps, "alice@example.test");
    assert_eq!(i.cmd("ENABLE IMAP4rev2").untagged, ["* ENABLED IMAP4rev2"]);
    let sel = i.cmd("SELECT INBOX");
    assert!(
        !sel.untagged
            .iter()
            .any(|l| l.contains("RECENT") || l.contains("UNSEEN")),
        "{:?}",
        sel.untagged
    );
    assert!(
        sel.untagged
            .contains(&"* LIST () \"/\" \"INBOX\"".to_string()),
        "{:?}",
        sel.untagged
    );
    let r = i.cmd("SEARCH ALL");
    assert_eq!(
        r.untagged,
        [format!(
            "* ESEARCH (TAG \"{}\") ALL 1:2",
            r.tagged.split(' ').next().unwrap()
        )]
    );
    assert_eq!(i.cmd("FETCH 1 FLAGS").untagged, ["* 1 FETCH (FLAGS ())"]);
    assert!(i.cmd("CREATE Entwürfe").ok());
    assert!(
        i.cmd("LIST \"\" \"Entw*\"")
            .untagged
            .contains(&"* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"".to_string())
    );
}
