//! Connection limits: in total, per client (an IPv4 address or an IPv6 /64) at once, and per
//! client per minute. A guard holds a slot for as long as the connection lives, and the count
//! of slots is what shutdown waits on.

use crate::netaddr::client_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Past this many remembered clients, those whose minute is over are forgotten.
const MAX_TRACKED: usize = 100_000;

#[derive(Default)]
pub struct ConnLimiter {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Connections opened in the current minute, and when that minute began.
    rate: HashMap<IpAddr, (Instant, u32)>,
}

pub struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    /// A slot for a new connection from `ip`; `per_minute` 0 means no rate limit.
    pub fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
        per_minute: u32,
    ) -> Result<ConnGuard, &'static str> {
        let ip = client_key(ip);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if per_minute > 0 {
            let now = Instant::now();
            if s.rate.len() > MAX_TRACKED {
                s.rate
                    .retain(|_, (start, _)| now.duration_since(*start) < RATE_WINDOW);
            }
            let (start, count) = s.rate.entry(ip).or_insert((now, 0));
            if now.duration_since(*start) >= RATE_WINDOW {
                *start = now;
                *count = 0;
            }
            *count = count.saturating_add(1);
            if *count > per_minute {
                return Err("Too many connections from your address in the last minute");
            }
        }
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
        let g1 = l.acquire(a, 3, 2, 0).unwrap();
        let _g2 = l.acquire(a, 3, 2, 0).unwrap();
        assert!(l.acquire(a, 3, 2, 0).is_err());
        let _g3 = l.acquire(b, 3, 2, 0).unwrap();
        assert!(l.acquire(b, 3, 2, 0).is_err(), "total reached");
        drop(g1);
        assert_eq!(l.active(), 2);
        assert!(l.acquire(a, 3, 2, 0).is_ok());
    }

    #[test]
    fn one_ipv6_slash_64_is_one_client_and_the_rate_is_per_minute() {
        let l = Arc::new(ConnLimiter::default());
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        let _g = l.acquire(a, 10, 1, 0).unwrap();
        assert!(l.acquire(b, 10, 1, 0).is_err(), "same /64");
        let c: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..3 {
            drop(l.acquire(c, 10, 10, 3).unwrap());
        }
        assert!(l.acquire(c, 10, 10, 3).is_err(), "fourth in the minute");
    }
}
