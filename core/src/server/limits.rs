//! Connection limits: in total and per client address. A guard holds a slot for as long as the
//! connection lives, and the count of slots is what shutdown waits on.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct ConnLimiter {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

pub struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    pub fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<ConnGuard, &'static str> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.total >= max_total {
            return Err("Too many connections");
        }
        let n = s.per_ip.get(&ip).copied().unwrap_or(0);
        if n >= max_per_ip {
            return Err("Too many connections from your address");
        }
        s.total += 1;
        s.per_ip.insert(ip, n + 1);
        Ok(ConnGuard {
            limiter: self.clone(),
            ip,
        })
    }

    pub fn active(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut s = self.limiter.state.lock().unwrap_or_else(|p| p.into_inner());
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_total_and_releases() {
        let l = Arc::new(ConnLimiter::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let g1 = l.acquire(a, 3, 2).unwrap();
        let _g2 = l.acquire(a, 3, 2).unwrap();
        assert!(l.acquire(a, 3, 2).is_err());
        let _g3 = l.acquire(b, 3, 2).unwrap();
        assert!(l.acquire(b, 3, 2).is_err(), "total reached");
        drop(g1);
        assert_eq!(l.active(), 2);
        assert!(l.acquire(a, 3, 2).is_ok());
    }
}
