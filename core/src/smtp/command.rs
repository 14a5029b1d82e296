//! SMTP command grammar (RFC 5321 section 4.1, with the ESMTP parameters of RFC 1870, 6152,
//! 6531, 3030 and 4954). A line in, a command or a reasoned error out; no I/O here.

/// A reverse-path (MAIL FROM) or forward-path (RCPT TO) address as the client wrote it, without
/// the angle brackets and source route. Empty means the null path `<>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub String);

impl Path {
    pub fn is_null(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    Mail(Path, MailParams),
    Rcpt(Path),
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// 500 5.5.1: no such command.
    Unknown,
    /// A web browser or proxy talking to the SMTP port: answer once and hang up.
    Http,
    /// 501 5.5.4 (or 5.5.2 for a bad path): the command's arguments are wrong.
    Syntax(&'static str),
    /// 555 5.5.4: a MAIL parameter we do not support.
    Param(String),
}

const MAX_ADDRESS: usize = 320;

pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let line =
        std::str::from_utf8(line).map_err(|_| ParseError::Syntax("command is not valid UTF-8"))?;
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let arg = rest.trim();
    let no_arg = |c: Command| {
        if arg.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::Syntax("this command takes no argument"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" => domain_arg(arg).map(Command::Ehlo),
        "HELO" => domain_arg(arg).map(Command::Helo),
        "MAIL" => parse_mail(rest),
        "RCPT" => parse_rcpt(rest),
        "DATA" => no_arg(Command::Data),
        "BDAT" => parse_bdat(arg),
        "RSET" => no_arg(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_arg(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_arg(Command::StartTls),
        "AUTH" => {
            let mut parts = arg.split_ascii_whitespace();
            let mechanism = parts
                .next()
                .ok_or(ParseError::Syntax("AUTH needs a mechanism"))?
                .to_ascii_uppercase();
            let initial = parts.next().map(str::to_string);
            if parts.next().is_some() {
                return Err(ParseError::Syntax(
                    "AUTH takes a mechanism and one initial response",
                ));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        "GET" | "POST" | "HEAD" | "PUT" | "CONNECT" | "OPTIONS" | "DELETE" => Err(ParseError::Http),
        _ => Err(ParseError::Unknown),
    }
}

fn domain_arg(arg: &str) -> Result<String, ParseError> {
    let d = arg.split_ascii_whitespace().next().unwrap_or("");
    if d.is_empty() {
        return Err(ParseError::Syntax(
            "a domain name or address literal is required",
        ));
    }
    if d.len() > 255 || d.chars().any(|c| c.is_control()) {
        return Err(ParseError::Syntax("invalid domain name"));
    }
    Ok(d.to_string())
}

/// "FROM:<path> params" with the keyword case-insensitive and, leniently, spaces around ':'.
fn keyword_path<'a>(rest: &'a str, keyword: &str) -> Result<(&'a str, &'a str), ParseError> {
    let r = rest.trim_start();
    // `get`, not indexing: the client's bytes may put a UTF-8 sequence across the keyword's end.
    if !r
        .get(..keyword.len())
        .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    {
        return Err(ParseError::Syntax(if keyword == "FROM" {
            "expected MAIL FROM:<address>"
        } else {
            "expected RCPT TO:<address>"
        }));
    }
    let r = r.get(keyword.len()..).unwrap_or("").trim_start();
    let r = r
        .strip_prefix(':')
        .ok_or(ParseError::Syntax("expected ':' after the keyword"))?
        .trim_start();
    if !r.starts_with('<') {
        return Err(ParseError::Syntax(
            "the address must be in angle brackets: <name@domain>",
        ));
    }
    let end = find_path_end(r).ok_or(ParseError::Syntax("unbalanced '<' in the address"))?;
    Ok((&r[1..end], r[end + 1..].trim()))
}

/// The index of the '>' closing the path, skipping quoted local parts.
fn find_path_end(r: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in r.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_path(inner: &str, allow_null: bool) -> Result<Path, ParseError> {
    if inner.is_empty() {
        return if allow_null {
            Ok(Path(String::new()))
        } else {
            Err(ParseError::Syntax("an empty address is not a recipient"))
        };
    }
    // A source route ("@a,@b:user@c") is obsolete; RFC 5321 C says to ignore it.
    let inner = match inner.strip_prefix('@') {
        Some(r) => r
            .split_once(':')
            .map(|(_, a)| a)
            .ok_or(ParseError::Syntax("bad source route"))?,
        None => inner,
    };
    if inner.len() > MAX_ADDRESS {
        return Err(ParseError::Syntax("the address is too long"));
    }
    let (local, domain) = inner
        .rsplit_once('@')
        .ok_or(ParseError::Syntax("the address has no '@domain'"))?;
    if local.is_empty() || domain.is_empty() {
        return Err(ParseError::Syntax(
            "the address is missing a part before or after '@'",
        ));
    }
    let quoted = local.starts_with('"') && local.ends_with('"') && local.len() >= 2;
    if !quoted
        && local.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '<' | '>' | '(' | ')' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'
                )
        })
    {
        return Err(ParseError::Syntax(
            "the address holds a character not allowed there",
        ));
    }
    if quoted && local.chars().any(|c| c.is_control()) {
        return Err(ParseError::Syntax("the address holds a control character"));
    }
    let literal = domain.starts_with('[') && domain.ends_with(']');
    if !literal
        && !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(ParseError::Syntax(
            "the domain holds a character not allowed there",
        ));
    }
    Ok(Path(inner.to_string()))
}

fn parse_mail(rest: &str) -> Result<Command, ParseError> {
    let (inner, params) = keyword_path(rest, "FROM")?;
    let path = parse_path(inner, true)?;
    let mut p = MailParams::default();
    for param in params.split_ascii_whitespace() {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) => {
                p.size = Some(
                    v.parse()
                        .map_err(|_| ParseError::Syntax("SIZE must be a number"))?,
                )
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => p.body = Some(Body::SevenBit),
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                p.body = Some(Body::EightBitMime)
            }
            ("SMTPUTF8", None) => p.smtputf8 = true,
            // RFC 4954 5: AUTH=<> or the sender's identity; we trust our own authentication only.
            ("AUTH", Some(_)) => {}
            _ => return Err(ParseError::Param(param.to_string())),
        }
    }
    Ok(Command::Mail(path, p))
}

