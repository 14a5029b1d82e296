//! IMAP commands from tokens (RFC 3501 6, RFC 9051 6, and the extensions Roost offers).

mod fetch;
mod mailbox;
mod search;

pub use fetch::{FetchItem, Section, SectionKind};
pub use search::SearchKey;

use super::token::Tok;
use fetch::parse_fetch;
use mailbox::{parse_append, parse_list, parse_qresync};
use search::{parse_search_cmd, parse_sort, parse_thread};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Num(u32),
    /// `*`: the largest number in use.
    Star,
    /// `$`: the result saved by SEARCH RETURN (SAVE) (RFC 5182); resolved by the session.
    Saved,
}

/// A sequence set: ranges, each inclusive, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(SeqNum, SeqNum)>);

impl SeqSet {
    /// `$`, the saved search result.
    pub fn is_saved(&self) -> bool {
        self.0.first().is_some_and(|r| r.0 == SeqNum::Saved)
    }

    /// Whether `n` is in the set when `*` means `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        let v = |s: SeqNum| match s {
            SeqNum::Num(x) => x,
            SeqNum::Star => max,
            SeqNum::Saved => 0,
        };
        self.0.iter().any(|&(a, b)| {
            let (lo, hi) = (v(a).min(v(b)), v(a).max(v(b)));
            (lo..=hi).contains(&n)
        })
    }
}

/// SELECT's QRESYNC parameter (RFC 7162 3.2.5): what the client knew when it last looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SeqSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Capability,
    Noop,
    Logout,
    StartTls,
    Login(String, String),
    Authenticate(String, Option<String>),
    Enable(Vec<String>),
    Id,
    Namespace,
    Select {
        mailbox: String,
        read_only: bool,
        condstore: bool,
        qresync: Option<Qresync>,
    },
    Create(String),
    Delete(String),
    Rename(String, String),
    Subscribe(String),
    Unsubscribe(String),
    List {
        reference: String,
        patterns: Vec<String>,
        subscribed: bool,
        return_status: Vec<String>,
        lsub: bool,
        /// LIST-EXTENDED: selection SPECIAL-USE, RECURSIVEMATCH, and RETURN (SUBSCRIBED).
        special_use_only: bool,
        recursive: bool,
        return_subscribed: bool,
    },
    Status(String, Vec<String>),
    Append {
        mailbox: String,
        flags: Vec<String>,
        date: Option<i64>,
        message: Vec<u8>,
    },
    Check,
    Close,
    Unselect,
    Expunge(Option<SeqSet>),
    Search {
        uid: bool,
        key: SearchKey,
        esearch: Option<Vec<String>>,
    },
    Fetch {
        uid: bool,
        set: SeqSet,
        items: Vec<FetchItem>,
        changed_since: Option<u64>,
        /// UID FETCH … (CHANGEDSINCE m VANISHED): also report expunged UIDs (RFC 7162 3.2.6).
        vanished: bool,
    },
    Store {
        uid: bool,
        set: SeqSet,
        op: StoreOp,
        silent: bool,
        flags: Vec<String>,
        unchanged_since: Option<u64>,
    },
    Copy {
        uid: bool,
        set: SeqSet,
        mailbox: String,
    },
    Move {
        uid: bool,
        set: SeqSet,
        mailbox: String,
    },
    Idle,
    Sort {
        uid: bool,
        criteria: Vec<(bool, super::sort::SortKey)>,
        key: SearchKey,
    },
    Thread {
        uid: bool,
        references: bool,
        key: SearchKey,
    },
    GetQuota(String),
    GetQuotaRoot(String),
    SetQuota,
}

/// The session states a command is valid in (RFC 9051 3 and 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    AnyState,
    NotAuthenticated,
    /// Authenticated or selected.
    Authenticated,
    Selected,
}

