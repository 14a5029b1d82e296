//! Where mail for an address goes: an account, an alias's targets, a group's members, the
//! domain's catch-all, or nowhere. Aliases may point at aliases and outside addresses; loops
//! and deep chains end at a fixed depth.

use super::{Address, local_domain};
use crate::error::Result;
use crate::store::Tx;
use rusqlite::{OptionalExtension, params};

const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub address: String,
    pub password_hash: String,
    pub quota: u64,
    pub used: u64,
    pub disabled: bool,
}

/// The final destinations of one recipient address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Local accounts, each once.
    pub accounts: Vec<Account>,
    /// Addresses outside our domains (alias forwarding), each once.
    pub external: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptError {
    /// The domain is not one of ours.
    NotLocal,
    /// A local domain, but no account, alias, group or catch-all takes the address.
    NoSuchUser,
    /// The only account behind the address is disabled.
    Disabled,
    /// The alias chain is deeper than MAX_DEPTH (or loops).
    TooDeep,
}

/// Looks up the account an address names directly (its own domain or a domain alias).
pub fn find_account(conn: &Tx, addr: &Address) -> Result<Option<Account>> {
    let Some((domain_id, domain)) = local_domain(conn, &addr.domain)? else {
        return Ok(None);
    };
    let found = conn
        .prepare_cached(
            "SELECT id, localpart, password, quota, used, disabled FROM accounts WHERE domain_id = ?1 AND localpart = ?2",
        )?
        .query_row(params![domain_id, addr.local], |r| {
            Ok(Account {
                id: r.get(0)?,
                address: format!("{}@{domain}", r.get::<_, String>(1)?),
                password_hash: r.get(2)?,
                quota: r.get::<_, i64>(3)? as u64,
                used: r.get::<_, i64>(4)? as u64,
                disabled: r.get(5)?,
            })
        })
        .optional()?;
    Ok(found)
}

/// The account a login name (a full address) names, for password checking.
pub fn authenticate_lookup(conn: &Tx, login: &str) -> Result<Option<Account>> {
    match Address::parse(login) {
        Ok(addr) => find_account(conn, &addr),
        Err(_) => Ok(None),
    }
}

/// Resolves `addr` to its destinations. `catchall` is false when asking "does this address
/// belong to the user" (sender checks), where a catch-all must not count.
pub fn resolve(
    conn: &Tx,
    addr: &Address,
    delimiter: &str,
    catchall: bool,
) -> Result<std::result::Result<Resolved, RcptError>> {
    let mut w = Walker {
        conn,
        delimiter,
        out: Resolved::default(),
        saw_disabled: false,
        too_deep: false,
    };
    if !w.walk(addr, catchall, 0)? {
        return Ok(Err(RcptError::NotLocal));
    }
    Ok(if w.too_deep {
        Err(RcptError::TooDeep)
    } else if w.out.accounts.is_empty() && w.out.external.is_empty() {
        Err(if w.saw_disabled {
            RcptError::Disabled
        } else {
            RcptError::NoSuchUser
        })
    } else {
        Ok(w.out)
    })
}

struct Walker<'a> {
    conn: &'a Tx<'a>,
    delimiter: &'a str,
    out: Resolved,
    saw_disabled: bool,
    too_deep: bool,
}

impl Walker<'_> {
    /// False when the first address is not in a local domain.
    fn walk(&mut self, addr: &Address, catchall: bool, depth: usize) -> Result<bool> {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return Ok(true);
        }
        let Some((domain_id, domain)) = local_domain(self.conn, &addr.domain)? else {
            if depth == 0 {
                return Ok(false);
            }
            let ext = addr.to_string();
            if !self
                .out
                .external
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&ext))
            {
                self.out.external.push(ext);
            }
            return Ok(true);
        };
        let canonical = Address {
            local: addr.local.clone(),
            domain,
        };
        if self.lookup_local(domain_id, &canonical, catchall, depth)? {
            return Ok(true);
        }
        if let Some(base) = canonical.without_detail(self.delimiter)
            && self.lookup_local(domain_id, &base, catchall, depth)?
        {
            return Ok(true);
        }
        // RFC 5321 4.5.1: every domain must accept postmaster; unless an account or alias
        // takes it, it reaches the server's admins.
        if canonical.local.eq_ignore_ascii_case("postmaster") {
            let admins = self
                .conn
                .prepare_cached(
                    "SELECT a.id, a.localpart || '@' || d.name, a.password, a.quota, a.used, a.disabled
                     FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.admin = 1",
                )?
                .query_map([], account_row)?
                .collect::<Result<Vec<_>, _>>()?;
            if !admins.is_empty() {
                for a in admins {
                    self.push_account(a);
                }
                return Ok(true);
            }
        }
        if catchall {
            let target: Option<String> = self
                .conn
                .prepare_cached("SELECT catchall FROM domains WHERE id = ?1")?
                .query_row([domain_id], |r| r.get(0))
                .optional()?
                .flatten();
            if let Some(t) = target
                && let Ok(t) = Address::parse(&t)
            {
                // A catch-all target is taken literally: no second catch-all behind it.
                self.walk(&t, false, depth + 1)?;
            }
        }
        Ok(true)
    }

    /// Account, alias or group for exactly this local part. True when the address exists.
    fn lookup_local(
        &mut self,
        domain_id: i64,
        addr: &Address,
        catchall: bool,
        depth: usize,
    ) -> Result<bool> {
        if let Some(acc) = find_account(self.conn, addr)? {
            self.push_account(acc);
            return Ok(true);
        }
        let alias: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM aliases WHERE domain_id = ?1 AND localpart = ?2")?
            .query_row(params![domain_id, addr.local], |r| r.get(0))
            .optional()?;
        if let Some(alias_id) = alias {
            let targets = self
                .conn
                .prepare_cached("SELECT target FROM alias_targets WHERE alias_id = ?1")?
                .query_map([alias_id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            for t in targets {
                if let Ok(t) = Address::parse(&t) {
                    self.walk(&t, catchall, depth + 1)?;
                }
            }
            return Ok(true);
        }
        let group: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM groups WHERE domain_id = ?1 AND localpart = ?2")?
            .query_row(params![domain_id, addr.local], |r| r.get(0))
            .optional()?;
        if let Some(group_id) = group {
            let members = self
                .conn
                .prepare_cached(
                    "SELECT a.id, a.localpart || '@' || d.name, a.password, a.quota, a.used, a.disabled
                     FROM group_members m JOIN accounts a ON a.id = m.account_id JOIN domains d ON d.id = a.domain_id
                     WHERE m.group_id = ?1",
                )?
                .query_map([group_id], account_row)?
                .collect::<Result<Vec<_>, _>>()?;
            for m in members {
                self.push_account(m);
            }
            return Ok(true);
        }
        Ok(false)
    }

    fn push_account(&mut self, acc: Account) {
        if acc.disabled {
            self.saw_disabled = true;
        } else if !self.out.accounts.iter().any(|a| a.id == acc.id) {
            self.out.accounts.push(acc);
        }
    }
}

/// An account from a row of (id, address, password, quota, used, disabled).
fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        address: r.get(1)?,
        password_hash: r.get(2)?,
        quota: r.get::<_, i64>(3)? as u64,
        used: r.get::<_, i64>(4)? as u64,
        disabled: r.get(5)?,
    })
}
