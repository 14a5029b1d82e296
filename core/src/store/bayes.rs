//! The built-in classifier's counts, per account: how often each token was in a message the
//! user sorted as spam or as ham, which messages were learned (so that one moved back and
//! forth is counted once, as what it was last), and the totals.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

/// Tokens one account keeps at most (about 40 bytes each on disk): past it the rarest and
/// oldest go, so a busy account stays within a few MiB.
pub const MAX_TOKENS_PER_ACCOUNT: i64 = 120_000;
/// Learned-message records kept per account (for undoing a changed mind).
const MAX_LEARNED: i64 = 20_000;

/// How many messages of each kind an account has taught.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub spam: u64,
    pub ham: u64,
}

pub fn totals(conn: &Tx, account: i64) -> Result<Totals> {
    let t: Option<(i64, i64)> = conn
        .prepare_cached("SELECT spam, ham FROM bayes_totals WHERE account_id = ?1")?
        .query_row([account], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (spam, ham) = t.unwrap_or((0, 0));
    Ok(Totals {
        spam: spam.max(0) as u64,
        ham: ham.max(0) as u64,
    })
}

/// Each token's (spam, ham) counts, in the order given; (0, 0) for one never seen.
pub fn counts(conn: &Tx, account: i64, tokens: &[i64]) -> Result<Vec<(u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT spam, ham FROM bayes_tokens WHERE account_id = ?1 AND token = ?2",
    )?;
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        let c: Option<(i64, i64)> = stmt
            .query_row(params![account, t], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (s, h) = c.unwrap_or((0, 0));
        out.push((s.max(0) as u64, h.max(0) as u64));
    }
    Ok(out)
}

/// Learns one message (known by its blob) as spam or ham; false when it was already learned
/// as that. One learned the other way before is first taken back out.
pub fn learn(conn: &Tx, account: i64, blob: &str, tokens: &[i64], spam: bool) -> Result<bool> {
    let before: Option<bool> = conn
        .prepare_cached("SELECT spam FROM bayes_learned WHERE account_id = ?1 AND blob_id = ?2")?
        .query_row(params![account, blob], |r| r.get(0))
        .optional()?;
    if before == Some(spam) {
        return Ok(false);
    }
    let now = super::now();
    let day = now.div_euclid(86_400);
    conn.prepare_cached(
        "INSERT INTO bayes_totals (account_id) VALUES (?1) ON CONFLICT DO NOTHING",
    )?
    .execute([account])?;
    if let Some(was_spam) = before {
        let mut undo = conn.prepare_cached(
            "UPDATE bayes_tokens SET spam = max(spam - ?3, 0), ham = max(ham - ?4, 0)
             WHERE account_id = ?1 AND token = ?2",
        )?;
        for t in tokens {
            undo.execute(params![account, t, was_spam as i64, !was_spam as i64])?;
        }
        conn.prepare_cached(
            "UPDATE bayes_totals SET spam = max(spam - ?2, 0), ham = max(ham - ?3, 0)
             WHERE account_id = ?1",
        )?
        .execute(params![account, was_spam as i64, !was_spam as i64])?;
    }
    let mut add = conn.prepare_cached(
        "INSERT INTO bayes_tokens (account_id, token, spam, ham, seen) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham,
                                   seen = excluded.seen",
    )?;
    for t in tokens {
        add.execute(params![account, t, spam as i64, !spam as i64, day])?;
    }
    conn.prepare_cached(
        "UPDATE bayes_totals SET spam = spam + ?2, ham = ham + ?3 WHERE account_id = ?1",
    )?
    .execute(params![account, spam as i64, !spam as i64])?;
    conn.prepare_cached(
        "INSERT INTO bayes_learned (account_id, blob_id, spam, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET spam = excluded.spam, at = excluded.at",
    )?
    .execute(params![account, blob, spam, now])?;
    let t = totals(conn, account)?;
    if (t.spam + t.ham).is_multiple_of(50) {
        prune(conn, account)?;
    }
    Ok(true)
}

/// Keeps the account within its bounds: the rarest, longest-unseen tokens go first.
fn prune(conn: &Tx, account: i64) -> Result<()> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM bayes_tokens WHERE account_id = ?1")?
        .query_row([account], |r| r.get(0))?;
    if n > MAX_TOKENS_PER_ACCOUNT {
        // Down to 90%, so that pruning is not needed again at the next message.
        let excess = n - MAX_TOKENS_PER_ACCOUNT * 9 / 10;
        conn.prepare_cached(
            "DELETE FROM bayes_tokens WHERE account_id = ?1 AND token IN (
                 SELECT token FROM bayes_tokens WHERE account_id = ?1
                 ORDER BY spam + ham, seen LIMIT ?2)",
        )?
        .execute(params![account, excess])?;
    }
    conn.prepare_cached(
        "DELETE FROM bayes_learned WHERE account_id = ?1 AND blob_id IN (
             SELECT blob_id FROM bayes_learned WHERE account_id = ?1
             ORDER BY at DESC LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![account, MAX_LEARNED])?;
    Ok(())
}

/// Tokens an account keeps (for `roost status` and the tests of the bound).
pub fn token_count(conn: &Tx, account: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM bayes_tokens WHERE account_id = ?1")?
        .query_row([account], |r| r.get(0))?)
}

/// Each account that has taught its classifier: (address, totals, tokens kept).
pub fn summary(conn: &Tx, account: Option<i64>) -> Result<Vec<(String, Totals, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.localpart || '@' || d.name, t.spam, t.ham,
                (SELECT count(*) FROM bayes_tokens k WHERE k.account_id = t.account_id)
         FROM bayes_totals t JOIN accounts a ON a.id = t.account_id
         JOIN domains d ON d.id = a.domain_id
         WHERE ?1 IS NULL OR t.account_id = ?1
         ORDER BY 1",
    )?;
    let rows = stmt.query_map([account], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Totals {
                spam: r.get::<_, i64>(1)?.max(0) as u64,
                ham: r.get::<_, i64>(2)?.max(0) as u64,
            },
            r.get::<_, i64>(3)?,
        ))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Forgets everything the account's classifier learned.
pub fn reset(conn: &Tx, account: i64) -> Result<()> {
    for table in ["bayes_tokens", "bayes_totals", "bayes_learned"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE account_id = ?1"),
            [account],
        )?;
    }
    Ok(())
}
