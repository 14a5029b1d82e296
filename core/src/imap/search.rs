//! SEARCH evaluation over one message (RFC 3501 6.4.4, RFC 9051 6.4.4): flags and dates from the
//! index rows, headers and text from the message itself (loaded only when a key needs it).

use super::command::SearchKey;
use super::{date, mime};
use crate::context::Shared;
use crate::search::extract::{Extracted, fold};
use crate::search::{Narrowing, TextTerm};
use crate::store::messages::Meta;
use crate::store::{self, flags, messages};
use std::collections::HashSet;
use std::sync::Arc;

/// What a key needs beyond the index row.
pub fn needs_body(k: &SearchKey) -> bool {
    match k {
        SearchKey::Header(..) | SearchKey::Body(_) | SearchKey::Text(_) => true,
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => true,
        SearchKey::And(ks) => ks.iter().any(needs_body),
        SearchKey::Or(a, b) => needs_body(a) || needs_body(b),
        SearchKey::Not(a) => needs_body(a),
        _ => false,
    }
}

/// Whether a key needs the message text, not just its header.
pub fn needs_text(k: &SearchKey) -> bool {
    match k {
        SearchKey::Body(_) | SearchKey::Text(_) => true,
        SearchKey::And(ks) => ks.iter().any(needs_text),
        SearchKey::Or(a, b) => needs_text(a) || needs_text(b),
        SearchKey::Not(a) => needs_text(a),
        _ => false,
    }
}

/// Whether a key compares decoded text (the same strings the search index is built from).
pub fn needs_extract(k: &SearchKey) -> bool {
    match k {
        SearchKey::Body(_) | SearchKey::Text(_) => true,
        SearchKey::Header(name, value) => !value.is_empty() && decoded_field(name),
        SearchKey::And(ks) => ks.iter().any(needs_extract),
        SearchKey::Or(a, b) => needs_extract(a) || needs_extract(b),
        SearchKey::Not(a) => needs_extract(a),
        _ => false,
    }
}

fn decoded_field(name: &str) -> bool {
    crate::search::index::Area::of_header(name).is_some()
}

/// How one SEARCH program runs in one mailbox: which messages the search index rules out, and
/// what is left to check of the others.
pub struct Plan {
    /// The messages the index allows, and what is left to check of them.
    narrowing: Option<(HashSet<u32>, SearchKey)>,
    /// Messages the index does not fully hold: checked against the whole program.
    not_indexed: HashSet<u32>,
}

impl Plan {
    pub fn new(
        shared: &Shared,
        mailbox: i64,
        account: Option<i64>,
        key: &SearchKey,
    ) -> crate::error::Result<Plan> {
        let Some(account) = account.filter(|_| shared.search.index().is_some()) else {
            return Ok(Plan {
                narrowing: None,
                not_indexed: HashSet::new(),
            });
        };
        // Read before the index is asked: a message indexed in between is then in the index's
        // answer, or here, or both; never in neither.
        let not_indexed = shared.store.read(|c| messages::not_indexed(c, mailbox))?;
        Ok(Plan {
            narrowing: narrow(shared, mailbox, account, key),
            not_indexed,
        })
    }

    /// What this message must be checked against (`All`: it matches); None when the index
    /// rules it out.
    pub fn key_for<'a>(&'a self, uid: u32, key: &'a SearchKey) -> Option<&'a SearchKey> {
        match &self.narrowing {
            Some(n) if !self.not_indexed.contains(&uid) => n.0.contains(&uid).then_some(&n.1),
            _ => Some(key),
        }
    }
}

/// The top-level text keys of a program asked of the search index; the residual is the program
/// without the keys it answered exactly (`All` when it answered everything).
fn narrow(
    shared: &Shared,
    mailbox: i64,
    account: i64,
    key: &SearchKey,
) -> Option<(HashSet<u32>, SearchKey)> {
    let items: &[SearchKey] = match key {
        SearchKey::And(ks) => ks,
        k => std::slice::from_ref(k),
    };
    let mut terms = Vec::new();
    let mut positions = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let term = match item {
            SearchKey::Body(s) => TextTerm::Body(s.clone()),
            SearchKey::Text(s) => TextTerm::Text(s.clone()),
            SearchKey::Header(n, v) => TextTerm::Header(n.clone(), v.clone()),
            _ => continue,
        };
        terms.push(term);
        positions.push(i);
    }
    let Narrowing { uids, exact } = shared.search.narrow(mailbox, account, &terms)?;
    let answered: HashSet<usize> = positions
        .iter()
        .zip(&exact)
        .filter(|(_, e)| **e)
        .map(|(p, _)| *p)
        .collect();
    let mut residual: Vec<SearchKey> = items
        .iter()
        .enumerate()
        .filter(|(i, _)| !answered.contains(i))
        .map(|(_, k)| k.clone())
        .collect();
    // Under the search module's target: `log.level = "roost_core::search=debug"` shows it.
    tracing::debug!(
        target: "roost_core::search",
        mailbox,
        candidates = uids.len(),
        checked = !residual.is_empty(),
        "search narrowed by the index"
    );
    let residual = match residual.len() {
        0 => SearchKey::All,
        1 => residual.remove(0),
        _ => SearchKey::And(residual),
    };
    Some((uids, residual))
}

