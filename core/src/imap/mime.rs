//! Just enough MIME for IMAP: the part tree with byte ranges (for BODY[section]), content types
//! and parameters (for BODYSTRUCTURE), and header fields. Works on the raw bytes; never decodes
//! more than asked, never fails: a broken message is still a message with one text part.

const MAX_DEPTH: usize = 20;
const MAX_PARTS: usize = 2000;

#[derive(Debug)]
pub struct Part<'a> {
    /// The header block, up to and including the blank line (may be empty).
    pub header: &'a [u8],
    pub body: &'a [u8],
    pub ctype: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
    pub children: Vec<Part<'a>>,
    /// The message inside a message/rfc822 part.
    pub message: Option<Box<Part<'a>>>,
}

pub fn parse(msg: &[u8]) -> Part<'_> {
    let mut budget = MAX_PARTS;
    parse_part(msg, 0, None, &mut budget)
}

fn parse_part<'a>(
    raw: &'a [u8],
    depth: usize,
    default: Option<(&str, &str)>,
    budget: &mut usize,
) -> Part<'a> {
    let (header, body) = split_header(raw);
    let (mut ctype, mut subtype, params) = match field(header, "content-type") {
        Some(v) => content_type(&v),
        None => {
            let (t, s) = default.unwrap_or(("text", "plain"));
            (t.to_string(), s.to_string(), Vec::new())
        }
    };
    if ctype.is_empty() || subtype.is_empty() {
        (ctype, subtype) = ("text".into(), "plain".into());
    }
    let mut part = Part {
        header,
        body,
        ctype,
        subtype,
        params,
        children: Vec::new(),
        message: None,
    };
    *budget = budget.saturating_sub(1);
    if depth >= MAX_DEPTH || *budget == 0 {
        return part;
    }
    if part.ctype == "multipart" {
        let boundary = part
            .params
            .iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v.clone());
        if let Some(b) = boundary.filter(|b| !b.is_empty()) {
            let child_default = if part.subtype == "digest" {
                ("message", "rfc822")
            } else {
                ("text", "plain")
            };
            for chunk in split_multipart(body, b.as_bytes()) {
                part.children
                    .push(parse_part(chunk, depth + 1, Some(child_default), budget));
                if *budget == 0 {
                    break;
                }
            }
        }
        if part.children.is_empty() {
            // A multipart without parts is shown as one empty text part (as Dovecot does).
            part.children.push(Part {
                header: b"",
                body: b"",
                ctype: "text".into(),
                subtype: "plain".into(),
                params: Vec::new(),
                children: Vec::new(),
                message: None,
            });
        }
    } else if part.ctype == "message" && (part.subtype == "rfc822" || part.subtype == "global") {
        part.message = Some(Box::new(parse_part(body, depth + 1, None, budget)));
    }
    part
}

/// Splits at the first empty line; the header keeps its blank line.
pub fn split_header(raw: &[u8]) -> (&[u8], &[u8]) {
    let h = crate::store::header_of(raw);
    (h, &raw[h.len()..])
}

/// The bodies between `--boundary` lines, without the CRLF that belongs to each delimiter.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut line_start = 0;
    while line_start <= body.len() {
        let line_end = body[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| line_start + p + 1)
            .unwrap_or(body.len());
        let line = &body[line_start..line_end];
        if line.starts_with(&delim) {
            let rest = &line[delim.len()..];
            let closing = rest.starts_with(b"--");
            let trailing = if closing { &rest[2..] } else { rest };
            if trailing.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(s) = start {
                    let mut end = line_start;
                    if end > s && body[end - 1] == b'\n' {
                        end -= 1;
                        if end > s && body[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(&body[s..end.max(s)]);
                }
                if closing {
                    return parts;
                }
                start = Some(line_end);
            }
        }
        if line_end >= body.len() {
            break;
        }
        line_start = line_end;
    }
    if let Some(s) = start.filter(|&s| s <= body.len()) {
        parts.push(&body[s..]);
    }
    parts
}

