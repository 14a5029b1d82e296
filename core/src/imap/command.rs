//! IMAP commands from tokens (RFC 3501 6, RFC 9051 6, and the extensions Roost offers).

use super::token::Tok;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionKind {
    Full,
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    Mime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub kind: SectionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Flags,
    Uid,
    InternalDate,
    Rfc822Size,
    Envelope,
    BodyStructure,
    /// BODY without a section: the non-extensible structure.
    Body,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Section {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
    },
    BinarySize(Vec<u32>),
    ModSeq,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    And(Vec<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    Not(Box<SearchKey>),
    Flag(&'static str, bool),
    Keyword(String, bool),
    New,
    Old,
    Recent,
    /// BCC, BODY, CC, FROM, SUBJECT, TEXT, TO, or HEADER name: a substring, case-insensitive.
    Header(String, String),
    Body(String),
    Text(String),
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u64),
    Smaller(u64),
    Uid(SeqSet),
    Seq(SeqSet),
    ModSeq(u64),
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

fn parse_qresync(q: Vec<Tok>) -> ParseResult<Qresync> {
    let mut q = q.into_iter();
    let num = |t: Option<Tok>| -> ParseResult<u64> {
        match t {
            Some(Tok::Atom(n)) => n.parse().map_err(|_| "QRESYNC needs numbers".to_string()),
            _ => err("QRESYNC needs (uidvalidity modseq [known-uids])"),
        }
    };
    let uidvalidity = u32::try_from(num(q.next())?).map_err(|_| "bad UIDVALIDITY".to_string())?;
    let modseq = num(q.next())?;
    let known_uids = match q.next() {
        Some(Tok::Atom(set)) => Some(seq_set(&set)?),
        // The optional sequence match data only speeds up a server without expunge history;
        // Roost keeps that history, so it is accepted and not needed.
        Some(Tok::List(_)) | None => None,
        _ => return err("bad QRESYNC known-uids"),
    };
    Ok(Qresync {
        uidvalidity,
        modseq,
        known_uids,
    })
}

fn parse_list(a: &mut Args, lsub: bool) -> ParseResult<Cmd> {
    let mut subscribed = lsub;
    let mut special_use_only = false;
    let mut recursive = false;
    if !lsub && a.peek_list() {
        // LIST-EXTENDED selection options (RFC 5258 3.1, RFC 6154 5.1).
        if let Some(Tok::List(opts)) = a.next() {
            for o in opts {
                match o {
                    Tok::Atom(x) if x.eq_ignore_ascii_case("SUBSCRIBED") => subscribed = true,
                    Tok::Atom(x) if x.eq_ignore_ascii_case("SPECIAL-USE") => {
                        special_use_only = true
                    }
                    Tok::Atom(x) if x.eq_ignore_ascii_case("RECURSIVEMATCH") => recursive = true,
                    _ => return err("unsupported LIST selection option"),
                }
            }
        }
        if recursive && !subscribed {
            return err("RECURSIVEMATCH needs another selection option");
        }
    }
    let reference = a.astring("a reference")?;
    let patterns = match a.next() {
        Some(Tok::List(ps)) if !lsub => ps
            .into_iter()
            .map(|p| match p {
                Tok::Atom(s) => Ok(s),
                Tok::Str(s) => String::from_utf8(s).map_err(|_| "pattern is not UTF-8".to_string()),
                _ => err("bad pattern"),
            })
            .collect::<ParseResult<Vec<_>>>()?,
        Some(Tok::Atom(s)) => vec![s],
        Some(Tok::Str(s)) => {
            vec![String::from_utf8(s).map_err(|_| "pattern is not UTF-8".to_string())?]
        }
        _ => return err("expected a mailbox pattern"),
    };
    let mut return_status = Vec::new();
    let mut return_subscribed = false;
    if !lsub && let Some(t) = a.next() {
        // RETURN (… STATUS (MESSAGES UNSEEN) …)
        if !matches!(&t, Tok::Atom(r) if r.eq_ignore_ascii_case("RETURN")) {
            return err("expected RETURN");
        }
        let Some(Tok::List(opts)) = a.next() else {
            return err("RETURN needs a list");
        };
        let mut opts = opts.into_iter();
        while let Some(o) = opts.next() {
            match o {
                Tok::Atom(x) if x.eq_ignore_ascii_case("STATUS") => {
                    let Some(Tok::List(items)) = opts.next() else {
                        return err("STATUS needs a list of items");
                    };
                    for i in items {
                        match i {
                            Tok::Atom(s) => return_status.push(s.to_ascii_uppercase()),
                            _ => return err("bad STATUS item"),
                        }
                    }
                }
                Tok::Atom(x) if x.eq_ignore_ascii_case("SUBSCRIBED") => return_subscribed = true,
                Tok::Atom(x)
                    if x.eq_ignore_ascii_case("CHILDREN")
                        || x.eq_ignore_ascii_case("SPECIAL-USE") => {}
                _ => return err("unsupported LIST return option"),
            }
        }
    }
    Ok(Cmd::List {
        reference,
        patterns,
        subscribed,
        return_status,
        lsub,
        special_use_only,
        recursive,
        return_subscribed,
    })
}

fn parse_append(a: &mut Args) -> ParseResult<Cmd> {
    let mailbox = a.mailbox()?;
    let rest: Vec<Tok> = a.toks.by_ref().collect();
    // APPEND mailbox [(flags)] [date-time] message: the message is the last argument.
    let Some((Tok::Str(message), before)) = rest.split_last().map(|(m, b)| (m.clone(), b.to_vec()))
    else {
        return err("APPEND needs a message literal");
    };
    let mut flags = Vec::new();
    let mut date = None;
    for t in before {
        match t {
            Tok::List(fs) if flags.is_empty() && date.is_none() => {
                for f in fs {
                    match f {
                        Tok::Atom(x) => flags.push(x),
                        _ => return err("bad flag"),
                    }
                }
            }
            Tok::Str(s) if date.is_none() => {
                let text = String::from_utf8(s).map_err(|_| "bad date-time".to_string())?;
                date = Some(super::date::parse_date_time(&text).ok_or("bad date-time")?);
            }
            _ => return err("bad APPEND arguments"),
        }
    }
    Ok(Cmd::Append {
        mailbox,
        flags,
        date,
        message,
    })
}

fn parse_fetch(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
    let set = seq_set(&a.atom("a sequence set")?)?;
    let mut items = match a.next() {
        Some(Tok::Atom(x)) => match x.to_ascii_uppercase().as_str() {
            "ALL" => vec![
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
                FetchItem::Envelope,
            ],
            "FAST" => vec![
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
            ],
            "FULL" => vec![
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
                FetchItem::Envelope,
                FetchItem::Body,
            ],
            _ => vec![fetch_item(&x)?],
        },
        Some(Tok::List(list)) => list
            .into_iter()
            .map(|t| match t {
                Tok::Atom(x) => fetch_item(&x),
                _ => err("bad FETCH item"),
            })
            .collect::<ParseResult<Vec<_>>>()?,
        _ => return err("FETCH needs items"),
    };
    let mut changed_since = None;
    let mut vanished = false;
    if let Some(Tok::List(mods)) = a.next() {
        let mut mods = mods.into_iter().peekable();
        while let Some(m) = mods.next() {
            if matches!(&m, Tok::Atom(v) if v.eq_ignore_ascii_case("VANISHED")) {
                vanished = true;
                continue;
            }
            match (m, mods.next()) {
                (Tok::Atom(k), Some(Tok::Atom(v))) if k.eq_ignore_ascii_case("CHANGEDSINCE") => {
                    changed_since = Some(v.parse().map_err(|_| "bad CHANGEDSINCE".to_string())?);
                }
                _ => return err("unsupported FETCH modifier"),
            }
        }
        if !items.contains(&FetchItem::ModSeq) {
            items.push(FetchItem::ModSeq);
        }
    }
    if uid && !items.contains(&FetchItem::Uid) {
        items.insert(0, FetchItem::Uid);
    }
    if vanished && (!uid || changed_since.is_none()) {
        return err("VANISHED needs UID FETCH with CHANGEDSINCE");
    }
    Ok(Cmd::Fetch {
        uid,
        set,
        items,
        changed_since,
        vanished,
    })
}

fn fetch_item(x: &str) -> ParseResult<FetchItem> {
    let up = x.to_ascii_uppercase();
    Ok(match up.as_str() {
        "FLAGS" => FetchItem::Flags,
        "UID" => FetchItem::Uid,
        "INTERNALDATE" => FetchItem::InternalDate,
        "RFC822.SIZE" => FetchItem::Rfc822Size,
        "ENVELOPE" => FetchItem::Envelope,
        "BODYSTRUCTURE" => FetchItem::BodyStructure,
        "BODY" => FetchItem::Body,
        "RFC822" => FetchItem::Rfc822,
        "RFC822.HEADER" => FetchItem::Rfc822Header,
        "RFC822.TEXT" => FetchItem::Rfc822Text,
        "MODSEQ" => FetchItem::ModSeq,
        _ => {
            let (peek, rest) = if let Some(r) = up.strip_prefix("BODY.PEEK[") {
                (true, Some(r))
            } else if let Some(r) = up.strip_prefix("BODY[") {
                (false, Some(r))
            } else {
                (false, None)
            };
            if let Some(rest) = rest {
                let close = rest.rfind(']').ok_or("missing ']'")?;
                let section = section(&x[x.len() - rest.len()..x.len() - rest.len() + close])?;
                let partial = partial(&rest[close + 1..])?;
                return Ok(FetchItem::Section {
                    peek,
                    section,
                    partial,
                });
            }
            let (peek, rest) = if let Some(r) = up.strip_prefix("BINARY.PEEK[") {
                (true, Some(r))
            } else if let Some(r) = up.strip_prefix("BINARY[") {
                (false, Some(r))
            } else {
                (false, None)
            };
            if let Some(rest) = rest {
                let close = rest.find(']').ok_or("missing ']'")?;
                let part = part_numbers(&rest[..close])?;
                return Ok(FetchItem::Binary {
                    peek,
                    part,
                    partial: partial(&rest[close + 1..])?,
                });
            }
            if let Some(rest) = up.strip_prefix("BINARY.SIZE[") {
                let part = part_numbers(rest.strip_suffix(']').ok_or("missing ']'")?)?;
                return Ok(FetchItem::BinarySize(part));
            }
            return Err(format!("unknown FETCH item {x}"));
        }
    })
}

fn part_numbers(s: &str) -> ParseResult<Vec<u32>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split('.')
        .map(|n| {
            n.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| "bad part number".to_string())
        })
        .collect()
}

