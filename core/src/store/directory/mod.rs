//! The directory's data: domains, domain aliases, accounts, aliases, groups and catch-alls;
//! who exists and where mail for an address goes. Functions over a store transaction; the
//! `directory` module above adds passwords, the login guard and the login cache.

mod resolve;

pub use resolve::{Account, RcptError, Resolved, authenticate_lookup, find_account, resolve};

use crate::address::{Address, normalize_domain};
use crate::error::{Error, Result};
use crate::store::Tx;
use crate::store::{self, now};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DomainInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub catchall: Option<String>,
    pub accounts: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    pub address: String,
    pub name: String,
    /// Bytes; 0 is unlimited.
    pub quota: u64,
    pub used: u64,
    /// Messages in all mailboxes.
    pub messages: u64,
    pub disabled: bool,
    pub admin: bool,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AliasInfo {
    pub address: String,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub address: Option<String>,
    pub description: String,
    pub members: Vec<String>,
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// The id of a domain by its own name (not an alias).
pub fn domain_id(conn: &Tx, name: &str) -> Result<i64> {
    let name = normalize_domain(name)?;
    conn.prepare_cached("SELECT id FROM domains WHERE name = ?1")?
        .query_row([&name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("domain {name} does not exist")))
}

/// The canonical domain (id, name) for a domain or one of its aliases; None when not local.
pub fn local_domain(conn: &Tx, name: &str) -> Result<Option<(i64, String)>> {
    let found = conn
        .prepare_cached(
            "SELECT id, name FROM domains WHERE name = ?1
             UNION ALL SELECT d.id, d.name FROM domain_aliases a JOIN domains d ON d.id = a.domain_id WHERE a.name = ?1
             LIMIT 1",
        )?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(found)
}

pub fn domain_add(conn: &Tx, name: &str) -> Result<DomainInfo> {
    let name = normalize_domain(name)?;
    if local_domain(conn, &name)?.is_some() {
        return Err(Error::Exists(format!("domain {name} exists already")));
    }
    conn.execute(
        "INSERT INTO domains (name, created) VALUES (?1, ?2)",
        params![name, now()],
    )?;
    Ok(DomainInfo {
        name,
        aliases: vec![],
        catchall: None,
        accounts: 0,
    })
}

pub fn domain_list(conn: &Tx) -> Result<Vec<DomainInfo>> {
    let mut stmt = conn.prepare(
        "SELECT d.id, d.name, d.catchall, (SELECT COUNT(*) FROM accounts a WHERE a.domain_id = d.id)
         FROM domains d ORDER BY d.name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<(i64, String, Option<String>, i64)>, _>>()?;
    let mut alias_stmt =
        conn.prepare("SELECT name FROM domain_aliases WHERE domain_id = ?1 ORDER BY name")?;
    let mut out = Vec::new();
    for (id, name, catchall, accounts) in rows {
        let aliases = alias_stmt
            .query_map([id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        out.push(DomainInfo {
            name,
            aliases,
            catchall,
            accounts: accounts as u64,
        });
    }
    Ok(out)
}

pub fn domain_remove(conn: &Tx, name: &str) -> Result<()> {
    let id = domain_id(conn, name)?;
    let accounts: i64 = conn.query_row(
        "SELECT COUNT(*) FROM accounts WHERE domain_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if accounts > 0 {
        return Err(Error::Conflict(format!(
            "domain {} still has {accounts} account(s); remove them first (roost user list --domain {})",
            normalize_domain(name)?,
            normalize_domain(name)?
        )));
    }
    conn.execute("DELETE FROM domains WHERE id = ?1", [id])?;
    Ok(())
}

pub fn domain_alias_add(conn: &Tx, alias: &str, domain: &str) -> Result<()> {
    let alias = normalize_domain(alias)?;
    let id = domain_id(conn, domain)?;
    if local_domain(conn, &alias)?.is_some() {
        return Err(Error::Exists(format!(
            "{alias} is already a domain or a domain alias"
        )));
    }
    conn.execute(
        "INSERT INTO domain_aliases (name, domain_id, created) VALUES (?1, ?2, ?3)",
        params![alias, id, now()],
    )?;
    Ok(())
}

pub fn domain_alias_remove(conn: &Tx, alias: &str) -> Result<()> {
    let alias = normalize_domain(alias)?;
    if conn.execute("DELETE FROM domain_aliases WHERE name = ?1", [&alias])? == 0 {
        return Err(Error::NotFound(format!(
            "domain alias {alias} does not exist"
        )));
    }
    Ok(())
}

/// Mail to any unknown address of `domain` goes to `target` (None: refuse it again).
pub fn catchall_set(conn: &Tx, domain: &str, target: Option<&str>) -> Result<()> {
    let id = domain_id(conn, domain)?;
    let target = match target {
        Some(t) => Some(Address::parse(t)?.to_string()),
        None => None,
    };
    conn.execute(
        "UPDATE domains SET catchall = ?1 WHERE id = ?2",
        params![target, id],
    )?;
    Ok(())
}

/// Refuses an address that is already an account, an alias or a group in its domain.
fn ensure_free(conn: &Tx, domain_id: i64, local: &str, address: &str) -> Result<()> {
    let taken: Option<String> = conn
        .query_row(
            "SELECT 'an account' FROM accounts WHERE domain_id = ?1 AND localpart = ?2
             UNION ALL SELECT 'an alias' FROM aliases WHERE domain_id = ?1 AND localpart = ?2
             UNION ALL SELECT 'a group' FROM groups WHERE domain_id = ?1 AND localpart = ?2 LIMIT 1",
            params![domain_id, local],
            |r| r.get(0),
        )
        .optional()?;
    match taken {
        Some(what) => Err(Error::Exists(format!("{address} is already {what}"))),
        None => Ok(()),
    }
}

/// The address's own domain id; a domain alias is refused, naming the domain to use.
fn own_domain(conn: &Tx, addr: &Address) -> Result<i64> {
    match local_domain(conn, &addr.domain)? {
        Some((id, name)) if name == addr.domain => Ok(id),
        Some((_, name)) => Err(Error::Invalid(format!(
            "{} is an alias of {name}; create {}@{name} instead (it receives mail for both)",
            addr.domain, addr.local
        ))),
        None => Err(Error::NotFound(format!(
            "domain {} does not exist (roost domain add {})",
            addr.domain, addr.domain
        ))),
    }
}

pub struct NewAccount<'a> {
    pub address: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
    pub quota: u64,
    pub admin: bool,
}

pub fn account_add(conn: &Tx, a: &NewAccount<'_>) -> Result<UserInfo> {
    let addr = Address::parse(a.address)?;
    let domain_id = own_domain(conn, &addr)?;
    ensure_free(conn, domain_id, &addr.local, &addr.to_string())?;
    conn.execute(
        "INSERT INTO accounts (domain_id, localpart, password, name, quota, admin, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![domain_id, addr.local, a.password_hash, a.name, a.quota as i64, a.admin, now()],
    )?;
    let id = conn.last_insert_rowid();
    store::create_default_mailboxes(conn, id)?;
    user_info(conn, &addr.to_string())
}

/// The account id for an address of its own domain (or of a domain alias).
pub fn account_id(conn: &Tx, address: &str) -> Result<i64> {
    let addr = Address::parse(address)?;
    find_account(conn, &addr)?
        .map(|a| a.id)
        .ok_or_else(|| Error::NotFound(format!("user {addr} does not exist")))
}

pub fn user_info(conn: &Tx, address: &str) -> Result<UserInfo> {
    let id = account_id(conn, address)?;
    users_where(conn, "a.id = ?1", params![id])?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("user {address} does not exist")))
}

pub fn user_list(conn: &Tx, domain: Option<&str>) -> Result<Vec<UserInfo>> {
    match domain {
        Some(d) => {
            let id = domain_id(conn, d)?;
            users_where(conn, "a.domain_id = ?1", params![id])
        }
        None => users_where(conn, "1 = 1", params![]),
    }
}

fn users_where(conn: &Tx, cond: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<UserInfo>> {
    let sql = format!(
        "SELECT a.id, a.localpart || '@' || d.name, a.name, a.quota, a.used, a.disabled, a.admin,
                (SELECT COUNT(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = a.id)
         FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE {cond} ORDER BY d.name, a.localpart"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                UserInfo {
                    address: r.get(1)?,
                    name: r.get(2)?,
                    quota: r.get::<_, i64>(3)? as u64,
                    used: r.get::<_, i64>(4)? as u64,
                    disabled: r.get(5)?,
                    admin: r.get(6)?,
                    messages: r.get::<_, i64>(7)? as u64,
                    groups: vec![],
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut groups = conn.prepare_cached(
        "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.account_id = ?1 ORDER BY g.name",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, mut info) in rows {
        info.groups = groups
            .query_map([id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        out.push(info);
    }
    Ok(out)
}

pub fn account_remove(conn: &Tx, address: &str) -> Result<()> {
    let id = account_id(conn, address)?;
    // Messages go with the account (cascade); their blobs are collected once unreferenced.
    conn.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
    Ok(())
}

pub fn account_set_password(conn: &Tx, address: &str, hash: &str) -> Result<()> {
    let id = account_id(conn, address)?;
    conn.execute(
        "UPDATE accounts SET password = ?1 WHERE id = ?2",
        params![hash, id],
    )?;
    Ok(())
}

pub fn account_set_disabled(conn: &Tx, address: &str, disabled: bool) -> Result<()> {
    let id = account_id(conn, address)?;
    conn.execute(
        "UPDATE accounts SET disabled = ?1 WHERE id = ?2",
        params![disabled, id],
    )?;
    Ok(())
}

pub fn account_set_quota(conn: &Tx, address: &str, quota: u64) -> Result<()> {
    let id = account_id(conn, address)?;
    conn.execute(
        "UPDATE accounts SET quota = ?1 WHERE id = ?2",
        params![quota as i64, id],
    )?;
    Ok(())
}

fn normalize_target(t: &str) -> Result<String> {
    Ok(Address::parse(t)?.to_string())
}

/// Creates the alias, or adds targets to an existing one.
pub fn alias_add(conn: &Tx, address: &str, targets: &[String]) -> Result<AliasInfo> {
    if targets.is_empty() {
        return Err(Error::Invalid(
            "an alias needs at least one target address".into(),
        ));
    }
    let addr = Address::parse(address)?;
    let domain_id = own_domain(conn, &addr)?;
    let targets = targets
        .iter()
        .map(|t| normalize_target(t))
        .collect::<Result<Vec<_>>>()?;
    if targets
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&addr.to_string()))
    {
        return Err(Error::Invalid(format!(
            "alias {addr} cannot point at itself"
        )));
    }
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM aliases WHERE domain_id = ?1 AND localpart = ?2",
            params![domain_id, addr.local],
            |r| r.get(0),
        )
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => {
            ensure_free(conn, domain_id, &addr.local, &addr.to_string())?;
            conn.execute(
                "INSERT INTO aliases (domain_id, localpart, created) VALUES (?1, ?2, ?3)",
                params![domain_id, addr.local, now()],
            )?;
            conn.last_insert_rowid()
        }
    };
    for t in &targets {
        conn.execute(
            "INSERT OR IGNORE INTO alias_targets (alias_id, target) VALUES (?1, ?2)",
            params![id, t],
        )?;
    }
    alias_get(conn, &addr)
}

fn alias_id(conn: &Tx, addr: &Address) -> Result<i64> {
    conn.query_row(
        "SELECT a.id FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ?1 AND a.localpart = ?2",
        params![addr.domain, addr.local],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("alias {addr} does not exist")))
}

fn alias_get(conn: &Tx, addr: &Address) -> Result<AliasInfo> {
    let id = alias_id(conn, addr)?;
    let targets = conn
        .prepare_cached("SELECT target FROM alias_targets WHERE alias_id = ?1 ORDER BY target")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(AliasInfo {
        address: addr.to_string(),
        targets,
    })
}

/// Removes the named targets, or the whole alias when none are named (or none remain).
pub fn alias_remove(conn: &Tx, address: &str, targets: &[String]) -> Result<()> {
    let addr = Address::parse(address)?;
    let id = alias_id(conn, &addr)?;
    for t in targets {
        let t = normalize_target(t)?;
        if conn.execute(
            "DELETE FROM alias_targets WHERE alias_id = ?1 AND target = ?2",
            params![id, t],
        )? == 0
        {
            return Err(Error::NotFound(format!(
                "{t} is not a target of alias {addr}"
            )));
        }
    }
    let left: i64 = conn.query_row(
        "SELECT COUNT(*) FROM alias_targets WHERE alias_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if targets.is_empty() || left == 0 {
        conn.execute("DELETE FROM aliases WHERE id = ?1", [id])?;
    }
    Ok(())
}

pub fn alias_list(conn: &Tx, domain: Option<&str>) -> Result<Vec<AliasInfo>> {
    let filter = domain.map(normalize_domain).transpose()?;
    let mut stmt = conn.prepare(
        "SELECT a.localpart, d.name FROM aliases a JOIN domains d ON d.id = a.domain_id
         WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, a.localpart",
    )?;
    let addrs = stmt
        .query_map([&filter], |r| {
            Ok(Address {
                local: r.get(0)?,
                domain: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    addrs.iter().map(|a| alias_get(conn, a)).collect()
}

fn group_id(conn: &Tx, name: &str) -> Result<i64> {
    conn.query_row(
        "SELECT id FROM groups WHERE name = ?1",
        [name.trim()],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("group {} does not exist", name.trim())))
}

pub fn group_add(
    conn: &Tx,
    name: &str,
    address: Option<&str>,
    description: &str,
) -> Result<GroupInfo> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == '@') {
        return Err(Error::Invalid(format!(
            "'{name}' is not a group name (1–64 characters, no '@')"
        )));
    }
    let (domain_id, local) = match address {
        Some(a) => {
            let addr = Address::parse(a)?;
            let id = own_domain(conn, &addr)?;
            ensure_free(conn, id, &addr.local, &addr.to_string())?;
            (Some(id), Some(addr.local))
        }
        None => (None, None),
    };
    conn.execute(
        "INSERT INTO groups (name, domain_id, localpart, description, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, domain_id, local, description, now()],
    )
    .map_err(|e| if is_constraint(&e) { Error::Exists(format!("group {name} exists already")) } else { e.into() })?;
    group_get(conn, name)
}

pub fn group_remove(conn: &Tx, name: &str) -> Result<()> {
    let id = group_id(conn, name)?;
    conn.execute("DELETE FROM groups WHERE id = ?1", [id])?;
    Ok(())
}

pub fn group_member_add(conn: &Tx, group: &str, members: &[String]) -> Result<GroupInfo> {
    let gid = group_id(conn, group)?;
    for m in members {
        let aid = account_id(conn, m)?;
        conn.execute(
            "INSERT OR IGNORE INTO group_members (group_id, account_id) VALUES (?1, ?2)",
            params![gid, aid],
        )?;
    }
    group_get(conn, group)
}

pub fn group_member_remove(conn: &Tx, group: &str, members: &[String]) -> Result<GroupInfo> {
    let gid = group_id(conn, group)?;
    for m in members {
        let aid = account_id(conn, m)?;
        if conn.execute(
            "DELETE FROM group_members WHERE group_id = ?1 AND account_id = ?2",
            params![gid, aid],
        )? == 0
        {
            return Err(Error::NotFound(format!(
                "{m} is not a member of group {}",
                group.trim()
            )));
        }
    }
    group_get(conn, group)
}

pub fn group_get(conn: &Tx, name: &str) -> Result<GroupInfo> {
    let gid = group_id(conn, name)?;
    let (name, address, description): (String, Option<String>, String) = conn.query_row(
        "SELECT g.name, g.localpart || '@' || d.name, g.description FROM groups g LEFT JOIN domains d ON d.id = g.domain_id
         WHERE g.id = ?1",
        [gid],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let members = conn
        .prepare_cached(
            "SELECT a.localpart || '@' || d.name FROM group_members m JOIN accounts a ON a.id = m.account_id
             JOIN domains d ON d.id = a.domain_id WHERE m.group_id = ?1 ORDER BY 1",
        )?
        .query_map([gid], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(GroupInfo {
        name,
        address,
        description,
        members,
    })
}

pub fn group_list(conn: &Tx) -> Result<Vec<GroupInfo>> {
    let names = conn
        .prepare("SELECT name FROM groups ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    names.iter().map(|n| group_get(conn, n)).collect()
}

/// An account's quota (0: unlimited) and the bytes its mail takes, by id.
pub fn usage(conn: &Tx, account_id: i64) -> Result<(u64, u64)> {
    let (quota, used): (i64, i64) = conn
        .prepare_cached("SELECT quota, used FROM accounts WHERE id = ?1")?
        .query_row([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((quota as u64, used as u64))
}

/// Whether any account exists at all (first start creates the admin account when none does).
pub fn has_accounts(conn: &Tx) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM accounts)", [], |r| r.get(0))?)
}
