//! RFC 5322 header values that several parts read: address lists (IMAP's ENVELOPE, SORT keys,
//! the From: check before DKIM signing) and message-id lists (THREAD). Each is one pass over
//! the value, linear in its length whatever it holds, so no header a stranger writes can make
//! them slow.

/// One entry of an address list, as IMAP's ENVELOPE shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Mailbox(Mailbox),
    /// "name:" opening a group (RFC 5322 3.4); its members follow, then `GroupEnd`.
    GroupStart(String),
    GroupEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name (quotes removed), or the comment of a bare address.
    pub name: Option<String>,
    /// The local part as written.
    pub local: String,
    /// Empty when the address has no "@".
    pub domain: String,
}

impl Mailbox {
    /// "local@domain", or the local part alone when there is no domain.
    pub fn addr_spec(&self) -> String {
        if self.domain.is_empty() {
            self.local.clone()
        } else {
            format!("{}@{}", self.local, self.domain)
        }
    }
}

/// Where the scanner is: inside a quoted string, a comment (nested), or angle brackets.
#[derive(Default)]
struct Lexer {
    quoted: bool,
    escaped: bool,
    comment: u32,
    angle: bool,
}

impl Lexer {
    /// Feeds one byte; true when it is outside quotes and comments (a structural byte).
    fn top(&mut self, b: u8) -> bool {
        if self.escaped {
            self.escaped = false;
            return false;
        }
        match b {
            b'\\' if self.quoted || self.comment > 0 => {
                self.escaped = true;
                false
            }
            b'"' if self.comment == 0 => {
                self.quoted = !self.quoted;
                false
            }
            b'(' if !self.quoted => {
                self.comment += 1;
                false
            }
            b')' if !self.quoted && self.comment > 0 => {
                self.comment -= 1;
                false
            }
            _ => !self.quoted && self.comment == 0,
        }
    }
}

/// An address list, leniently: groups become start and end markers, entries without an
/// address are skipped. Delimiters are ASCII, so byte offsets always fall on char boundaries.
pub fn address_list(value: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut lx = Lexer::default();
    let mut in_group = false;
    // A ':' opens a group only before any '@' or '<' of the current entry.
    let mut may_open_group = true;
    let mut start = 0;
    for (i, &b) in value.as_bytes().iter().enumerate() {
        if !lx.top(b) {
            continue;
        }
        match b {
            b'<' => {
                lx.angle = true;
                may_open_group = false;
            }
            b'>' => lx.angle = false,
            _ if lx.angle => {}
            b'@' => may_open_group = false,
            b':' if !in_group && may_open_group => {
                out.push(Entry::GroupStart(unquote(value[start..i].trim())));
                in_group = true;
                start = i + 1;
            }
            b',' => {
                push_mailbox(&mut out, &value[start..i]);
                start = i + 1;
                may_open_group = true;
            }
            b';' if in_group => {
                push_mailbox(&mut out, &value[start..i]);
                out.push(Entry::GroupEnd);
                in_group = false;
                start = i + 1;
                may_open_group = true;
            }
            _ => {}
        }
    }
    push_mailbox(&mut out, &value[start..]);
    if in_group {
        out.push(Entry::GroupEnd);
    }
    out
}

/// The mailboxes of an address list, groups flattened.
pub fn mailboxes(value: &str) -> Vec<Mailbox> {
    address_list(value)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Mailbox(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn push_mailbox(out: &mut Vec<Entry>, item: &str) {
    let item = item.trim();
    if !item.is_empty() {
        out.push(Entry::Mailbox(mailbox(item)));
    }
}

/// "Name <addr>", "addr (comment)" or "addr".
fn mailbox(item: &str) -> Mailbox {
    let mut lx = Lexer::default();
    let mut open = None;
    let mut angle = None;
    let mut comment = None;
    for (i, &b) in item.as_bytes().iter().enumerate() {
        let was_comment = lx.comment;
        if lx.top(b) {
            match b {
                b'<' => open = Some(i),
                b'>' => {
                    if let Some(a) = open.take() {
                        angle = Some((a, i));
                    }
                }
                _ => {}
            }
        } else if was_comment == 0 && lx.comment == 1 && comment.is_none() {
            comment = Some((i, None));
        } else if was_comment == 1
            && lx.comment == 0
            && let Some((a, None)) = comment
        {
            comment = Some((a, Some(i)));
        }
    }
    let (name, spec) = match angle {
        Some((a, b)) => {
            let name = unquote(item[..a].trim());
            ((!name.is_empty()).then_some(name), item[a + 1..b].trim())
        }
        None => {
            let name = match comment {
                Some((a, Some(b))) => Some(item[a + 1..b].trim().to_string()),
                _ => None,
            }
            .filter(|c| !c.is_empty());
            let spec = match comment {
                Some((a, _)) => item[..a].trim(),
                None => item,
            };
            (name, spec)
        }
    };
    // A source route ("@a,@b:user@host") is dropped.
    let spec = spec.rsplit(':').next().unwrap_or(spec);
    match spec.rsplit_once('@') {
        Some((l, d)) => Mailbox {
            name,
            local: l.trim().to_string(),
            domain: d.trim().to_string(),
        },
        None => Mailbox {
            name,
            local: spec.to_string(),
            domain: String::new(),
        },
    }
}

/// A phrase with its quoted strings unquoted: quotes dropped, backslash escapes undone.
fn unquote(phrase: &str) -> String {
    let mut out = String::with_capacity(phrase.len());
    let (mut quoted, mut escaped) = (false, false);
    for c in phrase.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// The values of every field called `name` in a header block, unfolded, in order.
pub fn field_values(header: &[u8], name: &str) -> Vec<String> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open = false;
    for line in header.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if open && let Some(v) = out.last_mut() {
                v.extend_from_slice(line);
            }
            continue;
        }
        open = line
            .iter()
            .position(|&b| b == b':')
            .filter(|&c| line[..c].trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
            .map(|c| out.push(line[c + 1..].trim_ascii().to_vec()))
            .is_some();
    }
    out.into_iter()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .collect()
}

/// What is wrong with a message's From: (RFC 5322 3.6: exactly one, with an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromProblem {
    Missing,
    Several,
    NoAddress,
}

