//! ENVELOPE and BODYSTRUCTURE (RFC 3501 7.4.2), written as IMAP data.

use super::mime::{self, Part};
use crate::rfc5322::{self, Entry};

/// Appends an IMAP string: quoted when it can be, a literal when it holds CR, LF, NUL, 8-bit
/// bytes (without UTF8=ACCEPT) or is long.
pub fn string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    let needs_literal = s.len() > 1000
        || s.iter()
            .any(|&b| b == b'\r' || b == b'\n' || b == 0 || (b >= 0x80 && !utf8));
    if needs_literal {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
        return;
    }
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>, utf8: bool) {
    match s {
        Some(s) => string(out, s, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

fn address_list(out: &mut Vec<u8>, header: &[u8], name: &str, fallback: Option<&str>, utf8: bool) {
    let value = mime::field(header, name).or_else(|| fallback.and_then(|f| mime::field(header, f)));
    let list = value.map(|v| rfc5322::address_list(&v)).unwrap_or_default();
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for entry in list {
        // (name adl mailbox host); a group is (NIL NIL name NIL) ... (NIL NIL NIL NIL).
        let (name, mailbox, host) = match &entry {
            Entry::Mailbox(m) => (
                m.name.as_deref(),
                Some(m.local.as_str()),
                Some(m.domain.as_str()),
            ),
            Entry::GroupStart(g) => (None, Some(g.as_str()), None),
            Entry::GroupEnd => (None, None, None),
        };
        out.push(b'(');
        nstring(out, name.map(str::as_bytes), utf8);
        out.extend_from_slice(b" NIL ");
        nstring(out, mailbox.map(str::as_bytes), utf8);
        out.push(b' ');
        nstring(out, host.map(str::as_bytes), utf8);
        out.push(b')');
    }
    out.push(b')');
}

pub fn envelope(out: &mut Vec<u8>, header: &[u8], utf8: bool) {
    let f = |n: &str| mime::field(header, n);
    out.push(b'(');
    nstring(out, f("date").as_deref().map(str::as_bytes), utf8);
    out.push(b' ');
    nstring(out, f("subject").as_deref().map(str::as_bytes), utf8);
    for (name, fallback) in [
        ("from", None),
        ("sender", Some("from")),
        ("reply-to", Some("from")),
        ("to", None),
        ("cc", None),
        ("bcc", None),
    ] {
        out.push(b' ');
        address_list(out, header, name, fallback, utf8);
    }
    out.push(b' ');
    nstring(out, f("in-reply-to").as_deref().map(str::as_bytes), utf8);
    out.push(b' ');
    nstring(out, f("message-id").as_deref().map(str::as_bytes), utf8);
    out.push(b')');
}

fn params(out: &mut Vec<u8>, params: &[(String, String)], utf8: bool) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, k.to_ascii_uppercase().as_bytes(), utf8);
        out.push(b' ');
        string(out, v.as_bytes(), utf8);
    }
    out.push(b')');
}

fn lines(body: &[u8]) -> usize {
    let n = body.iter().filter(|&&b| b == b'\n').count();
    if body.is_empty() || body.ends_with(b"\n") {
        n
    } else {
        n + 1
    }
}

/// BODYSTRUCTURE (`extended`) or BODY.
pub fn body_structure(out: &mut Vec<u8>, p: &Part<'_>, extended: bool, utf8: bool) {
    out.push(b'(');
    if p.ctype == "multipart" {
        for c in &p.children {
            body_structure(out, c, extended, utf8);
        }
        out.push(b' ');
        string(out, p.subtype.to_ascii_uppercase().as_bytes(), utf8);
        if extended {
            out.push(b' ');
            params(out, &p.params, utf8);
            extension_tail(out, p.header, utf8);
        }
        out.push(b')');
        return;
    }
    string(out, p.ctype.to_ascii_uppercase().as_bytes(), utf8);
    out.push(b' ');
    string(out, p.subtype.to_ascii_uppercase().as_bytes(), utf8);
    out.push(b' ');
    let mut ps = p.params.clone();
    if p.ctype == "text" && !ps.iter().any(|(k, _)| k == "charset") {
        ps.push(("charset".into(), "us-ascii".into()));
    }
    params(out, &ps, utf8);
    let f = |n: &str| mime::field(p.header, n);
    out.push(b' ');
    nstring(out, f("content-id").as_deref().map(str::as_bytes), utf8);
    out.push(b' ');
    nstring(
        out,
        f("content-description").as_deref().map(str::as_bytes),
        utf8,
    );
    out.push(b' ');
    let enc = f("content-transfer-encoding")
        .map(|e| e.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "7BIT".into());
    string(out, enc.as_bytes(), utf8);
    out.extend_from_slice(format!(" {}", p.body.len()).as_bytes());
    if let Some(m) = &p.message {
        out.push(b' ');
        envelope(out, m.header, utf8);
        out.push(b' ');
        body_structure(out, m, extended, utf8);
        out.extend_from_slice(format!(" {}", lines(p.body)).as_bytes());
    } else if p.ctype == "text" {
        out.extend_from_slice(format!(" {}", lines(p.body)).as_bytes());
    }
    if extended {
        out.push(b' ');
        nstring(out, f("content-md5").as_deref().map(str::as_bytes), utf8);
        extension_tail(out, p.header, utf8);
    }
    out.push(b')');
}

/// disposition, language, location.
fn extension_tail(out: &mut Vec<u8>, header: &[u8], utf8: bool) {
    out.push(b' ');
    match mime::field(header, "content-disposition") {
        Some(d) => {
            let (kind, ps) = mime::params_of(&d);
            out.push(b'(');
            string(out, kind.to_ascii_uppercase().as_bytes(), utf8);
            out.push(b' ');
            params(out, &ps, utf8);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match mime::field(header, "content-language") {
        Some(l) => string(out, l.trim().as_bytes(), utf8),
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstring(
        out,
        mime::field(header, "content-location")
            .as_deref()
            .map(str::as_bytes),
        utf8,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(h: &str) -> String {
        let mut out = Vec::new();
        envelope(&mut out, h.as_bytes(), false);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn envelope_addresses() {
        let e = env(
            "From: \"Alice A.\" <alice@example.test>\r\nTo: bob@example.test, Carol <carol@x.test>\r\nSubject: Hi \"there\"\r\nMessage-ID: <1@x>\r\n\r\n",
        );
        assert_eq!(
            e,
            r#"(NIL "Hi \"there\"" (("Alice A." NIL "alice" "example.test")) (("Alice A." NIL "alice" "example.test")) (("Alice A." NIL "alice" "example.test")) ((NIL NIL "bob" "example.test")("Carol" NIL "carol" "x.test")) NIL NIL NIL "<1@x>")"#
        );
        let g = env("To: undisclosed-recipients:;\r\n\r\n");
        assert!(
            g.contains(r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#),
            "{g}"
        );
    }

    #[test]
    fn structure_of_a_simple_text_message() {
        let m = b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline1\r\nline2\r\n";
        let p = mime::parse(m);
        let mut out = Vec::new();
        body_structure(&mut out, &p, false, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 14 2)"#
        );
    }

    #[test]
    fn strings_become_literals_when_needed() {
        let mut out = Vec::new();
        string(&mut out, "Grüße".as_bytes(), false);
        assert!(out.starts_with(b"{7}\r\n"));
        let mut out = Vec::new();
        string(&mut out, "Grüße".as_bytes(), true);
        assert_eq!(out, "\"Grüße\"".as_bytes());
    }
}