fn section(spec: &str) -> ParseResult<Section> {
    let mut part = Vec::new();
    let mut rest = spec;
    while let Some(first) = rest.split('.').next() {
        match first.parse::<u32>() {
            Ok(n) if n > 0 => {
                part.push(n);
                rest = rest.get(first.len() + 1..).unwrap_or("");
            }
            _ => break,
        }
    }
    let up = rest.to_ascii_uppercase();
    let kind = match up.as_str() {
        "" => SectionKind::Full,
        "HEADER" => SectionKind::Header,
        "TEXT" => SectionKind::Text,
        "MIME" if !part.is_empty() => SectionKind::Mime,
        _ => {
            let (not, list) = if let Some(l) = up.strip_prefix("HEADER.FIELDS.NOT") {
                (true, l)
            } else if let Some(l) = up.strip_prefix("HEADER.FIELDS") {
                (false, l)
            } else {
                return Err(format!("bad section {spec}"));
            };
            let list = list
                .trim()
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .ok_or("bad header list")?;
            let names: Vec<String> = list
                .split_whitespace()
                .map(|s| s.trim_matches('"').to_string())
                .collect();
            if names.is_empty() {
                return err("empty header list");
            }
            if not {
                SectionKind::HeaderFieldsNot(names)
            } else {
                SectionKind::HeaderFields(names)
            }
        }
    };
    Ok(Section { part, kind })
}

