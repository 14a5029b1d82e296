//! The allow and block lists: client addresses and networks, sender addresses and domains,
//! for the whole server or for one account; an entry may expire (the automatic blocks do).

use crate::error::{Error, Result};
use crate::netaddr::{Network, ip_number};
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Allow,
    Block,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Allow => "allow",
            ListKind::Block => "block",
        }
    }

    fn parse(s: &str) -> ListKind {
        if s == "allow" {
            ListKind::Allow
        } else {
            ListKind::Block
        }
    }
}

/// What an entry names: a client address or network, or a sender ("a@b.example") or a whole
/// sending domain ("@b.example").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Network(Network),
    Sender(String),
}

impl Subject {
    /// "192.0.2.7", "198.51.100.0/24", "2001:db8::/32", "spam@bad.example", "@bad.example".
    pub fn parse(text: &str) -> Result<Subject> {
        let t = text.trim();
        if let Some((local, domain)) = t.rsplit_once('@') {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            let valid = !domain.is_empty()
                && domain.contains('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !local.chars().any(|c| c.is_whitespace() || c.is_control());
            if !valid {
                return Err(Error::Invalid(format!(
                    "'{t}' is not a sender address or @domain (e.g. spam@bad.example, @bad.example)"
                )));
            }
            return Ok(Subject::Sender(format!(
                "{}@{domain}",
                local.to_ascii_lowercase()
            )));
        }
        Network::parse(t).map(Subject::Network).map_err(|e| {
            Error::Invalid(format!(
                "'{t}': {e}; or name a sender (spam@bad.example) or a domain (@bad.example)"
            ))
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Network(_) => "ip",
            Subject::Sender(_) => "sender",
        }
    }

    pub fn text(&self) -> String {
        match self {
            Subject::Network(n) => n.to_string(),
            Subject::Sender(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListEntry {
    pub list: ListKind,
    /// The address, network, sender or @domain.
    pub entry: String,
    /// The account the entry is for; None for the whole server.
    pub user: Option<String>,
    pub reason: String,
    pub created: i64,
    /// Unix time the entry lapses; None: until removed.
    pub expires: Option<i64>,
    /// Made by Roost itself (failed logins, unknown recipients, spam traps).
    pub automatic: bool,
}

pub struct NewEntry<'a> {
    pub list: ListKind,
    pub subject: &'a Subject,
    pub account_id: Option<i64>,
    pub reason: &'a str,
    pub expires: Option<i64>,
    pub automatic: bool,
}

fn number_bytes(n: u128) -> [u8; 16] {
    n.to_be_bytes()
}

/// Adds the entry, replacing one for the same subject and account (in either list: an
/// address cannot be both allowed and blocked).
pub fn add(conn: &Tx, e: &NewEntry) -> Result<()> {
    let (lo, hi) = match e.subject {
        Subject::Network(n) => {
            let (lo, hi) = n.range();
            (Some(number_bytes(lo)), Some(number_bytes(hi)))
        }
        Subject::Sender(_) => (None, None),
    };
    let text = e.subject.text();
    conn.prepare_cached(
        "DELETE FROM reputation WHERE ifnull(account_id, 0) = ?1 AND kind = ?2 AND value = ?3",
    )?
    .execute(params![e.account_id.unwrap_or(0), e.subject.kind(), text])?;
    conn.prepare_cached(
        "INSERT INTO reputation (account_id, list, kind, value, lo, hi, network, reason, created,
                                 expires, automatic)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        e.account_id,
        e.list.as_str(),
        e.subject.kind(),
        text,
        lo.as_ref().map(|b| &b[..]),
        hi.as_ref().map(|b| &b[..]),
        matches!(e.subject, Subject::Network(n) if !n.is_single()),
        e.reason,
        super::now(),
        e.expires,
        e.automatic,
    ])?;
    Ok(())
}

/// Removes the entry from whichever list holds it; false when there was none.
pub fn remove(conn: &Tx, subject: &Subject, account_id: Option<i64>) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "DELETE FROM reputation WHERE ifnull(account_id, 0) = ?1 AND kind = ?2 AND value = ?3",
        )?
        .execute(params![
            account_id.unwrap_or(0),
            subject.kind(),
            subject.text()
        ])?;
    Ok(n > 0)
}

/// Entries in force, newest first: one list or both, the server's and every account's or one
/// account's.
pub fn list(
    conn: &Tx,
    list: Option<ListKind>,
    account_id: Option<i64>,
    now: i64,
) -> Result<Vec<ListEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.list, r.value, CASE WHEN a.id IS NULL THEN NULL
                                 ELSE a.localpart || '@' || d.name END,
                r.reason, r.created, r.expires, r.automatic
         FROM reputation r
         LEFT JOIN accounts a ON a.id = r.account_id
         LEFT JOIN domains d ON d.id = a.domain_id
         WHERE (r.expires IS NULL OR r.expires > ?1)
           AND (?2 IS NULL OR r.list = ?2)
           AND (?3 IS NULL OR r.account_id = ?3)
         ORDER BY r.created DESC, r.id DESC
         LIMIT 10000",
    )?;
    let rows = stmt.query_map(params![now, list.map(|l| l.as_str()), account_id], |r| {
        Ok(ListEntry {
            list: ListKind::parse(&r.get::<_, String>(0)?),
            entry: r.get(1)?,
            user: r.get(2)?,
            reason: r.get(3)?,
            created: r.get(4)?,
            expires: r.get(5)?,
            automatic: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// What the lists of the server (account None) or of one account say of a client address:
/// an allow entry wins over a block. The reason comes with a block.
pub fn ip_verdict(
    conn: &Tx,
    ip: IpAddr,
    account_id: Option<i64>,
    now: i64,
) -> Result<Option<(ListKind, String)>> {
    let n = number_bytes(ip_number(ip));
    let account = account_id.unwrap_or(0);
    // Most entries are single addresses (the automatic blocks): found by the index; the
    // networks an admin typed are few and scanned.
    let mut found: Vec<(ListKind, String)> = Vec::new();
    for sql in [
        "SELECT list, reason FROM reputation
         WHERE kind = 'ip' AND ifnull(account_id, 0) = ?2 AND lo = ?1 AND network = 0
           AND (expires IS NULL OR expires > ?3)",
        "SELECT list, reason FROM reputation
         WHERE kind = 'ip' AND ifnull(account_id, 0) = ?2 AND network = 1
           AND lo <= ?1 AND hi >= ?1 AND (expires IS NULL OR expires > ?3)",
    ] {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![&n[..], account, now], |r| {
            Ok((ListKind::parse(&r.get::<_, String>(0)?), r.get(1)?))
        })?;
        for row in rows {
            found.push(row?);
        }
    }
    Ok(strongest(found))
}

/// An allow entry wins over a block.
fn strongest(mut found: Vec<(ListKind, String)>) -> Option<(ListKind, String)> {
    found.sort_by_key(|(k, _)| *k != ListKind::Allow);
    found.into_iter().next()
}

/// The same for a sender: its own entry, else its domain's, else its parent domains'.
pub fn sender_verdict(
    conn: &Tx,
    sender: &str,
    account_id: Option<i64>,
    now: i64,
) -> Result<Option<(ListKind, String)>> {
    let sender = sender.trim().to_ascii_lowercase();
    let Some((_, domain)) = sender.rsplit_once('@') else {
        return Ok(None);
    };
    let mut candidates = vec![sender.clone()];
    let mut d = domain;
    // A name has at most 127 labels: bounded however long the sender made it.
    for _ in 0..127 {
        candidates.push(format!("@{d}"));
        match d.split_once('.') {
            Some((_, rest)) if rest.contains('.') => d = rest,
            _ => break,
        }
    }
    // One entry per (account, subject): the most precise one found decides.
    let mut stmt = conn.prepare_cached(
        "SELECT list, reason FROM reputation
         WHERE kind = 'sender' AND ifnull(account_id, 0) = ?2 AND value = ?1
           AND (expires IS NULL OR expires > ?3)",
    )?;
    for c in candidates {
        let found = stmt
            .query_row(params![c, account_id.unwrap_or(0), now], |r| {
                Ok((ListKind::parse(&r.get::<_, String>(0)?), r.get(1)?))
            })
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Forgets entries that lapsed; the count removed.
pub fn expire(conn: &Tx, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM reputation WHERE expires IS NOT NULL AND expires <= ?1")?
        .execute([now])?)
}
