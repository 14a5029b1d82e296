//! Full-text search: a tantivy index beside the store that narrows IMAP SEARCH to the messages
//! that can match; the store's messages are still checked, so answers equal a full scan. A
//! background thread indexes new messages in batches and follows the expunge log; messages not
//! yet indexed are always scanned, so a missing or lagging index costs time, never results.

pub mod dictionary;
pub mod extract;
pub mod index;
pub mod terms;
pub mod tokenizer;

use crate::config::Config;
use crate::error::Result;
use crate::store::{self, Store};
use index::{Area, IndexDoc, SearchIndex};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

/// Messages per commit: a burst of deliveries costs one commit per batch, not per message.
const BATCH: usize = 256;

/// A text condition the index can answer: what IMAP's BODY, TEXT and header keys (and any
/// other front end's search) ask of a message's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextTerm {
    /// The body (text parts, attached messages, attachment names).
    Body(String),
    /// The header block and the body.
    Text(String),
    /// One header field by name (From, To, Cc, Bcc, Subject are indexed).
    Header(String, String),
}

/// What the index answered for a conjunction of terms in one mailbox.
pub struct Narrowing {
    /// The indexed messages that can match every term it used; no other indexed message does.
    pub uids: HashSet<u32>,
    /// Per term: true when the index answered it exactly (it needs no other check).
    pub exact: Vec<bool>,
}

pub struct Search {
    index: Option<SearchIndex>,
    cjk: RwLock<HashSet<i64>>,
    wake: (Mutex<bool>, Condvar),
}

impl Search {
    /// Opens (or makes) the index in DATA/search; none when search is off. A new or replaced
    /// index marks every message to be indexed again.
    pub fn open(cfg: &Config, store: &Store) -> Search {
        let index = if cfg.search.enabled {
            match SearchIndex::open(&cfg.data_dir.join("search")) {
                Ok((idx, fresh)) => {
                    if fresh && let Err(e) = store.write(|c| store::search::reset(c, None)) {
                        tracing::error!(error = %e, "cannot queue messages for indexing");
                    }
                    Some(idx)
                }
                Err(e) => {
                    tracing::error!(error = %e, "search index unavailable; SEARCH scans");
                    None
                }
            }
        } else {
            None
        };
        let cjk = store.read(store::search::cjk_accounts).unwrap_or_default();
        Search {
            index,
            cjk: RwLock::new(cjk),
            wake: (Mutex::new(false), Condvar::new()),
        }
    }

    pub fn index(&self) -> Option<&SearchIndex> {
        self.index.as_ref()
    }

    /// New mail: index it soon.
    pub fn wake(&self) {
        let (lock, cv) = &self.wake;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_one();
    }

    /// What the index says about all of `terms` together in `mailbox`: the indexed messages
    /// that can match, and which terms that answered exactly. None when it can use none of
    /// them (no index, a header it does not keep, a needle without words).
    pub fn narrow(&self, mailbox: i64, account: i64, terms: &[TextTerm]) -> Option<Narrowing> {
        let idx = self.index.as_ref()?;
        let cjk = self
            .cjk
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&account);
        let mut uids: Option<HashSet<u32>> = None;
        let mut exact = vec![false; terms.len()];
        for (i, term) in terms.iter().enumerate() {
            let (needle, areas) = match term {
                TextTerm::Body(s) => (s, vec![Area::Body]),
                TextTerm::Text(s) => (s, vec![Area::Header, Area::Body]),
                TextTerm::Header(name, value) if !value.is_empty() => match Area::of_header(name) {
                    Some(a) => (value, vec![a]),
                    None => continue,
                },
                TextTerm::Header(..) => continue,
            };
            let Some(phrase) = terms::needle_phrase(needle, cjk) else {
                continue;
            };
            let found = match idx.matching(mailbox, &areas, &phrase) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "search index query failed; reading messages");
                    continue;
                }
            };
            exact[i] = phrase.exact;
            uids = Some(match uids {
                None => found.into_iter().collect(),
                Some(prev) => found.into_iter().filter(|u| prev.contains(u)).collect(),
            });
        }
        Some(Narrowing { uids: uids?, exact })
    }

    /// Indexes one batch of waiting messages and expunges; returns how many messages it indexed.
    pub fn index_batch(&self, store: &Store) -> Result<usize> {
        let Some(idx) = &self.index else { return Ok(0) };
        // One read: the CJK settings and the batch they apply to are seen together.
        let (generation, cjk, pending, cursor, expunged) = store.read(|c| {
            let cursor = store::search::state(c, "expunge_cursor")?;
            Ok((
                store::search::state(c, "cjk_generation")?,
                store::search::cjk_accounts(c)?,
                store::search::unindexed(c, BATCH)?,
                cursor,
                store::search::expunged_since(c, cursor, 4 * BATCH)?,
            ))
        })?;
        *self.cjk.write().unwrap_or_else(|p| p.into_inner()) = cjk.clone();
        if pending.is_empty() && expunged.is_empty() {
            return Ok(0);
        }
        let mut add = Vec::with_capacity(pending.len());
        let mut incomplete = Vec::new();
        for p in &pending {
            let raw = match store.blobs().read(&p.blob) {
                Ok(raw) => raw,
                Err(e) => {
                    // Left out of the index and always read: the read reports the error.
                    tracing::warn!(error = %e, uid = p.uid, "cannot read a message to index it");
                    incomplete.push(p.id);
                    continue;
                }
            };
            let (doc, complete) = document(p, &raw, cjk.contains(&p.account_id));
            if !complete {
                incomplete.push(p.id);
            }
            add.push(doc);
        }
        let deletes: Vec<(i64, u32)> = expunged.iter().map(|(_, m, u)| (*m, *u)).collect();
        idx.apply(add, &deletes)?;
        let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
        let new_cursor = expunged.last().map(|(r, _, _)| *r).unwrap_or(cursor);
        store.write(move |c| {
            // CJK indexing changed while this batch was made: leave it to be indexed again.
            if store::search::state(c, "cjk_generation")? == generation {
                store::search::mark_indexed(c, &ids)?;
                store::search::mark_incomplete(c, &incomplete)?;
            }
            store::search::set_state(c, "expunge_cursor", new_cursor)
        })?;
        Ok(pending.len())
    }

    /// The indexer thread: a batch whenever there is work, else wait for a wake-up (or a few
    /// seconds: COPY, APPEND and expunges from other paths are found by the poll).
    pub fn run(self: Arc<Self>, store: Store, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            let busy = match self.index_batch(&store) {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "search indexing failed; retrying");
                    false
                }
            };
            if busy {
                continue;
            }
            let (lock, cv) = &self.wake;
            let mut woken = lock.lock().unwrap_or_else(|p| p.into_inner());
            if !*woken {
                woken = cv
                    .wait_timeout(woken, Duration::from_secs(2))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            *woken = false;
        }
    }
}

/// A message's folded text per area, and whether the index can hold all of it.
fn document(p: &store::search::Pending, raw: &[u8], cjk: bool) -> (IndexDoc, bool) {
    let e = extract::extract(raw);
    let complete = terms::complete(&e.header) && terms::complete(&e.body);
    let areas = vec![
        (Area::Body, e.body),
        (Area::Header, e.header),
        (Area::Subject, e.subject),
        (Area::From, e.from),
        (Area::To, e.to),
        (Area::Cc, e.cc),
        (Area::Bcc, e.bcc),
    ];
    (
        IndexDoc {
            mailbox: p.mailbox_id,
            uid: p.uid,
            cjk,
            areas,
        },
        complete,
    )
}