fn partial(s: &str) -> ParseResult<Option<(u32, u32)>> {
    if s.is_empty() {
        return Ok(None);
    }
    let inner = s
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .ok_or("bad partial")?;
    let (a, b) = inner.split_once('.').ok_or("bad partial")?;
    let start = a.parse().map_err(|_| "bad partial".to_string())?;
    let len: u32 = b.parse().map_err(|_| "bad partial".to_string())?;
    if len == 0 {
        return err("partial length must be positive");
    }
    Ok(Some((start, len)))
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

fn parse_search_cmd(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
    let mut toks: Vec<Tok> = a.toks.by_ref().collect();
    let mut esearch = None;
    // RETURN (…) first (RFC 4731), then CHARSET.
    if matches!(toks.first(), Some(Tok::Atom(r)) if r.eq_ignore_ascii_case("RETURN")) {
        toks.remove(0);
        let Some(Tok::List(opts)) = (!toks.is_empty()).then(|| toks.remove(0)) else {
            return err("RETURN needs a list");
        };
        let mut v = Vec::new();
        for o in opts {
            match o {
                Tok::Atom(x)
                    if matches!(
                        x.to_ascii_uppercase().as_str(),
                        "MIN" | "MAX" | "ALL" | "COUNT" | "SAVE"
                    ) =>
                {
                    v.push(x.to_ascii_uppercase())
                }
                _ => return err("unsupported RETURN option"),
            }
        }
        if v.is_empty() {
            v.push("ALL".into());
        }
        esearch = Some(v);
    }
    if matches!(toks.first(), Some(Tok::Atom(c)) if c.eq_ignore_ascii_case("CHARSET")) {
        toks.remove(0);
        let cs = match (!toks.is_empty()).then(|| toks.remove(0)) {
            Some(Tok::Atom(c)) => c,
            Some(Tok::Str(c)) => String::from_utf8_lossy(&c).into_owned(),
            _ => return err("CHARSET needs a name"),
        };
        if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") {
            return Err("[BADCHARSET (UTF-8 US-ASCII)] unsupported charset".into());
        }
    }
    let key = search_program(toks)?;
    Ok(Cmd::Search { uid, key, esearch })
}

