//! ENVELOPE and BODYSTRUCTURE (RFC 3501 7.4.2), written as IMAP data.

use super::mime::{self, Part};

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

struct Addr {
    name: Option<String>,
    mailbox: Option<String>,
    host: Option<String>,
}

/// An address list as IMAP wants it; group syntax becomes the start and end markers.
fn addresses(v: &str) -> Vec<Addr> {
    let mut out = Vec::new();
    for item in split_top(v, ',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        // "group: a, b;" — markers around the members.
        if let Some((group, members)) = split_group(item) {
            out.push(Addr {
                name: None,
                mailbox: Some(group.trim().to_string()),
                host: None,
            });
            for m in split_top(members.trim_end_matches(';'), ',') {
                if !m.trim().is_empty() {
                    out.push(address(m.trim()));
                }
            }
            out.push(Addr {
                name: None,
                mailbox: None,
                host: None,
            });
            continue;
        }
        out.push(address(item));
    }
    out
}

fn split_group(item: &str) -> Option<(&str, &str)> {
    let colon = item.find(':')?;
    let before = &item[..colon];
    if before.contains('<') || before.contains('"') || before.contains('@') {
        return None;
    }
    Some((before, &item[colon + 1..]))
}

fn address(item: &str) -> Addr {
    let (name, spec) = match (item.rfind('<'), item.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = item[..a].trim().trim_matches('"').trim();
            (
                (!name.is_empty()).then(|| name.to_string()),
                item[a + 1..b].trim(),
            )
        }
        _ => {
            // addr-spec with an optional (comment) as the name.
            let (spec, comment) = match (item.find('('), item.rfind(')')) {
                (Some(a), Some(b)) if a < b => {
                    (item[..a].trim(), Some(item[a + 1..b].trim().to_string()))
                }
                _ => (item, None),
            };
            (comment.filter(|c| !c.is_empty()), spec)
        }
    };
    let spec = spec.rsplit(':').next().unwrap_or(spec); // drop a source route
    match spec.rsplit_once('@') {
        Some((m, h)) => Addr {
            name,
            mailbox: Some(m.to_string()),
            host: Some(h.to_string()),
        },
        None => Addr {
            name,
            mailbox: Some(spec.to_string()),
            host: Some(String::new()),
        },
    }
}

/// Splits on `sep` outside quotes, comments and angle brackets.
fn split_top(v: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut paren, mut angle, mut escaped) = (false, 0i32, false, false);
    let mut start = 0;
    for (i, c) in v.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => paren += 1,
            ')' if !quoted => paren -= 1,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            c if c == sep && !quoted && paren <= 0 && !angle && !in_open_group(&v[start..i]) => {
                out.push(&v[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

/// True while a "name:" group has started in `s` and its ';' has not come yet.
fn in_open_group(s: &str) -> bool {
    split_group(s.trim()).is_some_and(|(_, members)| !members.contains(';'))
}

fn address_list(out: &mut Vec<u8>, header: &[u8], name: &str, fallback: Option<&str>, utf8: bool) {
    let value = mime::field(header, name).or_else(|| fallback.and_then(|f| mime::field(header, f)));
    let list = value.map(|v| addresses(&v)).unwrap_or_default();
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref().map(str::as_bytes), utf8);
        out.extend_from_slice(b" NIL ");
        nstring(out, a.mailbox.as_deref().map(str::as_bytes), utf8);
        out.push(b' ');
        nstring(out, a.host.as_deref().map(str::as_bytes), utf8);
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