/// Header fields in order, unfolded, with names as written.
pub fn fields(header: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(header);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// The first field called `name`, unfolded as `fields` does; one pass, nothing kept of the
/// other fields (a header can be as large as the message).
pub fn field(header: &[u8], name: &str) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for line in header.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if value.is_some() {
                break;
            }
            continue;
        }
        let folded = line[0] == b' ' || line[0] == b'\t';
        match value.as_mut() {
            Some(v) if folded => v.extend_from_slice(line),
            Some(_) => break,
            None if folded => {}
            None => {
                if let Some(colon) = line.iter().position(|&b| b == b':')
                    && String::from_utf8_lossy(&line[..colon])
                        .trim()
                        .eq_ignore_ascii_case(name)
                {
                    value = Some(line[colon + 1..].trim_ascii().to_vec());
                }
            }
        }
    }
    value.map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The raw lines of the named fields (or of all others with `not`), ending with the blank line.
pub fn header_subset(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or(b"");
            let name = String::from_utf8_lossy(name);
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name.trim()));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// "text/plain; charset=utf-8" to ("text", "plain", [("charset", "utf-8")]), lower-cased
/// names, values as written (quotes removed).
pub fn content_type(v: &str) -> (String, String, Vec<(String, String)>) {
    let mut parts = split_params(v);
    let main = parts.remove(0);
    let (t, s) = main.split_once('/').unwrap_or((&main, ""));
    let params = parts
        .iter()
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), unquote(v.trim())))
        })
        .collect();
    (
        t.trim().to_ascii_lowercase(),
        s.trim().to_ascii_lowercase(),
        params,
    )
}

/// Parameters of any structured field (Content-Disposition too).
pub fn params_of(v: &str) -> (String, Vec<(String, String)>) {
    let mut parts = split_params(v);
    let main = parts.remove(0).trim().to_ascii_lowercase();
    let params = parts
        .iter()
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), unquote(v.trim())))
        })
        .collect();
    (main, params)
}

fn split_params(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in v.chars() {
        if !escaped && !quoted && c == ';' {
            out.push(String::new());
            continue;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

impl<'a> Part<'a> {
    /// The part at a section path (1-based numbers), as IMAP numbers them (RFC 3501 6.4.5).
    pub fn find(&self, path: &[u32]) -> Option<&Part<'a>> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        let idx = first.checked_sub(1)? as usize;
        let child = if !self.children.is_empty() {
            self.children.get(idx)?
        } else if let Some(m) = &self.message {
            // Inside message/rfc822, numbers address the encapsulated message's parts.
            return if m.children.is_empty() {
                if idx == 0 {
                    m.find(rest).or(Some(m))
                } else {
                    None
                }
            } else {
                m.children.get(idx)?.find(rest)
            };
        } else if idx == 0 {
            self
        } else {
            return None;
        };
        child.find(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n\r\ninner text\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n\r\n--b1--\r\nepilogue\r\n";

    #[test]
    fn nested_structure() {
        let p = parse(NESTED);
        assert_eq!(
            (p.ctype.as_str(), p.subtype.as_str()),
            ("multipart", "mixed")
        );
        assert_eq!(p.children.len(), 2);
        assert_eq!(p.children[0].body, b"hello");
        assert_eq!(
            p.children[0].params,
            [("charset".to_string(), "utf-8".to_string())]
        );
        let m = p.children[1].message.as_ref().unwrap();
        assert_eq!(m.subtype, "alternative");
        assert_eq!(m.children[0].body, b"inner text");
        assert_eq!(p.find(&[2, 2]).unwrap().body, b"<p>x</p>");
        assert_eq!(p.find(&[1]).unwrap().body, b"hello");
        assert!(p.find(&[3]).is_none());
        assert_eq!(field(p.header, "SUBJECT").as_deref(), Some("outer"));
    }

    #[test]
    fn single_part_and_broken_input() {
        let p = parse(b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(p.find(&[1]).unwrap().body, b"body\r\n");
        let p = parse(b"no header at all");
        assert_eq!(p.ctype, "text");
        let p = parse(b"Content-Type: multipart/mixed\r\n\r\nno boundary");
        assert_eq!(p.children.len(), 1);
        let bomb: Vec<u8> = (0..50)
            .flat_map(|i| {
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .into_bytes()
            })
            .collect();
        let _ = parse(&bomb);
    }

    #[test]
    fn header_subsets() {
        let h = b"From: a\r\nTo: b\r\n  c\r\nSubject: s\r\n\r\n";
        assert_eq!(
            header_subset(h, &["to".into()], false),
            b"To: b\r\n  c\r\n\r\n"
        );
        assert_eq!(
            header_subset(h, &["to".into()], true),
            b"From: a\r\nSubject: s\r\n\r\n"
        );
        assert_eq!(fields(h)[1], ("To".into(), "b  c".into()));
    }
}
