//! POP3 command grammar (RFC 1939, 2449, 2595, 5034): a line in, a command or a reason out.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capa,
    Stls,
    User(String),
    Pass(String),
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Quit,
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top(u32, u32),
    Dele(u32),
    Rset,
    Noop,
}

pub fn parse(line: &[u8]) -> Result<Command, &'static str> {
    let line = std::str::from_utf8(line).map_err(|_| "command is not valid UTF-8")?;
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
    let number = |s: &str| -> Result<u32, &'static str> {
        s.parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("message numbers are whole numbers from 1")
    };
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err("this command takes no argument")
        }
    };
    let optional = |f: fn(Option<u32>) -> Command| match args.as_slice() {
        [] => Ok(f(None)),
        [n] => Ok(f(Some(number(n)?))),
        _ => Err("too many arguments"),
    };
    match verb.to_ascii_uppercase().as_str() {
        "CAPA" => none(Command::Capa),
        "STLS" => none(Command::Stls),
        // USER and PASS take the rest of the line: passwords may hold spaces (RFC 1939 7).
        "USER" if !rest.is_empty() => Ok(Command::User(rest.to_string())),
        "PASS" if !rest.is_empty() => Ok(Command::Pass(rest.to_string())),
        "USER" | "PASS" => Err("a name or password is required"),
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [m] => Ok(Command::Auth {
                mechanism: Some(m.to_ascii_uppercase()),
                initial: None,
            }),
            [m, i] => Ok(Command::Auth {
                mechanism: Some(m.to_ascii_uppercase()),
                initial: Some(i.to_string()),
            }),
            _ => Err("AUTH takes a mechanism and one initial response"),
        },
        "QUIT" => none(Command::Quit),
        "STAT" => none(Command::Stat),
        "LIST" => optional(Command::List),
        "UIDL" => optional(Command::Uidl),
        "RETR" => match args.as_slice() {
            [n] => Ok(Command::Retr(number(n)?)),
            _ => Err("RETR takes one message number"),
        },
        "DELE" => match args.as_slice() {
            [n] => Ok(Command::Dele(number(n)?)),
            _ => Err("DELE takes one message number"),
        },
        "TOP" => match args.as_slice() {
            [n, lines] => Ok(Command::Top(
                number(n)?,
                lines.parse().map_err(|_| "TOP takes a number of lines")?,
            )),
            _ => Err("TOP takes a message number and a number of lines"),
        },
        "RSET" => none(Command::Rset),
        "NOOP" => none(Command::Noop),
        _ => Err("unknown command"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_set() {
        assert_eq!(parse(b"capa"), Ok(Command::Capa));
        assert_eq!(
            parse(b"USER alice@example.test"),
            Ok(Command::User("alice@example.test".into()))
        );
        assert_eq!(
            parse(b"PASS with spaces in it"),
            Ok(Command::Pass("with spaces in it".into()))
        );
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 3"), Ok(Command::List(Some(3))));
        assert_eq!(parse(b"UIDL 2"), Ok(Command::Uidl(Some(2))));
        assert_eq!(parse(b"TOP 1 0"), Ok(Command::Top(1, 0)));
        assert_eq!(parse(b"RETR 1"), Ok(Command::Retr(1)));
        assert_eq!(
            parse(b"AUTH PLAIN AGFAAGI="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGFAAGI=".into())
            })
        );
        assert_eq!(
            parse(b"AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
    }

    #[test]
    fn refuses_bad_arguments() {
        for bad in [
            &b"RETR"[..],
            b"RETR 0",
            b"RETR x",
            b"DELE 1 2",
            b"TOP 1",
            b"LIST 1 2",
            b"STAT now",
            b"USER",
            b"FROB",
            b"\xff",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
