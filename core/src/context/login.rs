//! Password logins for every protocol: blocked addresses, the account lookup, argon2 off the
//! async threads, failure counting, and the one log line per login or failed login.

use super::Shared;
use crate::directory::{self, password};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub account_id: i64,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Ok(AuthUser),
    Failed,
    /// Too many failures from this address: refused without looking.
    Blocked,
}

pub async fn login(
    shared: &Shared,
    ip: IpAddr,
    user: &str,
    pass: &str,
    service: &str,
    mechanism: &str,
) -> Login {
    if shared.guard.is_blocked(ip) {
        tracing::warn!(target: "roost::auth", client = %ip, service, "login refused: address blocked");
        return Login::Blocked;
    }
    let account = shared
        .store
        .read(|c| directory::authenticate_lookup(c, user))
        .ok()
        .flatten();
    let pw = pass.to_string();
    let (hash, account) = match account {
        Some(a) if !a.disabled => (a.password_hash.clone(), Some(a)),
        // Verify against a fixed hash anyway, so timing does not tell which logins exist.
        _ => (password::dummy_hash(), None),
    };
    let cached = account
        .as_ref()
        .is_some_and(|a| shared.login_cache.check(a.id, &hash, pass));
    // A locked account takes only a password that verified recently (its owner's clients);
    // guesses are refused without being checked.
    if let Some(a) = account.as_ref().filter(|_| !cached)
        && let Some(left) = shared.guard.account_locked(a.id)
    {
        shared.guard.fail(ip);
        tracing::warn!(target: "roost::auth", client = %ip, user = %a.address, mechanism, service, locked_secs = left.as_secs(), "login refused: account locked after failed logins");
        return Login::Failed;
    }
    let valid = cached
        || match shared.logins.acquire().await {
            Ok(_permit) => {
                let h = hash.clone();
                tokio::task::spawn_blocking(move || password::verify(&pw, &h))
                    .await
                    .unwrap_or(false)
            }
            Err(_) => false,
        };
    if valid
        && !cached
        && let Some(a) = &account
    {
        shared.login_cache.remember(a.id, &hash, pass);
    }
    match account {
        Some(a) if valid => {
            shared.guard.succeed(ip);
            shared.guard.succeed_account(a.id);
            tracing::info!(target: "roost::auth", client = %ip, user = %a.address, mechanism, service, "login");
            Login::Ok(AuthUser {
                account_id: a.id,
                address: a.address,
            })
        }
        _ => {
            let blocked = shared.guard.fail(ip);
            if blocked && shared.config().protection.block_on_login_failures {
                shared.block_automatically(ip, "failed logins");
            }
            if let Some(a) = &account
                && let Some(lock) = shared.guard.fail_account(a.id)
            {
                tracing::warn!(target: "roost::auth", user = %a.address, lock_secs = lock.as_secs(), "account locked after failed logins");
            }
            let shown: String = user.chars().filter(|c| !c.is_control()).take(100).collect();
            tracing::warn!(target: "roost::auth", client = %ip, user = %shown, mechanism, service, blocked, "authentication failed");
            Login::Failed
        }
    }
}
