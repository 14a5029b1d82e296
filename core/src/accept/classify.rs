//! Roost's own score of a message from outside (`[protection] classifier`): the message's
//! rules once, then each recipient's Bayesian classifier, when that user has taught it enough.

use super::Incoming;
use crate::config::ProtectionConfig;
use crate::context::Shared;
use crate::protect::Words;
use crate::protect::bayes::{self, Totals};
use crate::protect::score::{self, Hit};
use std::collections::HashMap;

/// The recipients whose classifier has learned enough to count.
pub fn trained(shared: &Shared, p: &ProtectionConfig, m: &Incoming) -> Vec<(i64, Totals)> {
    if !p.classifier {
        return Vec::new();
    }
    let min = p.classifier_min_learned.max(1);
    m.local
        .iter()
        .filter_map(|l| {
            let t = shared
                .store
                .read(|tx| crate::store::bayes::totals(tx, l.account_id))
                .ok()?;
            (t.spam >= min && t.ham >= min).then_some((l.account_id, t))
        })
        .collect()
}

/// What the score decided: the X-Roost-Score header, and the Junk reason by the message's
/// rules, or by each trained recipient's own score (None there: not Junk for them).
#[derive(Default)]
pub struct Scored {
    pub header: String,
    pub junk: Option<String>,
    pub junk_for: HashMap<i64, Option<String>>,
}

impl Scored {
    /// The score's Junk reason for one recipient.
    pub fn junk_for(&self, account: i64) -> Option<String> {
        match self.junk_for.get(&account) {
            Some(own) => own.clone(),
            None => self.junk.clone(),
        }
    }
}

/// Scores the message: its rules (from the header and, when they were checked, the sender
/// authentication words), plus each trained recipient's classifier over `bytes`.
pub async fn score(
    shared: &Shared,
    p: &ProtectionConfig,
    m: &Incoming,
    words: Option<Words>,
    trained: Vec<(i64, Totals)>,
    bytes: Option<&[u8]>,
) -> Scored {
    let mut out = Scored::default();
    if !p.classifier {
        return out;
    }
    let hits = score::message_rules(m.header.as_deref(), words);
    let base = score::total(&hits);
    if !hits.is_empty() {
        out.header = format!("X-Roost-Score: {}\r\n", score::describe(&hits));
    }
    if base >= p.junk_score {
        out.junk = Some(format!("score {}", score::describe(&hits)));
    }
    let (Some(bytes), false) = (bytes, trained.is_empty()) else {
        return out;
    };
    // The words worth reading are near the start; parsing and the look-ups go to the blocking
    // pool, off the session threads.
    let sample = bytes[..bytes.len().min(SAMPLE)].to_vec();
    let (store, junk_score, queue_id) = (shared.store.clone(), p.junk_score, m.queue_id.clone());
    let verdicts = tokio::task::spawn_blocking(move || {
        per_recipient(&store, junk_score, &queue_id, &hits, &trained, &sample)
    })
    .await
    .unwrap_or_default();
    out.junk_for.extend(verdicts);
    out
}

/// Bytes of a message its classifier reads at most.
const SAMPLE: usize = 256 * 1024;

/// Each trained recipient's verdict: the message's rules plus what their classifier says.
fn per_recipient(
    store: &crate::store::Store,
    junk_score: f64,
    queue_id: &str,
    hits: &[Hit],
    trained: &[(i64, Totals)],
    sample: &[u8],
) -> Vec<(i64, Option<String>)> {
    let tokens = bayes::tokens(sample);
    let mut out = Vec::new();
    for &(account, totals) in trained {
        let counts = match store.read(|tx| crate::store::bayes::counts(tx, account, &tokens)) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, account, "classifier not read");
                continue;
            }
        };
        let p_spam = bayes::probability(totals, &counts);
        let mut mine: Vec<Hit> = hits.to_vec();
        mine.extend(score::bayes_hit(p_spam));
        let total = score::total(&mine);
        tracing::info!(target: "roost_core::transactions", queue_id, account,
            bayes = format!("{p_spam:.3}"), score = %score::describe(&mine), "classifier");
        let verdict = (total >= junk_score).then(|| format!("score {}", score::describe(&mine)));
        out.push((account, verdict));
    }
    out
}
