//! Who has written to each account before: mail from a first-time sender is answered after a
//! short delay (`[protection] first_sender_delay_secs`), as mox does, which costs a spam run
//! dearly and a real correspondent once.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::params;

/// Days a correspondent is remembered after their last message.
const KEEP_DAYS: i64 = 400;

pub fn known(conn: &Tx, account: i64, address: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM correspondents WHERE account_id = ?1 AND address = ?2")?
        .exists(params![account, address.to_ascii_lowercase()])?)
}

/// Remembers a sender whose mail the account received; the last-seen day is rewritten at most
/// once a day, and a few long-forgotten ones go along the way.
pub fn remember(conn: &Tx, account: i64, address: &str, now: i64) -> Result<()> {
    let day = now.div_euclid(86_400);
    let n = conn
        .prepare_cached(
            "INSERT INTO correspondents (account_id, address, day) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET day = excluded.day WHERE day < excluded.day",
        )?
        .execute(params![account, address.to_ascii_lowercase(), day])?;
    if n > 0 {
        conn.prepare_cached(
            "DELETE FROM correspondents WHERE (account_id, address) IN (
                 SELECT account_id, address FROM correspondents WHERE day < ?1 LIMIT 20)",
        )?
        .execute([day - KEEP_DAYS])?;
    }
    Ok(())
}