fn search_program(toks: Vec<Tok>) -> ParseResult<SearchKey> {
    let mut it = toks.into_iter().peekable();
    let mut keys = Vec::new();
    let mut budget = 1000;
    while it.peek().is_some() {
        keys.push(search_key(&mut it, 0, &mut budget)?);
    }
    if keys.is_empty() {
        return err("a search program needs a key");
    }
    Ok(if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    })
}

/// The charset argument of SORT and THREAD (mandatory there).
fn charset(a: &mut Args) -> ParseResult<()> {
    let cs = a.astring("a charset")?;
    if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") {
        return Err("[BADCHARSET (UTF-8 US-ASCII)] unsupported charset".into());
    }
    Ok(())
}

fn parse_sort(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
    use super::sort::SortKey;
    let Some(Tok::List(list)) = a.next() else {
        return err("SORT needs a list of criteria");
    };
    let mut criteria = Vec::new();
    let mut reverse = false;
    for t in list {
        let Tok::Atom(x) = t else {
            return err("bad sort criterion");
        };
        let key = match x.to_ascii_uppercase().as_str() {
            "REVERSE" => {
                reverse = true;
                continue;
            }
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            _ => return Err(format!("unknown sort criterion {x}")),
        };
        criteria.push((reverse, key));
        reverse = false;
    }
    if criteria.is_empty() || reverse {
        return err("bad sort criteria");
    }
    charset(a)?;
    let key = search_program(a.toks.by_ref().collect())?;
    Ok(Cmd::Sort { uid, criteria, key })
}

fn parse_thread(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
    let algorithm = a.atom("a threading algorithm")?.to_ascii_uppercase();
    let references = match algorithm.as_str() {
        "REFERENCES" => true,
        "ORDEREDSUBJECT" => false,
        _ => return Err(format!("unsupported threading algorithm {algorithm}")),
    };
    charset(a)?;
    let key = search_program(a.toks.by_ref().collect())?;
    Ok(Cmd::Thread {
        uid,
        references,
        key,
    })
}

type TokIter = std::iter::Peekable<std::vec::IntoIter<Tok>>;

