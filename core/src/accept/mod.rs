//! The one way in for a message: SMTP delivery, the mail Roost writes itself (bounces, delay
//! warnings, queued mail whose domain became local) and IMAP APPEND all come through here.
//!
//! `prepare` writes the blobs (one shared by every local copy, one for the copy that leaves)
//! and syncs them; `Prepared::apply` puts the mailbox rows, the queue entry and the sender's
//! daily count in the caller's transaction, so that they commit together (and with whatever
//! else the caller commits: the queue runner records a delivery outcome with the bounce it
//! causes); `Prepared::announce` then wakes the sessions of the accounts, the queue runner and
//! the indexer. `accept` does all three for callers with nothing else to commit.

mod classify;
mod content;
pub mod hooks;
pub mod quarantine;
mod screen;

pub use content::Content;

use crate::context::Shared;
use crate::error::{Error, Result};
use crate::store::{self, BlobStore, Delivery, DeliveryTarget, QueueEntry, QueueRecipient, Tx};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A message on its way in, with where it goes.
pub struct Incoming {
    pub queue_id: String,
    /// The envelope sender: local copies start with its Return-Path (RFC 5321 4.4). None for
    /// a message a user files themselves (APPEND).
    pub return_path: Option<String>,
    /// Trace lines every copy carries before the message (Received:); may be empty.
    pub trace: String,
    /// The message's own header block when all of it is known: cached beside the local copy.
    pub header: Option<Vec<u8>>,
    pub local: Vec<Local>,
    pub remote: Option<Remote>,
    /// The signed-in user whose daily sending count this message adds to.
    pub sent_by: Option<String>,
    /// For mail from outside (SMTP without signing in): the session's facts, which the
    /// protection checks judge the message by.
    pub arrival: Option<crate::protect::Arrival>,
}

/// One local copy.
pub struct Local {
    pub account_id: i64,
    pub into: Filing,
}

impl Local {
    /// A delivered copy for an account: INBOX, unless a rule files it elsewhere.
    pub fn inbox(account_id: i64) -> Local {
        Local {
            account_id,
            into: Filing::Inbox,
        }
    }
}

/// Where a local copy goes.
pub enum Filing {
    /// Delivered mail: INBOX, unless a rule files it elsewhere (`hooks::choose_mailbox`).
    Inbox,
    /// Delivered mail the checks found suspect: the account's Junk mailbox (INBOX when the
    /// user deleted it).
    Junk,
    /// A mailbox the client chose, with the flags, keywords and date it gave (APPEND).
    Mailbox {
        id: i64,
        flags: i64,
        keywords: Vec<String>,
        internal_date: Option<i64>,
    },
}

/// The copy that leaves through the queue.
pub struct Remote {
    pub sender: String,
    pub recipients: Vec<String>,
    /// A DKIM-Signature header to put first, for mail a signed-in user sends.
    pub signature: Option<String>,
    pub auth_user: Option<String>,
    pub client_ip: String,
}

/// Why a message did not get in.
#[derive(Debug)]
pub enum Failure {
    /// The checks refused it: the whole reply for the sender ("550 5.7.1 ...").
    Refused(String),
    /// The checks cannot decide now (DNS did not answer): the sender should try again.
    Deferred(String),
    /// The disk or the database failed: nothing was committed.
    Failed(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Failed(e)
    }
}

/// A local copy as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub account_id: i64,
    pub mailbox_id: i64,
    pub uid: u32,
    /// The mailbox's UIDVALIDITY, for copies filed into a chosen mailbox (APPENDUID).
    pub uidvalidity: Option<u32>,
}

/// Written and synced; rows not yet committed.
pub struct Prepared {
    delivery: Option<Delivery>,
    appends: Vec<Append>,
    entry: Option<QueueEntry>,
    sent_by: Option<String>,
    sync_dirs: Vec<PathBuf>,
    accounts: Vec<i64>,
    /// (account, sender) of mail from outside delivered to INBOX: known correspondents now.
    correspondents: Vec<(i64, String)>,
    /// Whom a signed-in user writes to: their answers are from known correspondents.
    written_to: Vec<String>,
}

