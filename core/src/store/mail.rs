//! Mailboxes and messages: what IMAP will stand on (UIDVALIDITY, UIDNEXT, UIDs, flags, keywords,
//! internal dates, sizes, modification sequences) and the local delivery that fills them.

use super::BlobId;
use crate::error::{Error, Result};
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

/// The mailboxes every account starts with, with their RFC 6154 special-use attribute.
pub const DEFAULT_MAILBOXES: &[(&str, Option<&str>)] = &[
    ("INBOX", None),
    ("Sent", Some("\\Sent")),
    ("Drafts", Some("\\Drafts")),
    ("Trash", Some("\\Trash")),
    ("Junk", Some("\\Junk")),
    ("Archive", Some("\\Archive")),
];

/// System flags as bits of `messages.flags`; keywords are kept as text beside them.
pub mod flags {
    pub const SEEN: i64 = 1;
    pub const ANSWERED: i64 = 2;
    pub const FLAGGED: i64 = 4;
    pub const DELETED: i64 = 8;
    pub const DRAFT: i64 = 16;
    /// Set on delivery; IMAP4rev1 sessions turn it into \Recent for the first session to see it.
    pub const RECENT: i64 = 32;
}

/// Where one delivered copy should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    pub account_id: i64,
    /// Mailbox name; INBOX unless a rule (later: sieve) files it elsewhere.
    pub mailbox: String,
}

/// One message for one or more local accounts, sharing a single blob.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub blob: BlobId,
    pub size: u64,
    /// The stored message's header block, cached beside the blob.
    pub header: Option<Vec<u8>>,
    pub internal_date: i64,
    pub targets: Vec<DeliveryTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub account_id: i64,
    pub mailbox_id: i64,
    pub uid: u32,
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub uid: u32,
    pub modseq: i64,
    pub blob: BlobId,
    pub size: u64,
    pub internal_date: i64,
    pub flags: i64,
    pub keywords: String,
}

/// Headers larger than this are not cached; readers fall back to the message file.
const MAX_CACHED_HEADER: usize = 64 * 1024;

pub fn insert_blob(conn: &Tx, blob: &BlobId, size: u64, header: Option<&[u8]>) -> Result<()> {
    let header = header.filter(|h| h.len() <= MAX_CACHED_HEADER);
    conn.prepare_cached(
        "INSERT OR IGNORE INTO blobs (id, size, created, header) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![blob.0, size as i64, super::now(), header])?;
    Ok(())
}

/// The cached header block of a message, when there is one.
pub fn cached_header(conn: &Tx, blob: &BlobId) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT header FROM blobs WHERE id = ?1")?
        .query_row([&blob.0], |r| r.get::<_, Option<Vec<u8>>>(0))
        .optional()?
        .flatten())
}

/// The header block of a message: everything up to and including the first empty line.
pub fn header_of(msg: &[u8]) -> &[u8] {
    if msg.starts_with(b"\r\n") {
        return &msg[..2];
    }
    if msg.starts_with(b"\n") {
        return &msg[..1];
    }
    let mut i = 0;
    while let Some(nl) = msg[i..].iter().position(|&b| b == b'\n') {
        let next = i + nl + 1;
        if msg[next..].starts_with(b"\r\n") {
            return &msg[..next + 2];
        }
        if msg[next..].starts_with(b"\n") {
            return &msg[..next + 1];
        }
        i = next;
    }
    msg
}

pub fn create_default_mailboxes(conn: &Tx, account_id: i64) -> Result<()> {
    for (name, special) in DEFAULT_MAILBOXES {
        create_mailbox(conn, account_id, name, *special)?;
    }
    Ok(())
}

pub fn create_mailbox(
    conn: &Tx,
    account_id: i64,
    name: &str,
    special_use: Option<&str>,
) -> Result<i64> {
    // UIDVALIDITY must change whenever a name is reused for a new mailbox (RFC 3501 2.3.1.1):
    // take the clock, but never a value this account has handed out before.
    let last: Option<i64> = conn.query_row(
        "SELECT MAX(uidvalidity) FROM mailboxes WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    let uidvalidity = (super::now() & 0xffff_ffff).max(last.unwrap_or(0) + 1);
    conn.execute(
        "INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES (?1, ?2, ?3, ?4)",
        params![account_id, name, special_use, uidvalidity],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            Error::Exists(format!("mailbox {name} exists already"))
        }
        other => other.into(),
    })?;
    Ok(conn.last_insert_rowid())
}

