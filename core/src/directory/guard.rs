//! Counts failed logins per client address and blocks an address that fails too often, for
//! every protocol alike (SMTP AUTH now, IMAP and POP3 later).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct AuthGuard {
    max_failures: u32,
    window: Duration,
    block: Duration,
    state: Mutex<HashMap<IpAddr, Entry>>,
}

struct Entry {
    failures: u32,
    first: Instant,
    blocked_until: Option<Instant>,
}

impl AuthGuard {
    pub fn new(max_failures: u32, window: Duration, block: Duration) -> AuthGuard {
        AuthGuard {
            max_failures,
            window,
            block,
            state: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .get(&ip)
            .and_then(|e| e.blocked_until)
            .is_some_and(|t| t > Instant::now())
    }

    /// Records a failure; true when this failure blocks the address.
    pub fn fail(&self, ip: IpAddr) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.len() > 100_000 {
            // Bounded memory under a wide scan: forget entries that no longer matter.
            state.retain(|_, e| {
                e.blocked_until.is_some_and(|t| t > now)
                    || now.duration_since(e.first) < self.window
            });
        }
        let e = state.entry(ip).or_insert(Entry {
            failures: 0,
            first: now,
            blocked_until: None,
        });
        if now.duration_since(e.first) > self.window {
            *e = Entry {
                failures: 0,
                first: now,
                blocked_until: None,
            };
        }
        e.failures += 1;
        if e.failures >= self.max_failures {
            e.blocked_until = Some(now + self.block);
            e.failures = 0;
            e.first = now;
            return true;
        }
        false
    }

    pub fn succeed(&self, ip: IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.get(&ip).is_some_and(|e| e.blocked_until.is_none()) {
            state.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_and_not_before() {
        let g = AuthGuard::new(3, Duration::from_secs(60), Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!g.fail(ip));
        assert!(!g.fail(ip));
        assert!(!g.is_blocked(ip));
        assert!(g.fail(ip));
        assert!(g.is_blocked(ip));
        assert!(!g.is_blocked("192.0.2.2".parse().unwrap()));
    }
}
