//! Message operations for the access protocols (IMAP, POP3): the state of a mailbox, its
//! messages, changes since a modification sequence, flags, expunge, append, copy.
//!
//! Every change bumps the mailbox's HIGHESTMODSEQ and stamps the touched messages with it
//! (RFC 7162), and every expunge leaves a row in `expunged`, so a session can always ask
//! "what changed since I last looked" of the database alone.

use super::{BlobId, flags, now};
use crate::error::{Error, Result};
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxState {
    pub id: i64,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    pub exists: u32,
    pub recent: u32,
    pub unseen: u32,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub uid: u32,
    pub modseq: u64,
    pub flags: i64,
    /// Space-separated keywords, as stored.
    pub keywords: String,
    pub size: u64,
    pub internal_date: i64,
    pub blob: BlobId,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

/// The account a mailbox belongs to, and its UIDVALIDITY.
pub fn owner_and_uidvalidity(conn: &Tx, mailbox_id: i64) -> Result<(i64, u32)> {
    conn.prepare_cached("SELECT account_id, uidvalidity FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox_id], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u32))
        })
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("mailbox {mailbox_id} does not exist")))
}

/// Messages of a mailbox marked \\Deleted (STATUS DELETED, RFC 9051).
pub fn deleted_count(conn: &Tx, mailbox_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE mailbox_id = ?1 AND flags & ?2 != 0")?
        .query_row(params![mailbox_id, flags::DELETED], |r| r.get(0))?;
    Ok(n as u64)
}

pub fn mailbox_state(conn: &Tx, mailbox_id: i64) -> Result<MailboxState> {
    let (uidvalidity, uidnext, highestmodseq): (i64, i64, i64) = conn
        .prepare_cached("SELECT uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .ok_or_else(|| Error::NotFound("mailbox does not exist".into()))?;
    let (exists, recent, unseen, size): (i64, i64, i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(flags & ?2 != 0), 0), COALESCE(SUM(flags & ?3 = 0), 0), COALESCE(SUM(size), 0)
             FROM messages WHERE mailbox_id = ?1",
        )?
        .query_row(params![mailbox_id, flags::RECENT, flags::SEEN], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(MailboxState {
        id: mailbox_id,
        uidvalidity: uidvalidity as u32,
        uidnext: uidnext as u32,
        highestmodseq: highestmodseq as u64,
        exists: exists as u32,
        recent: recent as u32,
        unseen: unseen as u32,
        size: size as u64,
    })
}

fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Meta> {
    Ok(Meta {
        uid: r.get::<_, i64>(0)? as u32,
        modseq: r.get::<_, i64>(1)? as u64,
        flags: r.get(2)?,
        keywords: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        internal_date: r.get(5)?,
        blob: BlobId(r.get(6)?),
    })
}

const META_COLUMNS: &str = "uid, modseq, flags, keywords, size, internal_date, blob_id";

/// Every message of the mailbox in UID order.
pub fn messages(conn: &Tx, mailbox_id: i64) -> Result<Vec<Meta>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM messages WHERE mailbox_id = ?1 ORDER BY uid"
    ))?;
    let rows = stmt.query_map([mailbox_id], meta_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The messages with UIDs from `lo` to `hi`, in UID order.
pub fn messages_in_range(conn: &Tx, mailbox_id: i64, lo: u32, hi: u32) -> Result<Vec<Meta>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid"
    ))?;
    let rows = stmt.query_map(params![mailbox_id, lo, hi], meta_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The given messages of the mailbox (those that exist), in the order asked, one lookup each:
/// cheaper than a range when they are few and far apart.
pub fn messages_by_uid(conn: &Tx, mailbox_id: i64, uids: &[u32]) -> Result<Vec<Meta>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
    ))?;
    let mut out = Vec::with_capacity(uids.len());
    for uid in uids {
        if let Some(m) = stmt
            .query_row(params![mailbox_id, uid], meta_row)
            .optional()?
        {
            out.push(m);
        }
    }
    Ok(out)
}

