//! FETCH: items, sections and partial ranges (RFC 3501 6.4.5, RFC 3516 BINARY).

use super::*;

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

pub(super) fn parse_fetch(a: &mut Args, uid: bool) -> ParseResult<Cmd> {
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