struct Append {
    mailbox_id: i64,
    blob: store::BlobId,
    size: u64,
    header: Option<Vec<u8>>,
    flags: i64,
    keywords: Vec<String>,
    internal_date: Option<i64>,
}

/// Short, sortable, unique within this machine: microseconds and a counter, in upper-case hex.
pub fn new_queue_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xfff;
    format!("{micros:013X}{n:03X}")
}

/// Checks, then writes the blobs (blocking: call it off the async threads).
pub fn prepare(
    blobs: &BlobStore,
    m: &Incoming,
    content: &Content<'_>,
) -> Result<Prepared, Failure> {
    // What a user files themselves (APPEND, no envelope) is theirs: only received mail is checked.
    if m.return_path.is_some()
        && let hooks::Verdict::Refuse(why) = hooks::check_message(m, content)
    {
        return Err(Failure::Refused(why));
    }
    let now = store::now();
    let return_path = m
        .return_path
        .as_ref()
        .map(|r| format!("Return-Path: <{r}>\r\n"))
        .unwrap_or_default();
    let mut p = Prepared {
        delivery: None,
        appends: Vec::new(),
        entry: None,
        sent_by: m.sent_by.clone(),
        sync_dirs: Vec::new(),
        accounts: Vec::new(),
        correspondents: Vec::new(),
        written_to: Vec::new(),
    };
    if !m.local.is_empty() {
        let (blob, size, dir) =
            content.write_blob(blobs, &[return_path.as_bytes(), m.trace.as_bytes()])?;
        p.sync_dirs.push(dir);
        let header = m.header.as_ref().map(|own| {
            let mut h = Vec::with_capacity(return_path.len() + m.trace.len() + own.len());
            h.extend_from_slice(return_path.as_bytes());
            h.extend_from_slice(m.trace.as_bytes());
            h.extend_from_slice(own);
            h
        });
        let mut targets = Vec::new();
        for l in &m.local {
            if !p.accounts.contains(&l.account_id) {
                p.accounts.push(l.account_id);
            }
            if let (Filing::Inbox, Some(a)) = (&l.into, &m.arrival)
                && !a.mail_from.is_empty()
            {
                p.correspondents.push((l.account_id, a.mail_from.clone()));
            }
            match &l.into {
                Filing::Inbox => targets.push(DeliveryTarget {
                    account_id: l.account_id,
                    mailbox: hooks::choose_mailbox(l.account_id, header.as_deref())
                        .unwrap_or_else(|| "INBOX".into()),
                }),
                Filing::Junk => targets.push(DeliveryTarget {
                    account_id: l.account_id,
                    mailbox: "Junk".into(),
                }),
                Filing::Mailbox {
                    id,
                    flags,
                    keywords,
                    internal_date,
                } => p.appends.push(Append {
                    mailbox_id: *id,
                    blob: blob.clone(),
                    size,
                    header: header.clone(),
                    flags: *flags,
                    keywords: keywords.clone(),
                    internal_date: *internal_date,
                }),
            }
        }
        if !targets.is_empty() {
            p.delivery = Some(Delivery {
                blob,
                size,
                header,
                internal_date: now,
                targets,
            });
        }
    }
    if m.sent_by.is_some()
        && let Some(r) = &m.remote
    {
        p.written_to = r.recipients.iter().take(100).cloned().collect();
    }
    if let Some(r) = m.remote.as_ref().filter(|r| !r.recipients.is_empty()) {
        let dkim = r.signature.as_deref().unwrap_or("");
        let (blob, size, dir) =
            content.write_blob(blobs, &[dkim.as_bytes(), m.trace.as_bytes()])?;
        p.sync_dirs.push(dir);
        p.entry = Some(QueueEntry {
            id: m.queue_id.clone(),
            blob: Some(blob),
            sender: r.sender.clone(),
            auth_user: r.auth_user.clone(),
            client_ip: r.client_ip.clone(),
            size,
            created: now,
            recipients: r
                .recipients
                .iter()
                .map(|a| QueueRecipient::new(a.clone(), now))
                .collect(),
        });
    }
    Ok(p)
}

