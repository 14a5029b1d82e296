//! The durable outbound queue: one entry per accepted message that must leave the machine, one
//! row per recipient with its own state, so a partly delivered message retries only the rest.

use super::BlobId;
use crate::error::{Error, Result};
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};
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
    #[serde(default)]
    pub warned: bool,
}

impl QueueRecipient {
    /// A recipient waiting for its first attempt at `now`.
    pub fn new(address: String, now: i64) -> QueueRecipient {
        QueueRecipient {
            address,
            state: QueueState::Queued,
            attempts: 0,
            next_attempt: now,
            last_error: String::new(),
            warned: false,
        }
    }
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

pub fn enqueue(conn: &Tx, e: &QueueEntry) -> Result<()> {
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

pub fn list(conn: &Tx, filter: &QueueFilter) -> Result<Vec<QueueEntry>> {
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

pub fn get(conn: &Tx, id: &str) -> Result<QueueEntry> {
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

fn recipients(conn: &Tx, id: &str) -> Result<Vec<QueueRecipient>> {
    let mut stmt = conn.prepare_cached(
        "SELECT recipient, state, attempts, next_attempt, last_error, warned FROM queue_recipients
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
            warned: r.get(5)?,
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

/// A recipient whose next attempt is due.
#[derive(Debug, Clone)]
pub struct Due {
    pub queue_id: String,
    pub recipient: String,
    pub attempts: u32,
}

/// Recipients waiting (queued or deferred) whose time has come, oldest first.
pub fn due(conn: &Tx, now: i64, limit: usize) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT queue_id, recipient, attempts FROM queue_recipients
         WHERE state IN ('queued', 'deferred') AND next_attempt <= ?1
         ORDER BY next_attempt LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        Ok(Due {
            queue_id: r.get(0)?,
            recipient: r.get(1)?,
            attempts: r.get::<_, i64>(2)? as u32,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// When the next waiting recipient falls due.
pub fn next_due(conn: &Tx) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt) FROM queue_recipients WHERE state IN ('queued', 'deferred')",
        [],
        |r| r.get(0),
    )?)
}

pub fn set_state(
    conn: &Tx,
    queue_id: &str,
    recipients: &[String],
    state: QueueState,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE queue_recipients SET state = ?3 WHERE queue_id = ?1 AND recipient = ?2",
    )?;
    for r in recipients {
        stmt.execute(params![queue_id, r, state.as_str()])?;
    }
    Ok(())
}

/// Recipients left active by a stop or a crash are tried again at once.
pub fn reset_active(conn: &Tx) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE queue_recipients SET state = 'deferred' WHERE state = 'active'",
        [],
    )?)
}

/// What became of one recipient after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered, or bounced to the sender: the recipient leaves the queue.
    Done,
    /// Try again at `next` after this error.
    Deferred { next: i64, error: String },
}

/// Records the outcome of an attempt; removes the entry when no recipient is left (its file
/// goes once nothing else refers to it: schema 7's triggers).
pub fn record(
    conn: &Tx,
    queue_id: &str,
    outcomes: &[(String, Outcome)],
    warned: &[String],
) -> Result<()> {
    for (rcpt, outcome) in outcomes {
        match outcome {
            Outcome::Done => {
                conn.prepare_cached(
                    "DELETE FROM queue_recipients WHERE queue_id = ?1 AND recipient = ?2",
                )?
                .execute(params![queue_id, rcpt])?;
            }
            Outcome::Deferred { next, error } => {
                // An admin may have held the recipient meanwhile: keep it held.
                conn.prepare_cached(
                    "UPDATE queue_recipients SET attempts = attempts + 1, next_attempt = ?3,
                     last_error = ?4, state = CASE state WHEN 'held' THEN 'held' ELSE 'deferred' END
                     WHERE queue_id = ?1 AND recipient = ?2",
                )?
                .execute(params![queue_id, rcpt, next, error])?;
            }
        }
    }
    for rcpt in warned {
        conn.prepare_cached(
            "UPDATE queue_recipients SET warned = 1 WHERE queue_id = ?1 AND recipient = ?2",
        )?
        .execute(params![queue_id, rcpt])?;
    }
    finish_if_empty(conn, queue_id)
}

fn finish_if_empty(conn: &Tx, queue_id: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM queue WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM queue_recipients WHERE queue_id = ?1)",
    )?
    .execute([queue_id])?;
    Ok(())
}

/// What an admin does to queue entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAction {
    /// Waiting recipients are tried at once.
    Retry,
    Hold,
    /// Held recipients wait no longer.
    Release,
    /// Removed without a bounce.
    Delete,
}

/// Applies `action` to the entries `ids` names (or, when empty, every entry `filter` matches);
/// returns the number of entries and recipients changed.
pub fn apply(
    conn: &Tx,
    ids: &[String],
    filter: &QueueFilter,
    action: QueueAction,
    now: i64,
) -> Result<(usize, usize)> {
    let entries: Vec<QueueEntry> = if ids.is_empty() {
        list(conn, filter)?
    } else {
        ids.iter()
            .map(|id| get(conn, id))
            .collect::<Result<Vec<_>>>()?
    };
    let (mut touched, mut rcpts) = (0, 0);
    for e in &entries {
        let n = match action {
            QueueAction::Retry => conn.execute(
                "UPDATE queue_recipients SET next_attempt = ?2, state = 'deferred'
                 WHERE queue_id = ?1 AND state IN ('queued', 'deferred')",
                params![e.id, now],
            )?,
            QueueAction::Hold => conn.execute(
                "UPDATE queue_recipients SET state = 'held'
                 WHERE queue_id = ?1 AND state IN ('queued', 'deferred', 'active')",
                [&e.id],
            )?,
            QueueAction::Release => conn.execute(
                "UPDATE queue_recipients SET state = 'deferred', next_attempt = ?2
                 WHERE queue_id = ?1 AND state = 'held'",
                params![e.id, now],
            )?,
            QueueAction::Delete => {
                let n =
                    conn.execute("DELETE FROM queue_recipients WHERE queue_id = ?1", [&e.id])?;
                finish_if_empty(conn, &e.id)?;
                n
            }
        };
        if n > 0 {
            touched += 1;
            rcpts += n;
        }
    }
    Ok((touched, rcpts))
}

/// Counts for the status of the service.
pub fn counts(conn: &Tx) -> Result<Vec<(QueueState, u64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT state, COUNT(*) FROM queue_recipients GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (state, n) = row?;
        if let Some(s) = QueueState::parse(&state) {
            out.push((s, n as u64));
        }
    }
    Ok(out)
}
