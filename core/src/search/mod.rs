//! Full-text search: a tantivy index beside the store that narrows IMAP SEARCH to the messages
//! that can match; the store's messages are still checked, so answers equal a full scan. A
//! background thread indexes new messages in batches and follows the expunge log; messages not
//! yet indexed are always scanned, so a missing or lagging index costs time, never results.

pub mod extract;
pub mod index;
pub mod terms;

use crate::config::Config;
use crate::error::Result;
use crate::imap::command::SearchKey;
use crate::store::{self, Store};
use index::SearchIndex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

/// Messages per commit: a burst of deliveries costs one commit per batch, not per message.
const BATCH: usize = 256;

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

    /// The UIDs of `mailbox` that can match `key` among indexed messages; None when the index
    /// cannot narrow this search (no text key at the top level, or none it can use).
    pub fn candidates(&self, mailbox: i64, account: i64, key: &SearchKey) -> Option<HashSet<u32>> {
        let idx = self.index.as_ref()?;
        let cjk = self
            .cjk
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&account);
        let mut needles = Vec::new();
        let top: Vec<&SearchKey> = match key {
            SearchKey::And(ks) => ks.iter().collect(),
            k => vec![k],
        };
        for k in top {
            match k {
                SearchKey::Body(s) | SearchKey::Text(s) => needles.push(s.as_str()),
                SearchKey::Header(name, value)
                    if !value.is_empty()
                        && ["subject", "from", "to", "cc", "bcc"]
                            .contains(&name.to_ascii_lowercase().as_str()) =>
                {
                    needles.push(value.as_str())
                }
                _ => {}
            }
        }
        let constraints: Vec<terms::Constraint> = needles
            .iter()
            .filter_map(|n| terms::needle_constraints(n, cjk))
            .flatten()
            .collect();
        if constraints.is_empty() {
            return None;
        }
        match idx.candidates(mailbox, &constraints) {
            Ok(set) => {
                tracing::debug!(
                    mailbox,
                    candidates = set.len(),
                    "search narrowed by the index"
                );
                Some(set)
            }
            Err(e) => {
                tracing::warn!(error = %e, "search index query failed; scanning");
                None
            }
        }
    }

    /// Indexes one batch of waiting messages and expunges; returns how many messages it indexed.
    pub fn index_batch(&self, store: &Store) -> Result<usize> {
        let Some(idx) = &self.index else { return Ok(0) };
        let generation = store.read(|c| store::search::state(c, "cjk_generation"))?;
        let cjk = store.read(store::search::cjk_accounts)?;
        *self.cjk.write().unwrap_or_else(|p| p.into_inner()) = cjk.clone();
        let pending = store.read(|c| store::search::unindexed(c, BATCH))?;
        let cursor = store.read(|c| store::search::state(c, "expunge_cursor"))?;
        let expunged = store.read(|c| store::search::expunged_since(c, cursor, 4 * BATCH))?;
        if pending.is_empty() && expunged.is_empty() {
            return Ok(0);
        }
        let mut add = Vec::with_capacity(pending.len());
        let mut incomplete = Vec::new();
        for p in &pending {
            // A message whose file cannot be read is indexed empty: it is scanned anyway when
            // the index cannot narrow, and the scan reports the read error.
            let text = match store.blobs().read(&p.blob) {
                Ok(raw) => extract::fold(&extract::extract(&raw).text()),
                Err(_) => String::new(),
            };
            let (terms, complete) = terms::index_terms(&text, cjk.contains(&p.account_id));
            if !complete {
                incomplete.push(p.id);
            }
            add.push((p.mailbox_id, p.uid, terms));
        }
        let deletes: Vec<(i64, u32)> = expunged.iter().map(|(_, m, u)| (*m, *u)).collect();
        idx.apply(&add, &deletes)?;
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