impl Prepared {
    /// The folders whose new entries must be synced before the commit.
    pub fn sync_dirs(&self) -> &[PathBuf] {
        &self.sync_dirs
    }

    /// Whether anything goes to the queue.
    pub fn queued(&self) -> bool {
        self.entry.is_some()
    }

    /// The rows, in the caller's write transaction.
    pub fn apply(&self, tx: &Tx) -> Result<Vec<Stored>> {
        let mut out = Vec::new();
        if let Some(d) = &self.delivery {
            for s in store::deliver(tx, d)? {
                out.push(Stored {
                    account_id: s.account_id,
                    mailbox_id: s.mailbox_id,
                    uid: s.uid,
                    uidvalidity: None,
                });
            }
        }
        for a in &self.appends {
            let new = store::messages::NewMessage {
                blob: &a.blob,
                size: a.size,
                flags: a.flags,
                keywords: &a.keywords,
                internal_date: a.internal_date,
                header: a.header.as_deref(),
            };
            let uid = store::messages::append(tx, a.mailbox_id, &new)?;
            let (account_id, uidvalidity) =
                store::messages::owner_and_uidvalidity(tx, a.mailbox_id)?;
            out.push(Stored {
                account_id,
                mailbox_id: a.mailbox_id,
                uid,
                uidvalidity: Some(uidvalidity),
            });
        }
        if let Some(e) = &self.entry {
            store::enqueue(tx, e)?;
        }
        if let Some(a) = &self.sent_by {
            store::limits::count_sent(tx, a, store::limits::today())?;
        }
        let now = store::now();
        // Convenience records: their failure must not refuse the mail.
        for (account, sender) in &self.correspondents {
            if let Err(e) = store::correspondents::remember(tx, *account, sender, now) {
                tracing::warn!(error = %e, "correspondent not remembered");
            }
        }
        // Only a convenience: a sender not found as an account changes nothing.
        if let (Some(user), false) = (&self.sent_by, self.written_to.is_empty())
            && let Ok(account) = store::directory::account_id(tx, user)
        {
            for to in &self.written_to {
                if let Err(e) = store::correspondents::remember(tx, account, to, now) {
                    tracing::warn!(error = %e, "correspondent not remembered");
                }
            }
        }
        Ok(out)
    }

    /// After the commit: the accounts' sessions look again, the runner and the indexer wake.
    pub fn announce(&self, shared: &Shared) {
        for a in &self.accounts {
            shared.hub.notify(*a);
        }
        if self.entry.is_some() {
            shared.queue.wake();
        }
        // Delivered mail is indexed at once; what a client files itself (APPEND) waits for the
        // indexer's next pass (2 s), so that a client uploading a folder costs one index commit
        // per batch rather than one per message. SEARCH reads the ones not yet indexed.
        if self.delivery.is_some() {
            shared.search.wake();
        }
    }
}

/// Prepares, commits and announces one message.
pub async fn accept(
    shared: &Arc<Shared>,
    mut m: Incoming,
    content: Content<'static>,
) -> Result<Vec<Stored>, Failure> {
    let screened = hooks::screen_arrival(shared, &mut m, &content).await?;
    let content = match screened.replaced {
        Some(changed) => Content::Bytes(changed.into()),
        None => content,
    };
    if let Some(reason) = screened.quarantine {
        quarantine::hold(shared, &m, content, &reason).await?;
        return Ok(Vec::new());
    }
    read_dmarc_report(shared, &m, &content);
    let blobs = shared.store.blobs().clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&blobs, &m, &content))
        .await
        .map_err(|_| Failure::Failed(Error::Storage("message writer stopped".into())))??;
    let prepared = Arc::new(prepared);
    let p2 = prepared.clone();
    let stored = shared
        .store
        .write_async(prepared.sync_dirs.clone(), move |tx| p2.apply(tx))
        .await?;
    prepared.announce(shared);
    Ok(stored)
}

