//! MTA-STS policies of the domains mail goes to (RFC 8461 5.1): kept for their max_age, so
//! that an attacker who hides the TXT record or the policy host cannot downgrade delivery.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPolicy {
    /// The id of the _mta-sts TXT record the policy was fetched for.
    pub id: String,
    /// The policy file as fetched.
    pub text: String,
    pub fetched: i64,
    /// Unix time it lapses (fetched + max_age).
    pub expires: i64,
}

pub fn get(conn: &Tx, domain: &str) -> Result<Option<CachedPolicy>> {
    Ok(conn
        .prepare_cached("SELECT id, policy, fetched, expires FROM mta_sts WHERE domain = ?1")?
        .query_row([domain], |r| {
            Ok(CachedPolicy {
                id: r.get(0)?,
                text: r.get(1)?,
                fetched: r.get(2)?,
                expires: r.get(3)?,
            })
        })
        .optional()?)
}

pub fn put(conn: &Tx, domain: &str, p: &CachedPolicy) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO mta_sts (domain, id, policy, fetched, expires) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO UPDATE SET id = excluded.id, policy = excluded.policy,
                                   fetched = excluded.fetched, expires = excluded.expires",
    )?
    .execute(params![domain, p.id, p.text, p.fetched, p.expires])?;
    conn.prepare_cached("DELETE FROM mta_sts WHERE expires < ?1")?
        .execute([super::now()])?;
    Ok(())
}
