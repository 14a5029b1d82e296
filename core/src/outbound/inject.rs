//! Mail that Roost itself writes (bounces, delay warnings) and queued mail whose domain became
//! local: delivered into a local mailbox, or queued to leave, in the caller's transaction.

use crate::config::Config;
use crate::directory::{self, Address};
use crate::error::Result;
use crate::store::{self, Delivery, DeliveryTarget, QueueEntry, QueueRecipient, Store};
use rusqlite::Connection;
use std::path::PathBuf;

/// A message written to disk and ready to be committed with `apply`.
pub struct Injection {
    delivery: Option<Delivery>,
    entry: Option<QueueEntry>,
    pub sync_dirs: Vec<PathBuf>,
    /// Accounts that receive it, to wake their sessions after the commit.
    pub accounts: Vec<i64>,
}

impl Injection {
    pub fn apply(&self, conn: &Connection) -> Result<()> {
        if let Some(d) = &self.delivery {
            store::deliver(conn, d)?;
        }
        if let Some(e) = &self.entry {
            store::enqueue(conn, e)?;
        }
        Ok(())
    }
}

/// Writes `message` from `from` to `to` (blocking). None when `to` has nowhere to go, which
/// is logged: a notification to an address that does not exist has no one left to tell.
pub fn prepare(
    store: &Store,
    cfg: &Config,
    from: &str,
    to: &str,
    message: &[u8],
) -> Result<Option<Injection>> {
    let Ok(addr) = Address::parse(to) else {
        tracing::warn!(to, "notification dropped: not an address");
        return Ok(None);
    };
    let delimiter = cfg.smtp.recipient_delimiter.clone();
    let resolved = store.read(|c| directory::resolve(c, &addr, &delimiter, true))?;
    let (accounts, external) = match resolved {
        Ok(r) => (r.accounts, r.external),
        Err(directory::RcptError::NotLocal) => (vec![], vec![addr.to_string()]),
        Err(e) => {
            tracing::warn!(to, reason = ?e, "notification dropped: no such local recipient");
            return Ok(None);
        }
    };
    let queue_id = crate::smtp::new_queue_id();
    let now = store::now();
    let received = format!(
        "Received: by {} (Roost) id {queue_id};\r\n\t{}\r\n",
        cfg.hostname,
        crate::util::rfc5322_date(now)
    );
    let mut inj = Injection {
        delivery: None,
        entry: None,
        sync_dirs: Vec::new(),
        accounts: accounts.iter().map(|a| a.id).collect(),
    };
    if !accounts.is_empty() {
        let return_path = format!("Return-Path: <{from}>\r\n");
        let (blob, size, dir) =
            store
                .blobs()
                .write(&[return_path.as_bytes(), received.as_bytes(), message])?;
        let mut header = Vec::new();
        header.extend_from_slice(return_path.as_bytes());
        header.extend_from_slice(received.as_bytes());
        header.extend_from_slice(store::header_of(message));
        inj.sync_dirs.push(dir);
        inj.delivery = Some(Delivery {
            blob,
            size,
            header: Some(header),
            internal_date: now,
            targets: accounts
                .iter()
                .map(|a| DeliveryTarget {
                    account_id: a.id,
                    mailbox: "INBOX".into(),
                })
                .collect(),
        });
    }
    if !external.is_empty() {
        let (blob, size, dir) = store.blobs().write(&[received.as_bytes(), message])?;
        inj.sync_dirs.push(dir);
        inj.entry = Some(QueueEntry {
            id: queue_id,
            blob: Some(blob),
            sender: from.to_string(),
            auth_user: None,
            client_ip: String::new(),
            size,
            created: now,
            recipients: external
                .into_iter()
                .map(|a| QueueRecipient::new(a, now))
                .collect(),
        });
    }
    Ok(Some(inj))
}