/// A DMARC aggregate report about one of our domains, arriving from outside: summarised for
/// `roost reports dmarc` (and delivered as any mail).
fn read_dmarc_report(shared: &Shared, m: &Incoming, content: &Content<'_>) {
    use crate::protect::dmarc_reports;
    // Reports are small (compressed XML): a larger "report" is only read as mail.
    let is_report = m.arrival.is_some()
        && content.len() <= 2 * 1024 * 1024
        && m.header
            .as_deref()
            .is_some_and(dmarc_reports::looks_like_report);
    if !is_report {
        return;
    }
    let Ok(bytes) = content.head(usize::MAX).map(|b| b.into_owned()) else {
        return;
    };
    let (store, queue_id) = (shared.store.clone(), m.queue_id.clone());
    tokio::spawn(async move {
        // Decompressing and parsing XML is work for the blocking pool.
        let summary = tokio::task::spawn_blocking(move || dmarc_reports::summarise(&bytes))
            .await
            .ok()
            .flatten();
        let Some(summary) = summary else {
            tracing::info!(
                queue_id,
                "a message that looks like a DMARC report could not be read as one"
            );
            return;
        };
        let domain = summary.domain.clone();
        let ours = store
            .read(|tx| store::directory::local_domain(tx, &domain))
            .ok()
            .flatten()
            .is_some();
        if !ours {
            tracing::info!(queue_id, domain = %summary.domain, "a DMARC report about a domain that is not ours: not kept");
            return;
        }
        tracing::info!(target: "roost_core::transactions", queue_id,
            org = %summary.org, domain = %summary.domain, messages = summary.messages,
            passed = summary.passed, "DMARC report received");
        let kept = store
            .write_async(Vec::new(), move |tx| {
                store::dmarc_report::keep_received(tx, &summary)
            })
            .await;
        if let Err(e) = kept {
            tracing::warn!(error = %e, "DMARC report summary not kept");
        }
    });
}

/// Mail Roost writes itself from `from` to `to` ("" for a bounce's null sender), resolved
/// like an SMTP recipient (blocking). None when `to` has nowhere to go, which is logged: a
/// notification to an address that does not exist has no one left to tell.
pub fn prepare_notification(
    store: &store::Store,
    cfg: &crate::config::Config,
    from: &str,
    to: &str,
    message: &[u8],
) -> Result<Option<Prepared>> {
    use crate::directory::{self, Address, RcptError};
    let Ok(addr) = Address::parse(to) else {
        tracing::warn!(to, "notification dropped: not an address");
        return Ok(None);
    };
    let delimiter = cfg.smtp.recipient_delimiter.clone();
    let resolved = store.read(|c| directory::resolve(c, &addr, &delimiter, true))?;
    let (accounts, external) = match resolved {
        Ok(r) => (r.accounts, r.external),
        Err(RcptError::NotLocal) => (vec![], vec![addr.to_string()]),
        Err(e) => {
            tracing::warn!(to, reason = ?e, "notification dropped: no such local recipient");
            return Ok(None);
        }
    };
    let queue_id = new_queue_id();
    let m = Incoming {
        trace: format!(
            "Received: by {} (Roost) id {queue_id};\r\n\t{}\r\n",
            cfg.hostname,
            crate::util::rfc5322_date(store::now())
        ),
        queue_id,
        return_path: Some(from.to_string()),
        header: Some(store::header_of(message).to_vec()),
        local: accounts.iter().map(|a| Local::inbox(a.id)).collect(),
        remote: (!external.is_empty()).then(|| Remote {
            sender: from.to_string(),
            recipients: external,
            signature: None,
            auth_user: None,
            client_ip: String::new(),
        }),
        sent_by: None,
        arrival: None,
    };
    match prepare(store.blobs(), &m, &Content::Bytes(message.into())) {
        Ok(p) => Ok(Some(p)),
        Err(Failure::Failed(e)) => Err(e),
        Err(Failure::Refused(why) | Failure::Deferred(why)) => {
            tracing::warn!(to, reason = %why, "notification dropped: refused by the checks");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_are_unique() {
        let a = new_queue_id();
        let b = new_queue_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
    }
}