/// The decoded text `key` compares against, when it compares any.
pub fn extract_for(key: &SearchKey, message: Option<&[u8]>) -> Option<Extracted> {
    if needs_extract(key) {
        message.map(crate::search::extract::extract)
    } else {
        None
    }
}

/// One message to check: its sequence number, index row, and whether it is \Recent here.
struct Candidate {
    seq: u32,
    meta: Meta,
    recent: bool,
}

/// A message that matched, with the bytes read for it when the caller asked to keep them.
pub struct Matched {
    pub seq: u32,
    pub meta: Meta,
    pub message: Option<Vec<u8>>,
}

/// Why a check did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckError {
    /// This message (its sequence number) could not be read.
    Unreadable(u32),
    /// The message memory budget stayed full: try again later.
    Busy,
    /// A check itself failed.
    Failed,
}

impl CheckError {
    /// The tagged NO for it.
    pub fn reply(&self, tag: &str) -> String {
        match self {
            CheckError::Unreadable(seq) => {
                format!("{tag} NO [SERVERBUG] cannot read message {seq}")
            }
            CheckError::Busy => format!(
                "{tag} NO [UNAVAILABLE] the server is short of memory for messages; try again later"
            ),
            CheckError::Failed => format!("{tag} NO [SERVERBUG] search failed"),
        }
    }
}

/// Messages checked per blocking task, and the bytes of them read whole for one task.
const CHUNK: usize = 512;
const CHUNK_BYTES: u64 = 16 * 1024 * 1024;

/// Checks candidates against the program on blocking threads, a chunk at a time: reading and
/// decoding messages is disk and CPU work that must not hold up the async threads every
/// session shares. With `keep_header`, each match comes with at least its header (SORT and
/// THREAD need it), and a message that cannot be read is an error.
pub async fn check(
    shared: &Arc<Shared>,
    plan: Plan,
    key: &SearchKey,
    metas: Vec<(u32, Meta)>,
    recent: &HashSet<u32>,
    (max_seq, max_uid): (u32, u32),
    keep_header: bool,
) -> Result<Vec<Matched>, CheckError> {
    let (plan, key) = (Arc::new(plan), Arc::new(key.clone()));
    let mut out = Vec::new();
    let mut rest = metas
        .into_iter()
        .map(|(seq, meta)| Candidate {
            seq,
            recent: recent.contains(&meta.uid),
            meta,
        })
        .peekable();
    while rest.peek().is_some() {
        // Whole messages read for their text count against the message memory budget (twice:
        // the message and its decoded text), in chunks of bounded size.
        let mut chunk: Vec<Candidate> = Vec::new();
        let mut bytes = 0u64;
        while let Some(c) = rest.peek() {
            let k = plan.key_for(c.meta.uid, &key).unwrap_or(&key);
            let size = if needs_text(k) { c.meta.size * 2 } else { 0 };
            if !chunk.is_empty() && (chunk.len() >= CHUNK || bytes + size > CHUNK_BYTES) {
                break;
            }
            bytes += size;
            chunk.extend(rest.next());
        }
        let Some(held) = shared.memory.hold_a_while(bytes).await else {
            return Err(CheckError::Busy);
        };
        let (shared, plan, key) = (shared.clone(), plan.clone(), key.clone());
        let checked = tokio::task::spawn_blocking(move || {
            let mut matched = Vec::new();
            for c in chunk {
                let k = plan.key_for(c.meta.uid, &key).unwrap_or(&key);
                let message = read_for(&shared, &c.meta, k, keep_header);
                if keep_header && message.is_none() {
                    return Err(CheckError::Unreadable(c.seq));
                }
                let extracted = extract_for(k, message.as_deref());
                let ctx = Ctx {
                    meta: &c.meta,
                    seq: c.seq,
                    max_seq,
                    max_uid,
                    recent: c.recent,
                    message: message.as_deref(),
                    extracted: extracted.as_ref(),
                };
                if matches(k, &ctx) {
                    // SORT and THREAD need the header only: never keep whole messages.
                    let message = match message {
                        Some(m) if keep_header => Some(store::header_of(&m).to_vec()),
                        _ => None,
                    };
                    matched.push(Matched {
                        seq: c.seq,
                        meta: c.meta,
                        message,
                    });
                }
            }
            Ok(matched)
        })
        .await
        .map_err(|_| CheckError::Failed)?;
        drop(held);
        out.extend(checked?);
    }
    Ok(out)
}

