//! What search sees of a message: headers decoded (RFC 2047, any charset), the text of every
//! text/plain and text/html part decoded from its charset and transfer encoding, and the names
//! of attachments. The index is built from these strings and SEARCH's scan compares against the
//! same strings, so the two always agree.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

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
    /// What TEXT searches: the header block, then the body.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.header, self.body)
    }

    /// The decoded value SUBJECT, FROM, TO, CC or BCC searches; None for other headers.
    pub fn field(&self, name: &str) -> Option<&str> {
        Some(match name.to_ascii_lowercase().as_str() {
            "subject" => &self.subject,
            "from" => &self.from,
            "to" => &self.to,
            "cc" => &self.cc,
            "bcc" => &self.bcc,
            _ => return None,
        })
    }
}

/// Case folding for search: per character (no context), so that folding a substring gives a
/// substring of the folded text, which index and scan both rely on.
pub fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
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
            body: String::from_utf8_lossy(raw).into_owned(),
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
    let raw_text = |start: u32, end: u32| -> String {
        raw.get(start as usize..end as usize)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    for h in msg.headers() {
        let v = value_text(&h.value, &raw_text(h.offset_start, h.offset_end));
        out.header.push_str(h.name.as_str());
        out.header.push_str(": ");
        out.header.push_str(&v);
        out.header.push('\n');
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
            out.header.push_str(&format!("{label}: {value}\n"));
        }
    }
    let mut body = String::new();
    let mut names = Vec::new();
    collect(&msg, &mut body, &mut names, 0);
    if !names.is_empty() {
        body.push_str(&names.join("\n"));
        body.push('\n');
    }
    out.body = body;
    out
}

/// Forwarded messages nest as far as this; deeper ones are left out.
const MAX_NESTING: usize = 16;

/// The text of every part, descending into attached messages (their headers and text are part
/// of the body that BODY searches, RFC 3501 6.4.4).
fn collect(
    msg: &mail_parser::Message<'_>,
    body: &mut String,
    names: &mut Vec<String>,
    depth: usize,
) {
    for part in &msg.parts {
        match &part.body {
            PartType::Text(t) => {
                body.push_str(t);
                body.push('\n');
            }
            PartType::Html(h) => {
                body.push_str(&mail_parser::decoders::html::html_to_text(h));
                body.push('\n');
            }
            PartType::Message(inner) if depth < MAX_NESTING => {
                let inner_raw = inner.raw_message();
                for h in inner.headers() {
                    let rawv = inner_raw
                        .get(h.offset_start as usize..h.offset_end as usize)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    body.push_str(h.name.as_str());
                    body.push_str(": ");
                    body.push_str(&value_text(&h.value, &rawv));
                    body.push('\n');
                }
                collect(inner, body, names, depth + 1);
            }
            _ => {}
        }
        if let Some(n) = part.attachment_name() {
            names.push(n.to_string());
        }
    }
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
        assert_eq!(e.subject, "Café");
        assert!(e.from.contains("张三"), "{}", e.from);
        assert!(e.body.contains("中文"), "{}", e.body);
        assert!(e.body.contains("Hello world"), "{}", e.body);
        assert!(e.body.contains("report.pdf"));
        assert!(e.text().contains("Subject: Café"));
        assert_eq!(fold("ÀB"), "àb");
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
}