fn parse_rcpt(rest: &str) -> Result<Command, ParseError> {
    let (inner, params) = keyword_path(rest, "TO")?;
    if !params.is_empty() {
        return Err(ParseError::Param(params.to_string()));
    }
    // RFC 5321 4.1.1.3: <Postmaster> without a domain must be accepted.
    if inner.eq_ignore_ascii_case("postmaster") {
        return Ok(Command::Rcpt(Path("postmaster".into())));
    }
    parse_path(inner, false).map(Command::Rcpt)
}

fn parse_bdat(arg: &str) -> Result<Command, ParseError> {
    let mut parts = arg.split_ascii_whitespace();
    let size = parts
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(ParseError::Syntax("BDAT needs a chunk size"))?;
    let last = match parts.next() {
        None => false,
        Some(l) if l.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(ParseError::Syntax("expected BDAT <size> [LAST]")),
    };
    if parts.next().is_some() {
        return Err(ParseError::Syntax("expected BDAT <size> [LAST]"));
    }
    Ok(Command::Bdat { size, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Command {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn greetings() {
        assert_eq!(
            ok("EHLO client.example"),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(ok("helo [192.0.2.1]"), Command::Helo("[192.0.2.1]".into()));
        assert!(matches!(parse(b"EHLO"), Err(ParseError::Syntax(_))));
    }

    #[test]
    fn mail_from_with_parameters() {
        let Command::Mail(p, params) =
            ok("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8")
        else {
            panic!()
        };
        assert_eq!(p.0, "a@b.example");
        assert_eq!(
            params,
            MailParams {
                size: Some(1000),
                body: Some(Body::EightBitMime),
                smtputf8: true
            }
        );
        let Command::Mail(p, _) = ok("mail from: <>") else {
            panic!()
        };
        assert!(p.is_null());
        assert_eq!(
            parse(b"MAIL FROM:<a@b> FOO=1"),
            Err(ParseError::Param("FOO=1".into()))
        );
        assert!(matches!(
            parse(b"MAIL FROM:a@b"),
            Err(ParseError::Syntax(_))
        ));
        assert!(matches!(
            parse(b"MAIL FROM:<a@b"),
            Err(ParseError::Syntax(_))
        ));
        assert!(matches!(
            parse(b"MAIL TO:<a@b>"),
            Err(ParseError::Syntax(_))
        ));
    }

    #[test]
    fn rcpt_paths() {
        assert_eq!(
            ok("RCPT TO:<@relay.example:bob@c.example>"),
            Command::Rcpt(Path("bob@c.example".into()))
        );
        assert_eq!(
            ok("RCPT TO:<\"odd >name\"@c.example>"),
            Command::Rcpt(Path("\"odd >name\"@c.example".into()))
        );
        assert_eq!(
            ok("RCPT TO:<Postmaster>"),
            Command::Rcpt(Path("postmaster".into()))
        );
        assert_eq!(
            ok("RCPT TO:<用户@例子.测试>"),
            Command::Rcpt(Path("用户@例子.测试".into()))
        );
        for bad in [
            "RCPT TO:<>",
            "RCPT TO:<nobody>",
            "RCPT TO:<a b@c>",
            "RCPT TO:<a@b c>",
            "RCPT TO:<a@b> NOTIFY=NEVER",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let long = format!("RCPT TO:<{}@x.example>", "a".repeat(400));
        assert!(parse(long.as_bytes()).is_err());
    }

    #[test]
    fn bdat_auth_and_others() {
        assert_eq!(
            ok("BDAT 100 LAST"),
            Command::Bdat {
                size: 100,
                last: true
            }
        );
        assert_eq!(
            ok("bdat 0"),
            Command::Bdat {
                size: 0,
                last: false
            }
        );
        assert!(parse(b"BDAT x").is_err());
        assert!(parse(b"BDAT 10 NOW").is_err());
        assert_eq!(
            ok("AUTH plain dGVzdA=="),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("dGVzdA==".into())
            }
        );
        assert_eq!(ok("QUIT"), Command::Quit);
        assert!(matches!(parse(b"DATA now"), Err(ParseError::Syntax(_))));
        assert_eq!(parse(b"GET / HTTP/1.1"), Err(ParseError::Http));
        assert_eq!(parse(b"XYZZY"), Err(ParseError::Unknown));
        assert!(matches!(parse(b"\xff\xfe"), Err(ParseError::Syntax(_))));
    }

    /// Found by cargo fuzz (smtp_command): a multi-byte character across the keyword's end.
    #[test]
    fn fuzz_regression_utf8_across_keyword() {
        assert!(matches!(
            parse(b"RCPT 0\xda\x8f \n "),
            Err(ParseError::Syntax(_))
        ));
        assert!(matches!(
            parse("MAIL FRÖM:<a@b>".as_bytes()),
            Err(ParseError::Syntax(_))
        ));
    }
}
