//! Counts failed logins, for every protocol alike: per client (an IPv4 address or an IPv6 /64),
//! which is blocked when it fails too often, and per account, which is locked for a while that
//! doubles with each lock (back-off), so that guesses spread over many addresses still get
//! nowhere.

use crate::netaddr::client_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many remembered clients or accounts, those that no longer matter are forgotten.
const MAX_TRACKED: usize = 100_000;

pub struct AuthGuard {
    max_failures: u32,
    window: Duration,
    block: Duration,
    account: AccountPolicy,
    clients: Mutex<HashMap<IpAddr, Entry>>,
    accounts: Mutex<HashMap<i64, Entry>>,
}

/// How accounts are locked: after `max_failures` (0: never) within the window, for `first`,
/// doubling at each further lock up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct AccountPolicy {
    pub max_failures: u32,
    pub first: Duration,
    pub max: Duration,
}

#[derive(Default)]
struct Entry {
    failures: u32,
    first: Option<Instant>,
    blocked_until: Option<Instant>,
    /// Locks so far (accounts): the next one lasts 2^locks times the first.
    locks: u32,
}

impl Entry {
    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|t| t > now)
    }

    /// Counts a failure; true when it reaches `max` within `window`.
    fn fail(&mut self, now: Instant, max: u32, window: Duration) -> bool {
        if self.first.is_none_or(|f| now.duration_since(f) > window) {
            self.failures = 0;
            self.first = Some(now);
        }
        self.failures += 1;
        if self.failures >= max {
            self.failures = 0;
            self.first = Some(now);
            return true;
        }
        false
    }

    fn forgettable(&self, now: Instant, window: Duration) -> bool {
        !self.blocked(now) && self.first.is_none_or(|f| now.duration_since(f) > window)
    }
}

impl AuthGuard {
    pub fn new(
        max_failures: u32,
        window: Duration,
        block: Duration,
        account: AccountPolicy,
    ) -> AuthGuard {
        AuthGuard {
            max_failures,
            window,
            block,
            account,
            clients: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&client_key(ip))
            .is_some_and(|e| e.blocked(Instant::now()))
    }

    /// Records a failure from `ip`; true when this failure blocks it.
    pub fn fail(&self, ip: IpAddr) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let now = Instant::now();
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_TRACKED {
            map.retain(|_, e| !e.forgettable(now, self.window));
        }
        let e = map.entry(client_key(ip)).or_default();
        if e.fail(now, self.max_failures, self.window) {
            e.blocked_until = Some(now + self.block);
            return true;
        }
        false
    }

    pub fn succeed(&self, ip: IpAddr) {
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let key = client_key(ip);
        if map.get(&key).is_some_and(|e| e.blocked_until.is_none()) {
            map.remove(&key);
        }
    }

    /// How long the account stays locked, when it is.
    pub fn account_locked(&self, account: i64) -> Option<Duration> {
        let map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let until = map.get(&account)?.blocked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failed password for the account; the length of the lock it starts, if any.
    pub fn fail_account(&self, account: i64) -> Option<Duration> {
        let policy = self.account;
        if policy.max_failures == 0 {
            return None;
        }
        let now = Instant::now();
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_TRACKED {
            // Accounts with a lock history stay known while their back-off matters.
            map.retain(|_, e| !e.forgettable(now, policy.max.max(self.window)));
        }
        let e = map.entry(account).or_default();
        if e.blocked(now) || !e.fail(now, policy.max_failures, self.window) {
            return None;
        }
        let lock = policy
            .first
            .saturating_mul(1u32 << e.locks.min(20))
            .min(policy.max);
        e.locks += 1;
        e.blocked_until = Some(now + lock);
        Some(lock)
    }

    /// A password that verified: the account's count starts over (its back-off too, once the
    /// lock it is in has run out).
    pub fn succeed_account(&self, account: i64) {
        let now = Instant::now();
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&account).is_some_and(|e| !e.blocked(now)) {
            map.remove(&account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(account_max: u32) -> AuthGuard {
        AuthGuard::new(
            3,
            Duration::from_secs(60),
            Duration::from_secs(60),
            AccountPolicy {
                max_failures: account_max,
                first: Duration::from_secs(60),
                max: Duration::from_secs(200),
            },
        )
    }

    #[test]
    fn blocks_after_max_failures_and_not_before() {
        let g = guard(0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!g.fail(ip));
        assert!(!g.fail(ip));
        assert!(!g.is_blocked(ip));
        assert!(g.fail(ip));
        assert!(g.is_blocked(ip));
        assert!(!g.is_blocked("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn an_ipv6_slash_64_fails_as_one_client() {
        let g = guard(0);
        for host in 1..=3 {
            g.fail(format!("2001:db8:5::{host}").parse().unwrap());
        }
        assert!(g.is_blocked("2001:db8:5::ffff".parse().unwrap()));
        assert!(!g.is_blocked("2001:db8:6::1".parse().unwrap()));
    }

    #[test]
    fn accounts_lock_with_back_off() {
        let g = guard(2);
        assert_eq!(g.fail_account(7), None);
        assert_eq!(g.fail_account(7), Some(Duration::from_secs(60)));
        assert!(g.account_locked(7).is_some());
        assert_eq!(g.fail_account(7), None, "already locked");
        assert!(g.account_locked(8).is_none());
        // Another lock of the same account lasts twice as long, capped at the maximum.
        g.accounts
            .lock()
            .unwrap()
            .get_mut(&7)
            .unwrap()
            .blocked_until = None;
        g.fail_account(7);
        assert_eq!(g.fail_account(7), Some(Duration::from_secs(120)));
        g.accounts
            .lock()
            .unwrap()
            .get_mut(&7)
            .unwrap()
            .blocked_until = None;
        g.fail_account(7);
        assert_eq!(g.fail_account(7), Some(Duration::from_secs(200)));
    }
}