/// UIDs of the mailbox's messages that SEARCH cannot leave to the index: `indexed` is 1 when a
/// message is fully in the index, 0 while it waits, 2 when it has words too long to index.
pub fn not_indexed(conn: &Tx, mailbox_id: i64) -> Result<std::collections::HashSet<u32>> {
    let mut stmt =
        conn.prepare_cached("SELECT uid FROM messages WHERE mailbox_id = ?1 AND indexed != 1")?;
    let rows = stmt.query_map([mailbox_id], |r| Ok(r.get::<_, i64>(0)? as u32))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Messages changed (flags, or new) after `modseq`, and UIDs expunged after it.
pub fn changes_since(conn: &Tx, mailbox_id: i64, modseq: u64) -> Result<(Vec<Meta>, Vec<u32>)> {
    let changed = conn
        .prepare_cached(&format!(
            "SELECT {META_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid"
        ))?
        .query_map(params![mailbox_id, modseq as i64], meta_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let gone = conn
        .prepare_cached(
            "SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
        )?
        .query_map(params![mailbox_id, modseq as i64], |r| {
            r.get::<_, i64>(0).map(|u| u as u32)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((changed, gone))
}

/// Takes the next modification sequence of a mailbox.
fn next_modseq(conn: &Tx, mailbox_id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1 RETURNING highestmodseq")?
        .query_row([mailbox_id], |r| r.get(0))?)
}

/// Changes the flags of the given UIDs; returns the messages whose flags changed, as they are
/// now. `unchanged_since` (CONDSTORE) skips messages modified after it; their UIDs come back
/// in the second list.
pub fn store_flags(
    conn: &Tx,
    mailbox_id: i64,
    uids: &[u32],
    op: FlagOp,
    system: i64,
    keywords: &[String],
    unchanged_since: Option<u64>,
) -> Result<(Vec<Meta>, Vec<u32>)> {
    let mut changed = Vec::new();
    let mut failed = Vec::new();
    let mut modseq = None;
    let mut get = conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
    ))?;
    for &uid in uids {
        let Some(m) = get
            .query_row(params![mailbox_id, uid], meta_row)
            .optional()?
        else {
            continue;
        };
        if unchanged_since.is_some_and(|u| m.modseq > u) {
            failed.push(uid);
            continue;
        }
        let mut kw: Vec<String> = m.keywords.split_whitespace().map(str::to_string).collect();
        let new_flags = match op {
            FlagOp::Add => {
                for k in keywords {
                    if !kw.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                        kw.push(k.clone());
                    }
                }
                m.flags | system
            }
            FlagOp::Remove => {
                kw.retain(|x| !keywords.iter().any(|k| k.eq_ignore_ascii_case(x)));
                m.flags & !system
            }
            FlagOp::Replace => {
                kw = keywords.to_vec();
                (m.flags & flags::RECENT) | system
            }
        };
        let new_kw = kw.join(" ");
        if new_flags == m.flags && new_kw == m.keywords {
            continue;
        }
        let ms = match modseq {
            Some(ms) => ms,
            None => {
                let ms = next_modseq(conn, mailbox_id)?;
                modseq = Some(ms);
                ms
            }
        };
        conn.prepare_cached("UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3 WHERE mailbox_id = ?4 AND uid = ?5")?
            .execute(params![new_flags, new_kw, ms, mailbox_id, uid])?;
        changed.push(Meta {
            flags: new_flags,
            keywords: new_kw,
            modseq: ms as u64,
            ..m
        });
    }
    Ok((changed, failed))
}

