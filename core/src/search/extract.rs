//! What search sees of a message: headers decoded (RFC 2047, any charset), the text of every
//! text/plain and text/html part decoded from its charset and transfer encoding, and the names
//! of attachments. The index is built from these strings and SEARCH's scan compares against the
//! same strings, so the two always agree.

use super::index::Area;
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// Every string is folded (see `fold`): what the index holds and what the scan compares.
#[derive(Debug, Default, Clone)]
pub struct Extracted {
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    /// Every header as "Name: decoded value", one per line.
    pub header: String,
    /// Body text of all text parts, then attachment names.
    pub body: String,
}

impl Extracted {
    /// The decoded value SUBJECT, FROM, TO, CC or BCC searches; None for other headers.
    pub fn field(&self, name: &str) -> Option<&str> {
        Some(match Area::of_header(name)? {
            Area::Subject => &self.subject,
            Area::From => &self.from,
            Area::To => &self.to,
            Area::Cc => &self.cc,
            Area::Bcc => &self.bcc,
            Area::Body | Area::Header => return None,
        })
    }
}

/// Folding for search: lower case per character (no context), and every run of white space
/// as one space, so that a phrase matches across a line break or a wrapped line. Folding a
/// substring gives a substring of the folded text, which index and scan both rely on.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(&mut out, s);
    out
}

