//! The quarantine's two doors: a message the checks hold is written once with its envelope
//! and delivered to nobody; a message the admin releases goes the one way in, as if it had
//! just arrived and passed (its checks are not run again).

use super::content::Content;
use super::{Failure, Incoming, Local, Prepared, Remote};
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::store::quarantine::{self as q, Held};
use crate::store::{self, Store};
use std::sync::Arc;

/// Keeps the message in the quarantine (trace headers included) instead of delivering it.
pub async fn hold(
    shared: &Arc<Shared>,
    m: &Incoming,
    content: Content<'static>,
    reason: &str,
) -> std::result::Result<(), Failure> {
    let blobs = shared.store.blobs().clone();
    let trace = m.trace.clone();
    let written =
        tokio::task::spawn_blocking(move || content.write_blob(&blobs, &[trace.as_bytes()]))
            .await
            .map_err(|_| Failure::Failed(Error::Storage("message writer stopped".into())))??;
    let (blob, size, dir) = written;
    let header = m.header.as_ref().map(|own| {
        let mut h = m.trace.as_bytes().to_vec();
        h.extend_from_slice(own);
        h
    });
    let subject = m
        .header
        .as_deref()
        .and_then(|h| {
            crate::rfc5322::field_values(h, "subject")
                .into_iter()
                .next()
        })
        .unwrap_or_default();
    let arrival = m.arrival.as_ref();
    let held = Held {
        id: m.queue_id.clone(),
        blob,
        sender: m.return_path.clone().unwrap_or_default(),
        accounts: m.local.iter().map(|l| l.account_id).collect(),
        remote: m
            .remote
            .as_ref()
            .map(|r| r.recipients.clone())
            .unwrap_or_default(),
        recipients: arrival.map(|a| a.recipients.clone()).unwrap_or_default(),
        reason: reason.to_string(),
        size,
        created: store::now(),
        client: arrival.map(|a| a.ip.to_string()).unwrap_or_default(),
        subject: subject.chars().take(200).collect(),
    };
    shared
        .store
        .write_async(vec![dir], move |tx| q::hold(tx, &held, header.as_deref()))
        .await?;
    tracing::warn!(target: "roost_core::transactions", queue_id = %m.queue_id, reason,
        "quarantined: held for the admin (roost quarantine list)");
    Ok(())
}

/// Delivers a held message to the recipients it was for, and takes it out of the quarantine,
/// in one commit. Blocking (the admin layer's caller is not async).
pub fn release(store: &Store, id: &str) -> Result<Held> {
    let wanted = id.to_string();
    let held = store
        .read(|tx| q::get(tx, &wanted))?
        .ok_or_else(|| Error::NotFound(format!("no message {id} in the quarantine")))?;
    let bytes = store.blobs().read(&held.blob)?;
    let m = Incoming {
        queue_id: held.id.clone(),
        return_path: Some(held.sender.clone()),
        trace: String::new(),
        header: Some(store::header_of(&bytes).to_vec()),
        local: held.accounts.iter().map(|&a| Local::inbox(a)).collect(),
        remote: (!held.remote.is_empty()).then(|| Remote {
            sender: held.sender.clone(),
            recipients: held.remote.clone(),
            signature: None,
            auth_user: None,
            client_ip: held.client.clone(),
        }),
        sent_by: None,
        arrival: None,
    };
    let prepared: Prepared = super::prepare(store.blobs(), &m, &Content::Bytes(bytes.into()))
        .map_err(|f| match f {
            Failure::Failed(e) => e,
            Failure::Refused(why) | Failure::Deferred(why) => Error::Invalid(why),
        })?;
    let gone = held.id.clone();
    // Taken out first, in the same commit: a second release (or a delete) at the same time
    // finds nothing, so the message is delivered once.
    store.write_syncing(prepared.sync_dirs().to_vec(), move |tx| {
        if !q::remove(tx, &gone)? {
            return Err(Error::NotFound(format!(
                "no message {gone} in the quarantine"
            )));
        }
        prepared.apply(tx)?;
        Ok(())
    })?;
    tracing::info!(target: "roost_core::transactions", queue_id = %held.id, "released from the quarantine");
    Ok(held)
}