pub fn mailbox_id(conn: &Tx, account_id: i64, name: &str) -> Result<Option<i64>> {
    // INBOX is case-insensitive (RFC 3501 5.1); other names are exact.
    let sql = if name.eq_ignore_ascii_case("INBOX") {
        "SELECT id FROM mailboxes WHERE account_id = ?1 AND name = 'INBOX'"
    } else {
        "SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let id = if name.eq_ignore_ascii_case("INBOX") {
        stmt.query_row([account_id], |r| r.get(0)).optional()?
    } else {
        stmt.query_row(params![account_id, name], |r| r.get(0))
            .optional()?
    };
    Ok(id)
}

/// Stores one delivery: the blob row, then a message in each target mailbox with the next UID
/// and a new modification sequence, and each account's usage. Runs inside the caller's
/// transaction, so either every copy exists or none does.
pub fn deliver(conn: &Tx, d: &Delivery) -> Result<Vec<StoredMessage>> {
    insert_blob(conn, &d.blob, d.size, d.header.as_deref())?;
    let mut out = Vec::with_capacity(d.targets.len());
    for t in &d.targets {
        let mailbox_id = match mailbox_id(conn, t.account_id, &t.mailbox)? {
            Some(id) => id,
            // A mailbox the user deleted: fall back to INBOX rather than lose the message.
            None => mailbox_id(conn, t.account_id, "INBOX")?
                .ok_or_else(|| Error::NotFound(format!("account {} has no INBOX", t.account_id)))?,
        };
        let (uid, modseq): (i64, i64) = conn
            .prepare_cached(
                "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
                 WHERE id = ?1 RETURNING uidnext - 1, highestmodseq",
            )?
            .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        conn.prepare_cached(
            "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, internal_date, flags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            mailbox_id,
            uid,
            modseq,
            d.blob.0,
            d.size as i64,
            d.internal_date,
            flags::RECENT
        ])?;
        conn.prepare_cached("UPDATE accounts SET used = used + ?1 WHERE id = ?2")?
            .execute(params![d.size as i64, t.account_id])?;
        out.push(StoredMessage {
            account_id: t.account_id,
            mailbox_id,
            uid: uid as u32,
        });
    }
    Ok(out)
}

/// The messages of one mailbox in UID order.
pub fn list_messages(conn: &Tx, account_id: i64, mailbox: &str) -> Result<Vec<MessageRow>> {
    let id = mailbox_id(conn, account_id, mailbox)?
        .ok_or_else(|| Error::NotFound(format!("mailbox {mailbox} does not exist")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT uid, modseq, blob_id, size, internal_date, flags, keywords
         FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(MessageRow {
            uid: r.get::<_, i64>(0)? as u32,
            modseq: r.get(1)?,
            blob: BlobId(r.get(2)?),
            size: r.get::<_, i64>(3)? as u64,
            internal_date: r.get(4)?,
            flags: r.get(5)?,
            keywords: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Blobs that no message and no queue entry names any more.
pub fn unreferenced_blobs(conn: &Tx) -> Result<Vec<BlobId>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM quarantine h WHERE h.blob_id = b.id)",
    )?;
    let ids = stmt.query_map([], |r| r.get(0).map(BlobId))?;
    Ok(ids.collect::<Result<Vec<_>, _>>()?)
}

pub fn blob_known(conn: &Tx, id: &BlobId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM blobs WHERE id = ?1")?
        .query_row([&id.0], |_| Ok(()))
        .optional()?
        .is_some())
}

/// What the message files take: (files, bytes) of the blobs rows name, and the files waiting to
/// be removed after their last message went.
pub fn blob_usage(conn: &Tx) -> Result<(u64, u64, u64)> {
    let (files, bytes): (i64, i64) = conn
        .prepare_cached("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let trash: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM blob_trash")?
        .query_row([], |r| r.get(0))?;
    Ok((files as u64, bytes as u64, trash as u64))
}
