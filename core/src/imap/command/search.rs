//! SEARCH programs, and SORT and THREAD around them (RFC 3501 6.4.4, RFC 5256).

use super::*;

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

pub(super) fn parse_search_cmd(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
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

pub(super) fn parse_sort(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
    use crate::imap::sort::SortKey;
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

pub(super) fn parse_thread(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
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
    if depth > crate::imap::token::MAX_DEPTH {
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
        crate::imap::date::parse_date(&s).ok_or_else(|| format!("bad date {s}"))
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
