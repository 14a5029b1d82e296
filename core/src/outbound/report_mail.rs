//! Reports Roost sends about other domains' mail (TLS-RPT, DMARC): queued as its own notices
//! from postmaster, in the same commit as the mark that the report is done, so that a crash
//! neither loses a report nor sends it twice.

use crate::config::Config;
use crate::error::Result;
use crate::store::{Store, Tx};

/// Queues each (recipient, message) and runs `done` in the same commit; how many were queued
/// (an address with nowhere to go is logged by the notice path and skipped).
pub async fn queue(
    store: &Store,
    cfg: &Config,
    messages: Vec<(String, Vec<u8>)>,
    done: impl FnOnce(&Tx) -> Result<()> + Send + 'static,
) -> Result<usize> {
    let from = format!("postmaster@{}", cfg.first_domain());
    let mut prepared = Vec::new();
    for (to, message) in &messages {
        if let Some(p) = crate::accept::prepare_notification(store, cfg, &from, to, message)? {
            prepared.push(p);
        }
    }
    let n = prepared.len();
    let dirs: Vec<_> = prepared
        .iter()
        .flat_map(|p| p.sync_dirs().to_vec())
        .collect();
    let written = store
        .write_async(dirs, move |tx| {
            for p in &prepared {
                p.apply(tx)?;
            }
            done(tx)
        })
        .await;
    match written {
        Ok(()) => Ok(n),
        Err(crate::error::Error::Exists(why)) => {
            tracing::info!(%why, "report not queued twice");
            Ok(0)
        }
        Err(e) => Err(e),
    }
}