/// Removes messages flagged \Deleted (only those in `only`, when given); returns their UIDs.
pub fn expunge(conn: &Tx, mailbox_id: i64, only: Option<&[u32]>) -> Result<Vec<u32>> {
    let candidates: Vec<(u32, i64)> = conn
        .prepare_cached(
            "SELECT uid, size FROM messages WHERE mailbox_id = ?1 AND flags & ?2 != 0 ORDER BY uid",
        )?
        .query_map(params![mailbox_id, flags::DELETED], |r| {
            Ok((r.get::<_, i64>(0)? as u32, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let doomed: Vec<(u32, i64)> = match only {
        Some(set) => candidates
            .into_iter()
            .filter(|(u, _)| set.contains(u))
            .collect(),
        None => candidates,
    };
    remove(conn, mailbox_id, &doomed)
}

/// Removes the given UIDs whatever their flags (POP3 DELE, MOVE).
pub fn remove_uids(conn: &Tx, mailbox_id: i64, uids: &[u32]) -> Result<Vec<u32>> {
    let mut rows = Vec::new();
    let mut get =
        conn.prepare_cached("SELECT size FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?;
    for &u in uids {
        if let Some(size) = get
            .query_row(params![mailbox_id, u], |r| r.get::<_, i64>(0))
            .optional()?
        {
            rows.push((u, size));
        }
    }
    remove(conn, mailbox_id, &rows)
}

fn remove(conn: &Tx, mailbox_id: i64, rows: &[(u32, i64)]) -> Result<Vec<u32>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ms = next_modseq(conn, mailbox_id)?;
    let mut del = conn.prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?;
    let mut mark = conn.prepare_cached(
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
    )?;
    let mut freed = 0i64;
    for (uid, size) in rows {
        del.execute(params![mailbox_id, uid])?;
        mark.execute(params![mailbox_id, uid, ms])?;
        freed += size;
    }
    conn.prepare_cached(
        "UPDATE accounts SET used = MAX(0, used - ?1) WHERE id = (SELECT account_id FROM mailboxes WHERE id = ?2)",
    )?
    .execute(params![freed, mailbox_id])?;
    Ok(rows.iter().map(|(u, _)| *u).collect())
}

/// A message to add to a mailbox, already written as a blob.
pub struct NewMessage<'a> {
    pub blob: &'a BlobId,
    pub size: u64,
    pub flags: i64,
    pub keywords: &'a [String],
    /// None: now.
    pub internal_date: Option<i64>,
    /// The header block, cached beside the blob.
    pub header: Option<&'a [u8]>,
}

/// Adds a message to a mailbox; returns its UID.
pub fn append(conn: &Tx, mailbox_id: i64, m: &NewMessage<'_>) -> Result<u32> {
    let (blob, size, system, keywords, internal_date) =
        (m.blob, m.size, m.flags, m.keywords, m.internal_date);
    super::mail::insert_blob(conn, blob, size, m.header)?;
    let (uid, modseq): (i64, i64) = conn
        .prepare_cached(
            "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
             WHERE id = ?1 RETURNING uidnext - 1, highestmodseq",
        )?
        .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    conn.prepare_cached(
        "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, internal_date, flags, keywords)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        mailbox_id,
        uid,
        modseq,
        blob.0,
        size as i64,
        internal_date.unwrap_or_else(now),
        system | flags::RECENT,
        keywords.join(" ")
    ])?;
    conn.prepare_cached("UPDATE accounts SET used = used + ?1 WHERE id = (SELECT account_id FROM mailboxes WHERE id = ?2)")?
        .execute(params![size as i64, mailbox_id])?;
    Ok(uid as u32)
}

/// Copies messages to another mailbox (sharing their blobs); returns (source UID, new UID)
/// pairs in source order, for UIDPLUS's COPYUID.
pub fn copy(conn: &Tx, from: i64, to: i64, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
    let mut get = conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
    ))?;
    let mut out = Vec::with_capacity(uids.len());
    for &uid in uids {
        let Some(m) = get.query_row(params![from, uid], meta_row).optional()? else {
            continue;
        };
        let kw: Vec<String> = m.keywords.split_whitespace().map(str::to_string).collect();
        let new = append(
            conn,
            to,
            &NewMessage {
                blob: &m.blob,
                size: m.size,
                flags: m.flags & !flags::RECENT,
                keywords: &kw,
                internal_date: Some(m.internal_date),
                header: None,
            },
        )?;
        out.push((uid, new));
    }
    Ok(out)
}

/// Clears \Recent on the mailbox's messages and returns the UIDs that had it: the first
/// session to select a mailbox sees them as recent (RFC 3501 2.3.2), no other does.
pub fn claim_recent(conn: &Tx, mailbox_id: i64) -> Result<Vec<u32>> {
    let uids = conn
        .prepare_cached("UPDATE messages SET flags = flags & ~?2 WHERE mailbox_id = ?1 AND flags & ?2 != 0 RETURNING uid")?
        .query_map(params![mailbox_id, flags::RECENT], |r| r.get::<_, i64>(0).map(|u| u as u32))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(uids)
}
