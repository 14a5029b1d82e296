//! What each signed-in user has sent today, for the per-user daily limit.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

/// Days since 1970 (UTC): the unit the daily limit counts in.
pub fn today() -> i64 {
    super::now().div_euclid(86_400)
}

pub fn sent_on(conn: &Tx, address: &str, day: i64) -> Result<u32> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT messages FROM send_counts WHERE address = ?1 AND day = ?2")?
        .query_row(params![address, day], |r| r.get(0))
        .optional()?;
    Ok(n.unwrap_or(0) as u32)
}

/// Counts one sent message; forgets counts older than a week.
pub fn count_sent(conn: &Tx, address: &str, day: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO send_counts (address, day, messages) VALUES (?1, ?2, 1)
         ON CONFLICT (address, day) DO UPDATE SET messages = messages + 1",
    )?
    .execute(params![address, day])?;
    conn.prepare_cached("DELETE FROM send_counts WHERE day < ?1")?
        .execute([day - 7])?;
    Ok(())
}