impl Cmd {
    /// The table the session dispatches by: every command names its states here (no wildcard,
    /// so a new command cannot be forgotten).
    pub fn allowed(&self) -> Allowed {
        use Allowed::*;
        match self {
            Cmd::Capability | Cmd::Noop | Cmd::Check | Cmd::Logout | Cmd::Id => AnyState,
            Cmd::StartTls | Cmd::Login(..) | Cmd::Authenticate(..) => NotAuthenticated,
            Cmd::Enable(_)
            | Cmd::Namespace
            | Cmd::Select { .. }
            | Cmd::Create(_)
            | Cmd::Delete(_)
            | Cmd::Rename(..)
            | Cmd::Subscribe(_)
            | Cmd::Unsubscribe(_)
            | Cmd::List { .. }
            | Cmd::Status(..)
            | Cmd::Append { .. }
            | Cmd::Idle
            | Cmd::GetQuota(_)
            | Cmd::GetQuotaRoot(_)
            | Cmd::SetQuota => Authenticated,
            Cmd::Close
            | Cmd::Unselect
            | Cmd::Expunge(_)
            | Cmd::Search { .. }
            | Cmd::Fetch { .. }
            | Cmd::Store { .. }
            | Cmd::Copy { .. }
            | Cmd::Move { .. }
            | Cmd::Sort { .. }
            | Cmd::Thread { .. } => Selected,
        }
    }
}

pub type ParseResult<T> = Result<T, String>;

fn err<T>(msg: &str) -> ParseResult<T> {
    Err(msg.to_string())
}

/// Parses `tag COMMAND args…`; returns the tag and the command.
pub fn parse(toks: Vec<Tok>) -> (Option<String>, ParseResult<Cmd>) {
    let mut it = toks.into_iter();
    let tag = match it.next() {
        Some(Tok::Atom(t)) => t,
        _ => return (None, err("missing tag")),
    };
    let rest: Vec<Tok> = it.collect();
    let cmd = parse_command(rest);
    (Some(tag), cmd)
}

struct Args {
    toks: std::vec::IntoIter<Tok>,
}

impl Args {
    fn next(&mut self) -> Option<Tok> {
        self.toks.next()
    }
    fn atom(&mut self, what: &str) -> ParseResult<String> {
        match self.next() {
            Some(Tok::Atom(a)) => Ok(a),
            _ => Err(format!("expected {what}")),
        }
    }
    /// astring: an atom or a string.
    fn astring(&mut self, what: &str) -> ParseResult<String> {
        match self.next() {
            Some(Tok::Atom(a)) => Ok(a),
            Some(Tok::Str(s)) => String::from_utf8(s).map_err(|_| format!("{what} is not UTF-8")),
            _ => Err(format!("expected {what}")),
        }
    }
    fn mailbox(&mut self) -> ParseResult<String> {
        self.astring("a mailbox name")
    }
    fn end(&mut self) -> ParseResult<()> {
        match self.next() {
            None => Ok(()),
            Some(_) => err("unexpected arguments at the end"),
        }
    }
    fn peek_list(&self) -> bool {
        matches!(self.toks.as_slice().first(), Some(Tok::List(_)))
    }
}

