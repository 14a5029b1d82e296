//! What the search indexer needs from the store: messages not yet in the index, the expunge log
//! it follows, and who gets CJK indexing.

use super::BlobId;
use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};
use std::collections::HashSet;

pub struct Pending {
    pub id: i64,
    pub mailbox_id: i64,
    pub uid: u32,
    pub blob: BlobId,
    pub account_id: i64,
}

pub fn unindexed(conn: &Tx, limit: usize) -> Result<Vec<Pending>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.mailbox_id, m.uid, m.blob_id, b.account_id FROM messages m
         JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.indexed = 0 ORDER BY m.id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(Pending {
            id: r.get(0)?,
            mailbox_id: r.get(1)?,
            uid: r.get::<_, i64>(2)? as u32,
            blob: BlobId(r.get(3)?),
            account_id: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn unindexed_count(conn: &Tx) -> Result<u64> {
    Ok(
        conn.query_row("SELECT COUNT(*) FROM messages WHERE indexed = 0", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

pub fn message_count(conn: &Tx) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))? as u64)
}

pub fn mark_indexed(conn: &Tx, ids: &[i64]) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE messages SET indexed = 1 WHERE id = ?1")?;
    for id in ids {
        stmt.execute([id])?;
    }
    Ok(())
}

/// Indexed, but with words too long for the index: SEARCH always reads these (state 2).
pub fn mark_incomplete(conn: &Tx, ids: &[i64]) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE messages SET indexed = 2 WHERE id = ?1")?;
    for id in ids {
        stmt.execute([id])?;
    }
    Ok(())
}

/// Every message is to be indexed again (the index was lost or rebuilt).
pub fn reset(conn: &Tx, account: Option<i64>) -> Result<u64> {
    let n = match account {
        Some(a) => conn.execute(
            "UPDATE messages SET indexed = 0 WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1)",
            [a],
        )?,
        None => {
            conn.execute("DELETE FROM search_state WHERE key = 'expunge_cursor'", [])?;
            conn.execute("UPDATE messages SET indexed = 0", [])?
        }
    };
    Ok(n as u64)
}

pub fn state(conn: &Tx, key: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM search_state WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

pub fn set_state(conn: &Tx, key: &str, value: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO search_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = ?2",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Expunged (mailbox, uid) after `cursor` in the expunge log, with their log positions.
pub fn expunged_since(conn: &Tx, cursor: i64, limit: usize) -> Result<Vec<(i64, i64, u32)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, mailbox_id, uid FROM expunged WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![cursor, limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u32))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Accounts that get CJK indexing: named, or members of a named group.
pub fn cjk_accounts(conn: &Tx) -> Result<HashSet<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT account_id FROM search_cjk WHERE account_id IS NOT NULL
         UNION SELECT gm.account_id FROM search_cjk s JOIN group_members gm ON gm.group_id = s.group_id",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<HashSet<i64>, _>>()?)
}

/// Turns CJK indexing on or off for an account or a group; returns the accounts whose mail must
/// be indexed again (when turned on).
pub fn set_cjk(conn: &Tx, account: Option<i64>, group: Option<i64>, on: bool) -> Result<Vec<i64>> {
    let before = cjk_accounts(conn)?;
    // UNIQUE does not compare NULLs: delete first so that a row is never doubled.
    conn.execute(
        "DELETE FROM search_cjk WHERE account_id IS ?1 AND group_id IS ?2",
        params![account, group],
    )?;
    if on {
        conn.execute(
            "INSERT INTO search_cjk (account_id, group_id) VALUES (?1, ?2)",
            params![account, group],
        )?;
    }
    // The indexer compares this before marking a batch indexed: a batch made with the old
    // setting is indexed again.
    let generation = state(conn, "cjk_generation")?;
    set_state(conn, "cjk_generation", generation + 1)?;
    let after = cjk_accounts(conn)?;
    let gained: Vec<i64> = after.difference(&before).copied().collect();
    for a in &gained {
        reset(conn, Some(*a))?;
    }
    Ok(gained)
}

/// The addresses of the accounts with CJK indexing.
pub fn cjk_addresses(conn: &Tx) -> Result<Vec<String>> {
    let ids = cjk_accounts(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.localpart || '@' || d.name FROM accounts a JOIN domains d ON d.id = a.domain_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, addr) = row?;
        if ids.contains(&id) {
            out.push(addr);
        }
    }
    out.sort();
    Ok(out)
}

pub fn group_id(conn: &Tx, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM groups WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}
