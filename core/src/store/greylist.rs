//! Greylisting's memory: (client network, sender, recipient) triplets, when each was first
//! seen and whether it came back late enough to pass.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greylist {
    /// Known: let through.
    Pass,
    /// New, or retried too soon: try again in this many seconds.
    Wait(u64),
}

/// What a verdict changes in the triplet's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    None,
    /// A new triplet: remembered from now.
    Insert,
    /// Retried late enough: it passes from now on.
    Pass,
    /// Known: its last-seen day moves on (written at most once a day).
    Touch,
}

fn decide(conn: &Tx, key: &str, now: i64, delay: u64) -> Result<(Greylist, Change)> {
    let row: Option<(i64, bool, i64)> = conn
        .prepare_cached("SELECT first, passed, last FROM greylist WHERE key = ?1")?
        .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let delay = delay as i64;
    Ok(match row {
        None => (Greylist::Wait(delay as u64), Change::Insert),
        Some((first, false, _)) if now - first < delay => {
            (Greylist::Wait((first + delay - now) as u64), Change::None)
        }
        Some((_, false, _)) => (Greylist::Pass, Change::Pass),
        Some((_, true, last)) if now - last > 86_400 => (Greylist::Pass, Change::Touch),
        Some((_, true, _)) => (Greylist::Pass, Change::None),
    })
}

/// What `check` would answer, from a read alone, and whether it would write.
pub fn judge(conn: &Tx, key: &str, now: i64, delay: u64) -> Result<(Greylist, bool)> {
    let (verdict, change) = decide(conn, key, now, delay)?;
    Ok((verdict, change != Change::None))
}

/// Looks the triplet up and records what it did: a new one is remembered, one retried after
/// `delay` seconds passes from now on. Old triplets are forgotten along the way.
pub fn check(conn: &Tx, key: &str, now: i64, delay: u64, keep_days: u64) -> Result<Greylist> {
    let (verdict, change) = decide(conn, key, now, delay)?;
    match change {
        Change::None => {}
        Change::Insert => {
            conn.prepare_cached(
                "INSERT INTO greylist (key, first, passed, last) VALUES (?1, ?2, 0, ?2)",
            )?
            .execute(params![key, now])?;
            // Bounded work per new triplet: a flood of new ones cannot make one slow.
            conn.prepare_cached(
                "DELETE FROM greylist WHERE key IN (SELECT key FROM greylist
                 WHERE (passed = 1 AND last < ?1) OR (passed = 0 AND first < ?2) LIMIT 50)",
            )?
            .execute(params![
                now - keep_days as i64 * 86_400,
                now - 86_400 - delay as i64
            ])?;
        }
        Change::Pass => {
            conn.prepare_cached("UPDATE greylist SET passed = 1, last = ?2 WHERE key = ?1")?
                .execute(params![key, now])?;
        }
        Change::Touch => {
            conn.prepare_cached("UPDATE greylist SET last = ?2 WHERE key = ?1")?
                .execute(params![key, now])?;
        }
    }
    Ok(verdict)
}