fn parse_command(toks: Vec<Tok>) -> ParseResult<Cmd> {
    let mut a = Args {
        toks: toks.into_iter(),
    };
    let name = a.atom("a command")?.to_ascii_uppercase();
    let cmd = match name.as_str() {
        "CAPABILITY" => Cmd::Capability,
        "NOOP" => Cmd::Noop,
        "LOGOUT" => Cmd::Logout,
        "STARTTLS" => Cmd::StartTls,
        "CHECK" => Cmd::Check,
        "CLOSE" => Cmd::Close,
        "UNSELECT" => Cmd::Unselect,
        "EXPUNGE" => Cmd::Expunge(None),
        "IDLE" => Cmd::Idle,
        "NAMESPACE" => Cmd::Namespace,
        "GETQUOTA" => Cmd::GetQuota(a.astring("a quota root")?),
        "GETQUOTAROOT" => Cmd::GetQuotaRoot(a.mailbox()?),
        "SETQUOTA" => {
            a.toks.by_ref().for_each(drop);
            Cmd::SetQuota
        }
        "SORT" => parse_sort(&mut a, false)?,
        "THREAD" => parse_thread(&mut a, false)?,
        "ID" => {
            // The client's identification is logged nowhere and needs no checking.
            a.next();
            Cmd::Id
        }
        "LOGIN" => {
            let user = a.astring("a user name")?;
            let pass = a.astring("a password")?;
            Cmd::Login(user, pass)
        }
        "AUTHENTICATE" => {
            let mech = a.atom("a mechanism")?.to_ascii_uppercase();
            let initial = match a.next() {
                Some(Tok::Atom(s)) => Some(s),
                None => None,
                _ => return err("bad initial response"),
            };
            Cmd::Authenticate(mech, initial)
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while let Some(t) = a.next() {
                match t {
                    Tok::Atom(c) => caps.push(c.to_ascii_uppercase()),
                    _ => return err("ENABLE takes capability names"),
                }
            }
            if caps.is_empty() {
                return err("ENABLE needs a capability");
            }
            Cmd::Enable(caps)
        }
        "SELECT" | "EXAMINE" => {
            let mailbox = a.mailbox()?;
            let mut condstore = false;
            let mut qresync = None;
            if let Some(Tok::List(params)) = a.next() {
                let mut params = params.into_iter();
                while let Some(p) = params.next() {
                    match p {
                        Tok::Atom(x) if x.eq_ignore_ascii_case("CONDSTORE") => condstore = true,
                        Tok::Atom(x) if x.eq_ignore_ascii_case("QRESYNC") => {
                            let Some(Tok::List(q)) = params.next() else {
                                return err("QRESYNC needs (uidvalidity modseq [known-uids])");
                            };
                            qresync = Some(parse_qresync(q)?);
                        }
                        _ => return err("unsupported SELECT parameter"),
                    }
                }
            }
            Cmd::Select {
                mailbox,
                read_only: name == "EXAMINE",
                condstore,
                qresync,
            }
        }
        "CREATE" => Cmd::Create(a.mailbox()?),
        "DELETE" => Cmd::Delete(a.mailbox()?),
        "RENAME" => {
            let from = a.mailbox()?;
            Cmd::Rename(from, a.mailbox()?)
        }
        "SUBSCRIBE" => Cmd::Subscribe(a.mailbox()?),
        "UNSUBSCRIBE" => Cmd::Unsubscribe(a.mailbox()?),
        "LIST" | "LSUB" => parse_list(&mut a, name == "LSUB")?,
        "STATUS" => {
            let mailbox = a.mailbox()?;
            let Some(Tok::List(items)) = a.next() else {
                return err("STATUS needs a list of items");
            };
            let items = items
                .into_iter()
                .map(|t| match t {
                    Tok::Atom(s) => Ok(s.to_ascii_uppercase()),
                    _ => err("bad STATUS item"),
                })
                .collect::<ParseResult<Vec<_>>>()?;
            Cmd::Status(mailbox, items)
        }
        "APPEND" => parse_append(&mut a)?,
        "SEARCH" => parse_search_cmd(&mut a, false)?,
        "FETCH" => parse_fetch(&mut a, false)?,
        "STORE" => parse_store(&mut a, false)?,
        "COPY" | "MOVE" => parse_copy(&mut a, false, name == "MOVE")?,
        "UID" => {
            let sub = a.atom("a UID command")?.to_ascii_uppercase();
            match sub.as_str() {
                "FETCH" => parse_fetch(&mut a, true)?,
                "STORE" => parse_store(&mut a, true)?,
                "SEARCH" => parse_search_cmd(&mut a, true)?,
                "COPY" | "MOVE" => parse_copy(&mut a, true, sub == "MOVE")?,
                "EXPUNGE" => Cmd::Expunge(Some(seq_set(&a.atom("a UID set")?)?)),
                "SORT" => parse_sort(&mut a, true)?,
                "THREAD" => parse_thread(&mut a, true)?,
                _ => return err("unknown UID command"),
            }
        }
        _ => return err("unknown command"),
    };
    a.end()?;
    Ok(cmd)
}