fn search_key(it: &mut TokIter, depth: usize, budget: &mut u32) -> ParseResult<SearchKey> {
    if depth > super::token::MAX_DEPTH {
        return err("search program nested too deep");
    }
    *budget = budget.checked_sub(1).ok_or("search program too long")?;
    let tok = it.next().ok_or("incomplete search key")?;
    let atom = match tok {
        Tok::List(inner) => {
            let mut inner = inner.into_iter().peekable();
            let mut keys = Vec::new();
            while inner.peek().is_some() {
                keys.push(search_key(&mut inner, depth + 1, budget)?);
            }
            if keys.is_empty() {
                return err("empty search list");
            }
            return Ok(if keys.len() == 1 {
                keys.remove(0)
            } else {
                SearchKey::And(keys)
            });
        }
        Tok::Atom(a) => a,
        _ => return err("bad search key"),
    };
    let string = |it: &mut TokIter| -> ParseResult<String> {
        match it.next() {
            Some(Tok::Atom(s)) => Ok(s),
            Some(Tok::Str(s)) => Ok(String::from_utf8_lossy(&s).into_owned()),
            _ => err("search key needs a string"),
        }
    };
    let date = |it: &mut TokIter| -> ParseResult<i64> {
        let s = string(it)?;
        super::date::parse_date(&s).ok_or_else(|| format!("bad date {s}"))
    };
    let up = atom.to_ascii_uppercase();
    Ok(match up.as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Flag("\\Answered", true),
        "DELETED" => SearchKey::Flag("\\Deleted", true),
        "DRAFT" => SearchKey::Flag("\\Draft", true),
        "FLAGGED" => SearchKey::Flag("\\Flagged", true),
        "SEEN" => SearchKey::Flag("\\Seen", true),
        "UNANSWERED" => SearchKey::Flag("\\Answered", false),
        "UNDELETED" => SearchKey::Flag("\\Deleted", false),
        "UNDRAFT" => SearchKey::Flag("\\Draft", false),
        "UNFLAGGED" => SearchKey::Flag("\\Flagged", false),
        "UNSEEN" => SearchKey::Flag("\\Seen", false),
        "NEW" => SearchKey::New,
        "OLD" => SearchKey::Old,
        "RECENT" => SearchKey::Recent,
        "KEYWORD" => SearchKey::Keyword(string(it)?, true),
        "UNKEYWORD" => SearchKey::Keyword(string(it)?, false),
        "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => SearchKey::Header(up.clone(), string(it)?),
        "HEADER" => {
            let name = string(it)?;
            SearchKey::Header(name.to_ascii_uppercase(), string(it)?)
        }
        "BODY" => SearchKey::Body(string(it)?),
        "TEXT" => SearchKey::Text(string(it)?),
        "BEFORE" => SearchKey::Before(date(it)?),
        "ON" => SearchKey::On(date(it)?),
        "SINCE" => SearchKey::Since(date(it)?),
        "SENTBEFORE" => SearchKey::SentBefore(date(it)?),
        "SENTON" => SearchKey::SentOn(date(it)?),
        "SENTSINCE" => SearchKey::SentSince(date(it)?),
        "LARGER" => SearchKey::Larger(
            string(it)?
                .parse()
                .map_err(|_| "LARGER needs a number".to_string())?,
        ),
        "SMALLER" => SearchKey::Smaller(
            string(it)?
                .parse()
                .map_err(|_| "SMALLER needs a number".to_string())?,
        ),
        "UID" => SearchKey::Uid(seq_set(&string(it)?)?),
        "MODSEQ" => {
            let mut v = string(it)?;
            // MODSEQ [entry-name entry-type] value: skip the optional metadata pair.
            if v.starts_with('"') || v.starts_with('/') {
                string(it)?;
                v = string(it)?;
            }
            SearchKey::ModSeq(v.parse().map_err(|_| "MODSEQ needs a number".to_string())?)
        }
        "NOT" => SearchKey::Not(Box::new(search_key(it, depth + 1, budget)?)),
        "OR" => {
            let a = search_key(it, depth + 1, budget)?;
            let b = search_key(it, depth + 1, budget)?;
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        _ if atom.starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '$') => {
            SearchKey::Seq(seq_set(&atom)?)
        }
        _ => return Err(format!("unknown search key {atom}")),
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
