//! IMAP tokens (RFC 3501 section 9, RFC 9051): atoms, quoted strings, literals, parenthesized
//! lists and NIL, from a command already assembled with its literals. No I/O here.
//!
//! A command arrives as text segments and the literals between them: a text segment that ends
//! with `{N}` or `{N+}` is followed by the N bytes of its literal.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    List(Vec<Tok>),
    Nil,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(Vec<u8>),
    Literal(Vec<u8>),
}

/// Nesting deeper than this is refused: no client needs it, and recursion stays bounded.
pub const MAX_DEPTH: usize = 32;

/// The size and kind of the literal a command line announces at its end: `{N}` (synchronizing:
/// the server must say "+ go ahead") or `{N+}` (LITERAL+: the bytes follow at once).
pub fn literal_suffix(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let inner = &body[open + 1..];
    let (digits, sync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inner, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, sync))
}

/// The tag at the start of a line, for answering a command that cannot be parsed.
pub fn tag_of(line: &[u8]) -> Option<String> {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let tag = std::str::from_utf8(&line[..end]).ok()?;
    (!tag.is_empty() && tag.bytes().all(is_tag_char)).then(|| tag.to_string())
}

fn is_tag_char(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

fn is_atom_char(b: u8) -> bool {
    b > b' ' && b != 0x7f && !matches!(b, b'(' | b')' | b'{' | b'"')
}

pub fn tokenize(segments: &[Segment]) -> Result<Vec<Tok>, &'static str> {
    let mut lexer = Lexer {
        segments,
        seg: 0,
        pos: 0,
    };
    let out = lexer.list(0)?;
    if lexer.seg < segments.len() {
        return Err("unbalanced ')'");
    }
    Ok(out)
}

struct Lexer<'a> {
    segments: &'a [Segment],
    seg: usize,
    pos: usize,
}