pub fn seq_set(s: &str) -> ParseResult<SeqSet> {
    if s == "$" {
        return Ok(SeqSet(vec![(SeqNum::Saved, SeqNum::Saved)]));
    }
    let num = |x: &str| -> ParseResult<SeqNum> {
        if x == "*" {
            return Ok(SeqNum::Star);
        }
        match x.parse::<u32>() {
            Ok(n) if n > 0 => Ok(SeqNum::Num(n)),
            _ => Err(format!("bad sequence number {x}")),
        }
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once(':') {
            Some((a, b)) => out.push((num(a)?, num(b)?)),
            None => {
                let n = num(part)?;
                out.push((n, n));
            }
        }
        if out.len() > 10_000 {
            return err("sequence set too long");
        }
    }
    Ok(SeqSet(out))
}

fn parse_store(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
    let set = seq_set(&a.atom("a sequence set")?)?;
    let mut unchanged_since = None;
    let mut what = a.next();
    if let Some(Tok::List(mods)) = &what {
        match mods.as_slice() {
            [Tok::Atom(k), Tok::Atom(v)] if k.eq_ignore_ascii_case("UNCHANGEDSINCE") => {
                unchanged_since = Some(v.parse().map_err(|_| "bad UNCHANGEDSINCE".to_string())?);
            }
            _ => return err("unsupported STORE modifier"),
        }
        what = a.next();
    }
    let Some(Tok::Atom(what)) = what else {
        return err("STORE needs FLAGS, +FLAGS or -FLAGS");
    };
    let up = what.to_ascii_uppercase();
    let (op, rest) = match up.strip_prefix('+') {
        Some(r) => (StoreOp::Add, r),
        None => match up.strip_prefix('-') {
            Some(r) => (StoreOp::Remove, r),
            None => (StoreOp::Replace, up.as_str()),
        },
    };
    let silent = match rest {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return err("STORE needs FLAGS, +FLAGS or -FLAGS"),
    };
    let flags = match a.next() {
        Some(Tok::List(fs)) => fs,
        Some(t @ Tok::Atom(_)) => {
            let mut v = vec![t];
            v.extend(a.toks.by_ref());
            v
        }
        _ => return err("STORE needs flags"),
    };
    let flags = flags
        .into_iter()
        .map(|f| match f {
            Tok::Atom(x) => Ok(x),
            _ => err("bad flag"),
        })
        .collect::<ParseResult<Vec<_>>>()?;
    Ok(Cmd::Store {
        uid,
        set,
        op,
        silent,
        flags,
        unchanged_since,
    })
}

fn parse_copy(a: &mut Args, uid: bool, is_move: bool) -> ParseResult<Cmd> {
    let set = seq_set(&a.atom("a sequence set")?)?;
    let mailbox = a.mailbox()?;
    Ok(if is_move {
        Cmd::Move { uid, set, mailbox }
    } else {
        Cmd::Copy { uid, set, mailbox }
    })
}

#[cfg(test)]
mod tests {
    use super::super::token::{Segment, tokenize};
    use super::*;

    fn p(s: &str) -> ParseResult<Cmd> {
        let toks = tokenize(&[Segment::Text(s.as_bytes().to_vec())]).map_err(str::to_string)?;
        parse(toks).1
    }