/// Appends `s` folded, so that folding parts one after another gives `fold` of the whole.
/// (Per character with an ASCII shortcut: measured faster than copying ASCII runs whole,
/// since mail's runs are short words.)
pub fn fold_into(out: &mut String, s: &str) {
    let mut space = out.ends_with(' ');
    for c in s.chars() {
        // Most mail text is ASCII: no Unicode tables needed for it.
        let white = if c.is_ascii() {
            c.is_ascii_whitespace() || c == '\x0b'
        } else {
            c.is_whitespace()
        };
        if white {
            if !space {
                out.push(' ');
            }
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        space = white;
    }
}

fn addresses(a: &Address<'_>) -> String {
    a.iter()
        .map(|x| match (x.name(), x.address()) {
            (Some(n), Some(addr)) => format!("{n} <{addr}>"),
            (None, Some(addr)) => addr.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_text(v: &HeaderValue<'_>, raw: &str) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        HeaderValue::Address(a) => addresses(a),
        _ => raw.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

pub fn extract(raw: &[u8]) -> Extracted {
    let Some(msg) = MessageParser::default().parse(raw) else {
        // Not parseable as a message: search its bytes as text.
        return Extracted {
            body: fold(&String::from_utf8_lossy(raw)),
            ..Extracted::default()
        };
    };
    let mut out = Extracted {
        subject: msg.subject().unwrap_or("").to_string(),
        from: msg.from().map(addresses).unwrap_or_default(),
        to: msg.to().map(addresses).unwrap_or_default(),
        cc: msg.cc().map(addresses).unwrap_or_default(),
        bcc: msg.bcc().map(addresses).unwrap_or_default(),
        ..Extracted::default()
    };
    let mut header = String::new();
    let raw_text = |start: u32, end: u32| -> String {
        raw.get(start as usize..end as usize)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    for h in msg.headers() {
        let v = value_text(&h.value, &raw_text(h.offset_start, h.offset_end));
        header.push_str(h.name.as_str());
        header.push_str(": ");
        header.push_str(&v);
        header.push('\n');
    }
    // The searched fields appear in the header block exactly as decoded above, so a match in
    // one is a match in TEXT too.
    for (label, value) in [
        ("Subject", &out.subject),
        ("From", &out.from),
        ("To", &out.to),
        ("Cc", &out.cc),
        ("Bcc", &out.bcc),
    ] {
        if !value.is_empty() {
            header.push_str(&format!("{label}: {value}\n"));
        }
    }
    out.header = fold(&header);
    for f in [
        &mut out.subject,
        &mut out.from,
        &mut out.to,
        &mut out.cc,
        &mut out.bcc,
    ] {
        *f = fold(f);
    }
    let mut body = String::new();
    let mut names = Vec::new();
    collect(&msg, &mut body, &mut names, &mut HashSet::new(), 0);
    for n in names {
        fold_into(&mut body, &n);
        fold_into(&mut body, "\n");
    }
    out.body = body;
    out
}

/// Forwarded messages nest as far as this; deeper ones are left out.
const MAX_NESTING: usize = 16;

/// The text of every part, descending into attached messages (their headers and text are part
/// of the body that BODY searches, RFC 3501 6.4.4).
/// A part whose text, folded, equals one already taken (the HTML twin of a text/plain
/// alternative, the same attachment twice) adds nothing a search could find, so it is left out.
fn collect(
    msg: &mail_parser::Message<'_>,
    body: &mut String,
    names: &mut Vec<String>,
    seen: &mut HashSet<u64>,
    depth: usize,
) {
    let take = |text: &str, body: &mut String, seen: &mut HashSet<u64>| {
        let folded = fold(text);
        let mut h = std::hash::DefaultHasher::new();
        folded.trim().hash(&mut h);
        if seen.insert(h.finish()) {
            fold_into(body, &folded);
            fold_into(body, "\n");
        }
    };
    for part in &msg.parts {
        match &part.body {
            PartType::Text(t) if !looks_binary(t) => take(t, body, seen),
            PartType::Html(h) => take(&mail_parser::decoders::html::html_to_text(h), body, seen),
            PartType::Message(inner) if depth < MAX_NESTING => {
                let inner_raw = inner.raw_message();
                for h in inner.headers() {
                    let rawv = inner_raw
                        .get(h.offset_start as usize..h.offset_end as usize)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    fold_into(body, h.name.as_str());
                    fold_into(body, ": ");
                    fold_into(body, &value_text(&h.value, &rawv));
                    fold_into(body, "\n");
                }
                collect(inner, body, names, seen, depth + 1);
            }
            _ => {}
        }
        if let Some(n) = part.attachment_name() {
            names.push(n.to_string());
        }
    }
}

/// A text part that is not text: binary data labelled text/* (a "text/csv" that is really a
/// spreadsheet, an octet stream with a wrong type). Its bytes decode to control characters
/// and replacement characters; real text in any charset has next to none. Such a part is
/// searched like any binary attachment, by its name only.
fn looks_binary(t: &str) -> bool {
    let mut chars = 0usize;
    let mut odd = 0usize;
    for c in t.chars().take(4096) {
        chars += 1;
        if c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c')) {
            odd += 1;
        }
    }
    // More than 1 in 20: text with a stray control character or two stays text.
    odd * 20 > chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_headers_bodies_and_names() {
        let m = b"From: =?UTF-8?B?5byg5LiJ?= <zhang@example.test>\r\nTo: a@b.test\r\n\
            Subject: =?ISO-8859-1?Q?Caf=E9?=\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            1tDOxA==\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>world</b></p>\r\n\
            --b\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
            Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\nxx\r\n--b--\r\n";
        let e = extract(m);
        assert_eq!(e.subject, "café");
        assert!(e.from.contains("张三"), "{}", e.from);
        assert!(e.body.contains("中文"), "{}", e.body);
        assert!(e.body.contains("hello world"), "{}", e.body);
        assert!(e.body.contains("report.pdf"));
        let bin = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\n\r\nhello\r\n--b\r\n\
            Content-Type: text/csv; name=\"data.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj\r\n--b--\r\n";
        let b = extract(bin);
        assert!(
            b.body.contains("hello") && b.body.contains("data.csv"),
            "{}",
            b.body
        );
        assert!(
            !b.body.contains('\u{1}'),
            "binary data labelled text is not text: {:?}",
            b.body
        );
        assert!(e.header.contains("subject: café"));
        assert_eq!(fold("ÀB"), "àb");
        assert_eq!(fold("a \r\n\tB  c\n"), "a b c ");
        assert_eq!(fold("Ä\u{a0}\u{2003}Ö"), "ä ö");
        let mut parts = fold("One \n");
        fold_into(&mut parts, "\tTwo");
        assert_eq!(parts, fold("One \n\tTwo"));
    }

    /// The fast path agrees with folding one character at a time.
    #[test]
    fn fold_agrees_with_the_plain_rule() {
        let reference = |s: &str| {
            let mut out = String::new();
            for c in s.chars() {
                if c.is_whitespace() {
                    if !out.ends_with(' ') {
                        out.push(' ');
                    }
                } else {
                    out.extend(c.to_lowercase());
                }
            }
            out
        };
        let alphabet: Vec<char> = "aZ \t\n\r\x0bÄİ\u{a0}\u{2003}中X.ß".chars().collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let text: String = (0..12)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(fold(&text), reference(&text), "{text:?}");
        }
    }

    #[test]
    fn forwarded_messages_are_searched_too() {
        let m = b"Subject: fwd\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
            Content-Type: text/plain\r\n\r\nsee below\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n\
            Subject: original topic\r\nContent-Type: text/plain\r\n\r\ninner words here\r\n--x--\r\n";
        let e = extract(m);
        assert!(
            e.body.contains("see below") && e.body.contains("inner words here"),
            "{}",
            e.body
        );
        assert!(e.body.contains("original topic"), "{}", e.body);
    }

    /// Messages nested as deep as a sender likes (multiparts in multiparts, messages in
    /// messages) are extracted on a thread with the runtime's 2 MiB stack.
    #[test]
    fn deep_nesting_on_a_small_stack() {
        let mut multipart = String::new();
        for i in 0..5_000 {
            multipart.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
            ));
        }
        multipart.push_str("\r\ninnermost\r\n");
        let mut rfc822 = String::new();
        for _ in 0..5_000 {
            rfc822.push_str("Content-Type: message/rfc822\r\n\r\n");
        }
        rfc822.push_str("Subject: inner\r\n\r\ntext\r\n");
        for m in [multipart, rfc822] {
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || extract(m.as_bytes()))
                .unwrap()
                .join()
                .expect("no stack overflow");
        }
    }
}
