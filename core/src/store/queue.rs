//! The durable outbound queue: one entry per accepted message that must leave the machine, one
//! row per recipient with its own state, so a partly delivered message retries only the rest.

use super::BlobId;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for its first attempt.
    Queued,
    /// Being delivered now.
    Active,
    /// Failed temporarily; waiting for the next attempt.
    Deferred,
    /// Stopped by the admin until released.
    Held,
}

impl QueueState {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Active => "active",
            QueueState::Deferred => "deferred",
            QueueState::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<QueueState> {
        match s {
            "queued" => Some(QueueState::Queued),
            "active" => Some(QueueState::Active),
            "deferred" => Some(QueueState::Deferred),
            "held" => Some(QueueState::Held),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueRecipient {
    pub address: String,
    pub state: QueueState,
    pub attempts: u32,
    pub next_attempt: i64,
    pub last_error: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: String,
    #[serde(skip)]
    pub blob: Option<BlobId>,
    pub sender: String,
    pub auth_user: Option<String>,
    pub client_ip: String,
    pub size: u64,
    pub created: i64,
    pub recipients: Vec<QueueRecipient>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueFilter {
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub state: Option<QueueState>,
}

pub fn enqueue(conn: &Connection, e: &QueueEntry) -> Result<()> {
    let blob = e
        .blob
        .as_ref()
        .ok_or_else(|| Error::Invalid("queue entry without message".into()))?;
    super::mail::insert_blob(conn, blob, e.size, None)?;
    conn.prepare_cached(
        "INSERT INTO queue (id, blob_id, sender, auth_user, client_ip, size, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![e.id, blob.0, e.sender, e.auth_user, e.client_ip, e.size as i64, e.created])?;
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO queue_recipients (queue_id, recipient, state, next_attempt) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for r in &e.recipients {
        stmt.execute(params![e.id, r.address, r.state.as_str(), r.next_attempt])?;
    }
    Ok(())
}

pub fn list(conn: &Connection, filter: &QueueFilter) -> Result<Vec<QueueEntry>> {
    let mut stmt = conn.prepare(
        "SELECT id, blob_id, sender, auth_user, client_ip, size, created FROM queue ORDER BY created, id",
    )?;
    let heads = stmt.query_map([], entry_row)?;
    let mut out = Vec::new();
    for head in heads {
        let mut entry = head?;
        entry.recipients = recipients(conn, &entry.id)?;
        if matches(&entry, filter) {
            out.push(entry);
        }
    }
    Ok(out)
}

pub fn get(conn: &Connection, id: &str) -> Result<QueueEntry> {
    let head = conn
        .query_row(
            "SELECT id, blob_id, sender, auth_user, client_ip, size, created FROM queue WHERE id = ?1",
            [id],
            entry_row,
        )
        .optional()?;
    let mut entry =
        head.ok_or_else(|| Error::NotFound(format!("queue entry {id} does not exist")))?;
    entry.recipients = recipients(conn, id)?;
    Ok(entry)
}

/// A queue entry without its recipients from (id, blob, sender, auth_user, client_ip, size, created).
fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueEntry> {
    Ok(QueueEntry {
        id: r.get(0)?,
        blob: Some(BlobId(r.get(1)?)),
        sender: r.get(2)?,
        auth_user: r.get(3)?,
        client_ip: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        created: r.get(6)?,
        recipients: Vec::new(),
    })
}

fn recipients(conn: &Connection, id: &str) -> Result<Vec<QueueRecipient>> {
    let mut stmt = conn.prepare_cached(
        "SELECT recipient, state, attempts, next_attempt, last_error FROM queue_recipients
         WHERE queue_id = ?1 ORDER BY recipient",
    )?;
    let rows = stmt.query_map([id], |r| {
        let state: String = r.get(1)?;
        Ok(QueueRecipient {
            address: r.get(0)?,
            state: QueueState::parse(&state).unwrap_or(QueueState::Queued),
            attempts: r.get::<_, i64>(2)? as u32,
            next_attempt: r.get(3)?,
            last_error: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn matches(e: &QueueEntry, f: &QueueFilter) -> bool {
    let contains = |hay: &str, needle: &str| {
        hay.to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase())
    };
    f.sender.as_deref().is_none_or(|s| contains(&e.sender, s))
        && f.recipient
            .as_deref()
            .is_none_or(|s| e.recipients.iter().any(|r| contains(&r.address, s)))
        && f.state
            .is_none_or(|s| e.recipients.iter().any(|r| r.state == s))
}
