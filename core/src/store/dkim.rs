//! DKIM keys, one per domain: the private key stays in the store, the public half is what the
//! domain publishes at SELECTOR._domainkey.DOMAIN.

use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    /// "rsa-sha256" or "ed25519-sha256".
    pub algorithm: String,
    /// PKCS#1 DER (RSA) or PKCS#8 DER (Ed25519).
    #[serde(skip)]
    pub private_key: Vec<u8>,
    /// Base64 of the public key, as the p= tag carries it.
    pub public_key: String,
    pub created: i64,
}

pub fn put(conn: &Tx, k: &DkimKey) -> Result<()> {
    conn.execute(
        "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (domain) DO UPDATE SET selector = ?2, algorithm = ?3, private_key = ?4,
         public_key = ?5, created = ?6",
        params![
            k.domain,
            k.selector,
            k.algorithm,
            k.private_key,
            k.public_key,
            k.created
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Tx, domain: &str) -> Result<Option<DkimKey>> {
    Ok(conn
        .prepare_cached(
            "SELECT domain, selector, algorithm, private_key, public_key, created FROM dkim_keys
             WHERE domain = ?1",
        )?
        .query_row([domain], row)
        .optional()?)
}

pub fn list(conn: &Tx) -> Result<Vec<DkimKey>> {
    let mut stmt = conn.prepare(
        "SELECT domain, selector, algorithm, private_key, public_key, created FROM dkim_keys
         ORDER BY domain",
    )?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// When the key of `domain` last changed, to tell a cached key from a stale one cheaply.
pub fn created(conn: &Tx, domain: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT created FROM dkim_keys WHERE domain = ?1")?
        .query_row([domain], |r| r.get(0))
        .optional()?)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DkimKey> {
    Ok(DkimKey {
        domain: r.get(0)?,
        selector: r.get(1)?,
        algorithm: r.get(2)?,
        private_key: r.get(3)?,
        public_key: r.get(4)?,
        created: r.get(5)?,
    })
}