    #[test]
    fn fetch_items() {
        let Cmd::Fetch {
            uid, set, items, ..
        } = p("a UID FETCH 1:*,5 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100> BODY[1.2.MIME])")
            .unwrap()
        else {
            panic!()
        };
        assert!(uid);
        assert_eq!(
            set,
            SeqSet(vec![
                (SeqNum::Num(1), SeqNum::Star),
                (SeqNum::Num(5), SeqNum::Num(5))
            ])
        );
        assert_eq!(items[0], FetchItem::Uid);
        assert_eq!(
            items[2],
            FetchItem::Section {
                peek: true,
                section: Section {
                    part: vec![],
                    kind: SectionKind::HeaderFields(vec!["FROM".into(), "TO".into()])
                },
                partial: Some((0, 100))
            }
        );
        assert_eq!(
            items[3],
            FetchItem::Section {
                peek: false,
                section: Section {
                    part: vec![1, 2],
                    kind: SectionKind::Mime
                },
                partial: None
            }
        );
        assert!(p("a FETCH 0 FLAGS").is_err());
        assert!(p("a FETCH 1 BODY[HEADER.FIELDS ()]").is_err());
        assert!(p("a FETCH 1 (FLAGS FROB)").is_err());
    }

    #[test]
    fn search_programs() {
        let Cmd::Search { key, .. } =
            p("a SEARCH CHARSET UTF-8 OR FROM alice NOT (SEEN SINCE 1-Feb-2024) UID 3:5").unwrap()
        else {
            panic!()
        };
        let SearchKey::And(keys) = key else { panic!() };
        assert_eq!(keys.len(), 2);
        assert!(matches!(&keys[0], SearchKey::Or(..)));
        assert!(
            p("a SEARCH CHARSET KOI8-R ALL")
                .unwrap_err()
                .contains("BADCHARSET")
        );
        let deep = format!("a SEARCH {}ALL", "NOT ".repeat(100));
        assert!(p(&deep).unwrap_err().contains("too deep"));
    }

    #[test]
    fn sort_thread_quota() {
        use super::super::sort::SortKey;
        assert_eq!(
            p("a UID SORT (REVERSE DATE SUBJECT) UTF-8 UNSEEN").unwrap(),
            Cmd::Sort {
                uid: true,
                criteria: vec![(true, SortKey::Date), (false, SortKey::Subject)],
                key: SearchKey::Flag("\\Seen", false)
            }
        );
        assert!(matches!(
            p("a THREAD REFERENCES UTF-8 ALL").unwrap(),
            Cmd::Thread {
                references: true,
                ..
            }
        ));
        assert!(p("a THREAD FANCY UTF-8 ALL").is_err());
        assert!(p("a SORT (REVERSE) UTF-8 ALL").is_err());
        assert_eq!(
            p("a GETQUOTAROOT INBOX").unwrap(),
            Cmd::GetQuotaRoot("INBOX".into())
        );
    }

    #[test]
    fn store_list_select_append() {
        assert_eq!(
            p("a STORE 1:3 +FLAGS.SILENT (\\Seen $Label1)").unwrap(),
            Cmd::Store {
                uid: false,
                set: seq_set("1:3").unwrap(),
                op: StoreOp::Add,
                silent: true,
                flags: vec!["\\Seen".into(), "$Label1".into()],
                unchanged_since: None
            }
        );
        assert!(
            matches!(p(r#"a LIST "" "*""#).unwrap(), Cmd::List { patterns, .. } if patterns == ["*"])
        );
        assert!(
            matches!(p(r#"a LIST (SUBSCRIBED) "" ("INBOX" "Sent") RETURN (STATUS (MESSAGES))"#).unwrap(), Cmd::List { subscribed: true, return_status, .. } if return_status == ["MESSAGES"])
        );
        assert!(matches!(
            p("a SELECT INBOX (CONDSTORE)").unwrap(),
            Cmd::Select {
                condstore: true,
                ..
            }
        ));
        assert!(p("a LOGIN onlyuser").is_err());
        assert!(p("a NOOP extra").is_err());
    }
}
