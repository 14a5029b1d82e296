//! Blob garbage: rows and files that nothing names any more.

use super::Store;
use crate::error::Result;
use std::time::{Duration, SystemTime};

/// Removes blob rows and files that no message or queue entry names, and blob files that no row
/// names (older than an hour, so a delivery between its rename and its commit is left alone).
pub fn collect_garbage(store: &Store) -> Result<usize> {
    let dead = store.read(super::unreferenced_blobs)?;
    let mut removed = 0;
    if !dead.is_empty() {
        let ids = dead.clone();
        // Rows first: a file without a row is harmless, a row without a file is not.
        store.write(move |c| {
            let mut stmt = c.prepare_cached(
                "DELETE FROM blobs WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = ?1)
                 AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = ?1)
                 AND NOT EXISTS (SELECT 1 FROM quarantine WHERE blob_id = ?1)",
            )?;
            for id in &ids {
                stmt.execute([&id.0])?;
            }
            Ok(())
        })?;
        for id in &dead {
            if !store.read(|c| super::blob_known(c, id))? {
                store.blobs().remove(id)?;
                removed += 1;
            }
        }
    }
    let cutoff = SystemTime::now() - Duration::from_secs(3600);
    for (id, modified) in store.blobs().list()? {
        if modified < cutoff && !store.read(|c| super::blob_known(c, &id))? {
            store.blobs().remove(&id)?;
            removed += 1;
        }
    }
    Ok(removed)
}
