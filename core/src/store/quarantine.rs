//! Messages held for the admin instead of delivered (a virus or a refused attachment with
//! `quarantine` as its action): kept with their envelope, listed, released or deleted.

use crate::error::Result;
use crate::store::{BlobId, Tx};
use rusqlite::{OptionalExtension, params};
#[derive(Debug, Clone)]
pub struct Held {
    pub id: String,
    pub blob: BlobId,
    pub sender: String,
    /// The local accounts it was for.
    pub accounts: Vec<i64>,
    /// Addresses outside it was for (alias forwarding).
    pub remote: Vec<String>,
    /// The recipients as the client gave them, for people.
    pub recipients: Vec<String>,
    pub reason: String,
    pub size: u64,
    pub created: i64,
    pub client: String,
    pub subject: String,
}

/// Keeps the message (its blob already written) in the quarantine.
pub fn hold(conn: &Tx, h: &Held, header: Option<&[u8]>) -> Result<()> {
    super::mail::insert_blob(conn, &h.blob, h.size, header)?;
    let accounts: Vec<String> = h.accounts.iter().map(|a| a.to_string()).collect();
    conn.prepare_cached(
        "INSERT INTO quarantine (id, blob_id, sender, accounts, remote, recipients, reason, size,
                                 created, client, subject)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        h.id,
        h.blob.0,
        h.sender,
        accounts.join(","),
        h.remote.join("\n"),
        h.recipients.join("\n"),
        h.reason,
        h.size as i64,
        h.created,
        h.client,
        h.subject,
    ])?;
    Ok(())
}

const COLUMNS: &str = "id, blob_id, sender, accounts, remote, recipients, reason, size, created, \
                       client, subject";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Held> {
    let lines = |s: String| -> Vec<String> {
        s.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    Ok(Held {
        id: r.get(0)?,
        blob: BlobId(r.get(1)?),
        sender: r.get(2)?,
        accounts: r
            .get::<_, String>(3)?
            .split(',')
            .filter_map(|a| a.parse().ok())
            .collect(),
        remote: lines(r.get(4)?),
        recipients: lines(r.get(5)?),
        reason: r.get(6)?,
        size: r.get::<_, i64>(7)?.max(0) as u64,
        created: r.get(8)?,
        client: r.get(9)?,
        subject: r.get(10)?,
    })
}

/// Newest first.
pub fn list(conn: &Tx) -> Result<Vec<Held>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM quarantine ORDER BY created DESC, id DESC LIMIT 10000"
    ))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

pub fn get(conn: &Tx, id: &str) -> Result<Option<Held>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM quarantine WHERE id = ?1"))?
        .query_row([id], row)
        .optional()?)
}

/// Takes the message out of the quarantine (its blob goes with it unless a delivered copy
/// names it); false when there was none.
pub fn remove(conn: &Tx, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM quarantine WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// Deletes what has been held since before `before` (their files go with them); the count.
pub fn expire(conn: &Tx, before: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE created < ?1
             LIMIT 1000)",
        )?
        .execute([before])?)
}