impl Lexer<'_> {
    fn text(&self) -> Option<&[u8]> {
        match self.segments.get(self.seg)? {
            Segment::Text(t) => Some(&t[self.pos.min(t.len())..]),
            Segment::Literal(_) => None,
        }
    }

    /// Tokens until the end of input (depth 0) or the ')' closing this list.
    fn list(&mut self, depth: usize) -> Result<Vec<Tok>, &'static str> {
        if depth > MAX_DEPTH {
            return Err("parentheses nested too deep");
        }
        let mut out = Vec::new();
        loop {
            let Some(text) = self.text() else {
                if self.seg >= self.segments.len() {
                    return if depth == 0 {
                        Ok(out)
                    } else {
                        Err("missing ')'")
                    };
                }
                return Err("literal without its announcement");
            };
            if text.is_empty() {
                // The end of a text segment: the next one must be a literal it announced.
                self.seg += 1;
                self.pos = 0;
                if self.seg < self.segments.len() {
                    return Err("literal without its announcement");
                }
                continue;
            }
            match text[0] {
                b' ' => self.pos += 1,
                b'(' => {
                    self.pos += 1;
                    out.push(Tok::List(self.list(depth + 1)?));
                }
                b')' => {
                    self.pos += 1;
                    return if depth == 0 {
                        Err("unbalanced ')'")
                    } else {
                        Ok(out)
                    };
                }
                b'"' => out.push(self.quoted()?),
                b'{' => out.push(self.literal()?),
                // literal8 (RFC 3516): APPEND of a message with binary content.
                b'~' if text.get(1) == Some(&b'{') => {
                    self.pos += 1;
                    out.push(self.literal()?);
                }
                _ => out.push(self.atom()?),
            }
        }
    }

    fn quoted(&mut self) -> Result<Tok, &'static str> {
        let text = self.text().ok_or("bad quoted string")?;
        let mut out = Vec::new();
        let mut i = 1;
        while i < text.len() {
            match text[i] {
                b'\\' if i + 1 < text.len() && matches!(text[i + 1], b'\\' | b'"') => {
                    out.push(text[i + 1]);
                    i += 2;
                }
                b'\\' => return Err("bad escape in quoted string"),
                b'"' => {
                    self.pos += i + 1;
                    return Ok(Tok::Str(out));
                }
                b'\r' | b'\n' | 0 => return Err("control character in quoted string"),
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Err("unterminated quoted string")
    }

    fn literal(&mut self) -> Result<Tok, &'static str> {
        let text = self.text().ok_or("bad literal")?;
        let close = text
            .iter()
            .position(|&b| b == b'}')
            .ok_or("bad literal announcement")?;
        if close + 1 != text.len() {
            return Err("a literal announcement must end the line");
        }
        let (n, _) = literal_suffix(text).ok_or("bad literal announcement")?;
        self.seg += 1;
        self.pos = 0;
        match self.segments.get(self.seg) {
            Some(Segment::Literal(bytes)) if bytes.len() as u64 == n => {
                self.seg += 1;
                self.pos = 0;
                Ok(Tok::Str(bytes.clone()))
            }
            _ => Err("literal data missing"),
        }
    }

    /// An atom; a '[' inside it runs to its matching ']' whatever it holds, so that
    /// `BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>` is one token.
    fn atom(&mut self) -> Result<Tok, &'static str> {
        let text = self.text().ok_or("bad atom")?;
        let mut i = 0;
        let mut brackets = 0usize;
        while i < text.len() {
            let b = text[i];
            if b == b'[' {
                brackets += 1;
            } else if b == b']' && brackets > 0 {
                brackets -= 1;
            } else if brackets == 0 && !is_atom_char(b) {
                break;
            } else if b < b' ' || b == 0x7f {
                return Err("control character in command");
            }
            i += 1;
        }
        if brackets > 0 {
            return Err("unbalanced '['");
        }
        if i == 0 {
            return Err("unexpected character");
        }
        let atom = std::str::from_utf8(&text[..i])
            .map_err(|_| "atom is not UTF-8")?
            .to_string();
        self.pos += i;
        Ok(if atom.eq_ignore_ascii_case("NIL") {
            Tok::Nil
        } else {
            Tok::Atom(atom)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Vec<Segment> {
        vec![Segment::Text(s.as_bytes().to_vec())]
    }

    fn atom(s: &str) -> Tok {
        Tok::Atom(s.into())
    }

    #[test]
    fn atoms_strings_lists() {
        let t = tokenize(&text(r#"a1 LOGIN "al\"ice" NIL (\Seen $Junk)"#)).unwrap();
        assert_eq!(
            t,
            [
                atom("a1"),
                atom("LOGIN"),
                Tok::Str(b"al\"ice".to_vec()),
                Tok::Nil,
                Tok::List(vec![atom("\\Seen"), atom("$Junk")])
            ]
        );
    }

    #[test]
    fn fetch_sections_are_one_token() {
        let t = tokenize(&text(
            "a FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> BODY[1.2])",
        ))
        .unwrap();
        let Tok::List(items) = &t[3] else { panic!() };
        assert_eq!(
            items,
            &[
                atom("UID"),
                atom("BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>"),
                atom("BODY[1.2]")
            ]
        );
    }

    #[test]
    fn literals() {
        let segs = vec![
            Segment::Text(b"a APPEND INBOX (\\Seen) {5}".to_vec()),
            Segment::Literal(b"hello".to_vec()),
            Segment::Text(b"".to_vec()),
        ];
        let t = tokenize(&segs).unwrap();
        assert_eq!(t[4], Tok::Str(b"hello".to_vec()));
        assert_eq!(literal_suffix(b"a APPEND x {12}"), Some((12, true)));
        assert_eq!(literal_suffix(b"a APPEND x {12+}"), Some((12, false)));
        assert_eq!(literal_suffix(b"a APPEND x {}"), None);
        assert_eq!(literal_suffix(b"a APPEND x {99999999999999999999}"), None);
    }

    #[test]
    fn literal8() {
        let segs = vec![
            Segment::Text(b"a APPEND INBOX ~{3}".to_vec()),
            Segment::Literal(b"\0\x01x".to_vec()),
            Segment::Text(vec![]),
        ];
        assert_eq!(tokenize(&segs).unwrap()[3], Tok::Str(b"\0\x01x".to_vec()));
    }

    #[test]
    fn hostile_input() {
        assert!(tokenize(&text("a ((((")).is_err());
        assert!(tokenize(&text("a ))")).is_err());
        assert!(tokenize(&text("a \"open")).is_err());
        assert!(tokenize(&text("a BODY[HEADER")).is_err());
        assert!(tokenize(&text("a {5}")).is_err(), "literal missing");
        let deep = format!("a {}{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(tokenize(&text(&deep)), Err("parentheses nested too deep"));
        assert_eq!(tag_of(b"A001 NOOP"), Some("A001".into()));
        assert_eq!(tag_of(b"+ x"), None);
    }
}