/// What checking `key` against a message needs read of it: the whole message, its header (from
/// the cache beside the blob when there), or nothing.
fn read_for(shared: &Shared, meta: &Meta, key: &SearchKey, header: bool) -> Option<Vec<u8>> {
    if needs_text(key) {
        return shared.store.blobs().read(&meta.blob).ok();
    }
    if !(header || needs_body(key)) {
        return None;
    }
    if let Ok(Some(h)) = shared.store.read(|c| store::cached_header(c, &meta.blob)) {
        return Some(h);
    }
    let whole = shared.store.blobs().read(&meta.blob).ok()?;
    Some(store::header_of(&whole).to_vec())
}

pub struct Ctx<'a> {
    pub meta: &'a Meta,
    pub seq: u32,
    pub max_seq: u32,
    pub max_uid: u32,
    pub recent: bool,
    pub message: Option<&'a [u8]>,
    /// The message's decoded text, when a key needs it.
    pub extracted: Option<&'a Extracted>,
}

pub fn flag_bit(name: &str) -> Option<i64> {
    Some(match name.to_ascii_lowercase().as_str() {
        "\\seen" => flags::SEEN,
        "\\answered" => flags::ANSWERED,
        "\\flagged" => flags::FLAGGED,
        "\\deleted" => flags::DELETED,
        "\\draft" => flags::DRAFT,
        _ => return None,
    })
}

/// Case-insensitive substring, folding as the index does.
fn contains_ci(hay: &str, needle: &str) -> bool {
    fold(hay).contains(&fold(needle))
}

/// The same, for text that `extract` already folded.
fn folded_contains(folded: &str, needle: &str) -> bool {
    folded.contains(&fold(needle))
}

pub fn matches(k: &SearchKey, c: &Ctx<'_>) -> bool {
    let day = |t: i64| t.div_euclid(86_400) * 86_400;
    let sent = || -> Option<i64> {
        let (h, _) = mime::split_header(c.message?);
        mime::field(h, "date").and_then(|d| date::parse_rfc5322(&d))
    };
    match k {
        SearchKey::All => true,
        SearchKey::And(ks) => ks.iter().all(|k| matches(k, c)),
        SearchKey::Or(a, b) => matches(a, c) || matches(b, c),
        SearchKey::Not(a) => !matches(a, c),
        SearchKey::Flag(name, set) => {
            flag_bit(name).is_some_and(|b| (c.meta.flags & b != 0) == *set)
        }
        SearchKey::Keyword(kw, set) => {
            c.meta
                .keywords
                .split_whitespace()
                .any(|x| x.eq_ignore_ascii_case(kw))
                == *set
        }
        SearchKey::New => c.recent && c.meta.flags & flags::SEEN == 0,
        SearchKey::Old => !c.recent,
        SearchKey::Recent => c.recent,
        SearchKey::Before(d) => day(c.meta.internal_date) < *d,
        SearchKey::On(d) => day(c.meta.internal_date) == *d,
        SearchKey::Since(d) => day(c.meta.internal_date) >= *d,
        SearchKey::SentBefore(d) => sent().is_some_and(|t| day(t) < *d),
        SearchKey::SentOn(d) => sent().is_some_and(|t| day(t) == *d),
        SearchKey::SentSince(d) => sent().is_some_and(|t| day(t) >= *d),
        SearchKey::Larger(n) => c.meta.size > *n,
        SearchKey::Smaller(n) => c.meta.size < *n,
        SearchKey::Uid(set) => set.contains(c.meta.uid, c.max_uid),
        SearchKey::Seq(set) => set.contains(c.seq, c.max_seq),
        SearchKey::ModSeq(m) => c.meta.modseq >= *m,
        SearchKey::Header(name, value) if !value.is_empty() && decoded_field(name) => c
            .extracted
            .and_then(|e| e.field(name))
            .is_some_and(|v| folded_contains(v, value)),
        SearchKey::Header(name, value) => {
            let Some(msg) = c.message else { return false };
            let (h, _) = mime::split_header(msg);
            mime::fields(h).iter().any(|(n, v)| {
                n.eq_ignore_ascii_case(name) && (value.is_empty() || contains_ci(v, value))
            })
        }
        SearchKey::Body(s) => c.extracted.is_some_and(|e| folded_contains(&e.body, s)),
        // The header block or the body: a string is not found across the two.
        SearchKey::Text(s) => c
            .extracted
            .is_some_and(|e| folded_contains(&e.header, s) || folded_contains(&e.body, s)),
    }
}