/// The mailboxes of the one From: field of a header block.
pub fn from_mailboxes(header: &[u8]) -> Result<Vec<Mailbox>, FromProblem> {
    let values = field_values(header, "from");
    let value = match values.as_slice() {
        [] => return Err(FromProblem::Missing),
        [one] => one,
        _ => return Err(FromProblem::Several),
    };
    // Only addresses with a domain count: DMARC aligns with the domain.
    let list: Vec<Mailbox> = mailboxes(value)
        .into_iter()
        .filter(|m| !m.domain.is_empty())
        .collect();
    if list.is_empty() {
        return Err(FromProblem::NoAddress);
    }
    Ok(list)
}

/// The message ids of a References or In-Reply-To value, in order, without their brackets.
/// Past `max` ids the first one and the last `max - 1` are kept: RFC 5322 3.6.4 trims
/// References the same way, and threading needs the root and the nearest parents.
pub fn message_ids(value: &str, max: usize) -> Vec<String> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = value;
    while let Some(a) = rest.find('<') {
        let Some(b) = rest[a..].find('>') else { break };
        let id = rest[a + 1..a + b].trim();
        if !id.is_empty() {
            out.push(id);
        }
        rest = &rest[a + b + 1..];
    }
    if max > 0 && out.len() > max {
        let tail = out.len() - (max - 1);
        out.drain(1..tail);
    }
    out.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: Option<&str>, local: &str, domain: &str) -> Entry {
        Entry::Mailbox(Mailbox {
            name: name.map(str::to_string),
            local: local.into(),
            domain: domain.into(),
        })
    }

    #[test]
    fn names_addresses_comments_and_groups() {
        assert_eq!(
            address_list(r#""Doe, John" <john@x.test>, jane@y.test (Jane D), <z@z.test>"#),
            [
                mb(Some("Doe, John"), "john", "x.test"),
                mb(Some("Jane D"), "jane", "y.test"),
                mb(None, "z", "z.test"),
            ]
        );
        assert_eq!(
            address_list("team: a@x.test, \"B\" <b@x.test>; c@y.test"),
            [
                Entry::GroupStart("team".into()),
                mb(None, "a", "x.test"),
                mb(Some("B"), "b", "x.test"),
                Entry::GroupEnd,
                mb(None, "c", "y.test"),
            ]
        );
        assert_eq!(
            address_list("undisclosed-recipients:;"),
            [
                Entry::GroupStart("undisclosed-recipients".into()),
                Entry::GroupEnd
            ]
        );
        assert_eq!(
            address_list(r#""A \"q\" B" <@route:a@b.test>"#),
            [mb(Some(r#"A "q" B"#), "a", "b.test")]
        );
        assert_eq!(address_list("nobody"), [mb(None, "nobody", "")]);
        assert!(address_list(" , ,").is_empty());
    }

    #[test]
    fn hostile_lists_are_linear() {
        // An open group never closed and 200 000 commas: one pass, no rescanning.
        let v = format!("g: {}", "a@b, ".repeat(200_000));
        let list = address_list(&v);
        assert_eq!(list.len(), 200_002);
        let v = format!("{}x", "(".repeat(100_000));
        assert_eq!(address_list(&v).len(), 1);
    }

    #[test]
    fn the_one_from_field() {
        let h =
            b"Subject: x\r\nFrom: \"Boss, The\" <ceo@b.test>,\r\n other@b.test\r\n\r\nFrom: body";
        let m = from_mailboxes(h).unwrap();
        assert_eq!(
            m.iter().map(|m| m.addr_spec()).collect::<Vec<_>>(),
            ["ceo@b.test", "other@b.test"]
        );
        assert_eq!(
            from_mailboxes(b"From: a@x\r\nfrom: b@y\r\n\r\n"),
            Err(FromProblem::Several)
        );
        assert_eq!(
            from_mailboxes(b"To: a@x\r\n\r\n"),
            Err(FromProblem::Missing)
        );
        assert_eq!(
            from_mailboxes(b"From: ;\r\n\r\n"),
            Err(FromProblem::NoAddress)
        );
        assert_eq!(field_values(b"X: 1\r\nY: 2\r\nx: 3\r\n", "x"), ["1", "3"]);
    }

    #[test]
    fn message_ids_keep_the_first_and_the_last() {
        assert_eq!(
            message_ids("<a@x> <b@x>\r\n <c@x>", 10),
            ["a@x", "b@x", "c@x"]
        );
        let many: String = (0..100).map(|i| format!("<{i}@x> ")).collect();
        let kept = message_ids(&many, 5);
        assert_eq!(kept, ["0@x", "96@x", "97@x", "98@x", "99@x"]);
        assert!(message_ids("<unclosed", 5).is_empty());
    }
}
