//! SELECT/EXAMINE's QRESYNC, LIST and LSUB, APPEND: the mailbox commands' arguments.

use super::*;

pub(super) fn parse_qresync(q: Vec<Tok>) -> ParseResult<Qresync> {
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

pub(super) fn parse_list(a: &mut Args, lsub: bool) -> ParseResult<Cmd> {
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

pub(super) fn parse_append(a: &mut Args) -> ParseResult<Cmd> {
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
                date = Some(crate::imap::date::parse_date_time(&text).ok_or("bad date-time")?);
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
