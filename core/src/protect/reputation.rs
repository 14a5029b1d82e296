//! What the allow and block lists say of a client or a sender, and the automatic blocks: an
//! address that fails logins, asks for unknown recipients in bulk or writes to a spam trap is
//! refused at connection for a while (`[protection] auto_block_*`).

use crate::config::ProtectionConfig;
use crate::netaddr::{Network, client_key};
use crate::store::Store;
use crate::store::reputation::{self, ListKind, NewEntry, Subject};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses counted at once: past it the oldest count is dropped, so a spread-out scan cannot
/// grow the map without bound.
const MAX_TRACKED: usize = 20_000;

/// Unknown-recipient counts per client (an IPv6 /64 counts as one), in memory.
#[derive(Default)]
pub struct Tracker {
    unknown: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Tracker {
    /// Counts an unknown recipient; true when this one reaches `max` within `window`.
    pub fn unknown_recipient(&self, ip: IpAddr, max: u32, window: Duration) -> bool {
        if max == 0 {
            return false;
        }
        let key = client_key(ip);
        let now = Instant::now();
        let mut map = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
            map.retain(|_, (_, since)| now.duration_since(*since) < window);
            if map.len() >= MAX_TRACKED
                && let Some(oldest) = map.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let entry = map.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= window {
            *entry = (0, now);
        }
        entry.0 += 1;
        if entry.0 >= max {
            map.remove(&key);
            return true;
        }
        false
    }
}

/// What the server's lists say of a connecting client: read once per connection, and kept
/// by the session (an allowed client skips the DNS lists, greylisting and Junk filing).
pub fn client_verdict(store: &Store, ip: IpAddr) -> Option<(ListKind, String)> {
    let now = crate::store::now();
    // An indexed read on the reader connection: microseconds, per connection.
    match store.read(|tx| reputation::ip_verdict(tx, ip, None, now)) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the block list: the client is let in");
            None
        }
    }
}

/// Whether the server's allow list names the client.
fn client_allowed(store: &Store, ip: IpAddr) -> bool {
    matches!(client_verdict(store, ip), Some((ListKind::Allow, _)))
}

/// What the lists of the server (account None) or of one account say of a sender address.
pub fn sender_verdict(store: &Store, sender: &str, account: Option<i64>) -> Option<ListKind> {
    if sender.is_empty() {
        return None;
    }
    let now = crate::store::now();
    store
        .read(|tx| reputation::sender_verdict(tx, sender, account, now))
        .ok()
        .flatten()
        .map(|(k, _)| k)
}

/// What one account's own lists say of a client address.
pub fn account_ip_verdict(store: &Store, ip: IpAddr, account: i64) -> Option<ListKind> {
    let now = crate::store::now();
    store
        .read(|tx| reputation::ip_verdict(tx, ip, Some(account), now))
        .ok()
        .flatten()
        .map(|(k, _)| k)
}

/// Blocks the client (its /64 for IPv6) for `auto_block_secs`, unless automatic blocking is
/// off, the address is exempt or on the allow list. True when a block was written.
pub fn block_automatically(
    store: &Store,
    cfg: &ProtectionConfig,
    ip: IpAddr,
    reason: &str,
) -> bool {
    if cfg.auto_block_secs == 0 {
        return false;
    }
    let ip = ip.to_canonical();
    if crate::netaddr::listed(&cfg.auto_block_exempt, ip) || client_allowed(store, ip) {
        tracing::info!(client = %ip, reason, "not blocked: the address is exempt or allowed");
        return false;
    }
    let key = client_key(ip);
    let text = if key.is_ipv6() {
        format!("{key}/64")
    } else {
        key.to_string()
    };
    let Ok(network) = Network::parse(&text) else {
        return false;
    };
    let subject = Subject::Network(network);
    let expires = crate::store::now() + cfg.auto_block_secs as i64;
    let why = reason.to_string();
    let written = store.write(move |tx| {
        reputation::add(
            tx,
            &NewEntry {
                list: ListKind::Block,
                subject: &subject,
                account_id: None,
                reason: &why,
                expires: Some(expires),
                automatic: true,
            },
        )
    });
    match written {
        Ok(()) => {
            tracing::warn!(target: "roost_core::transactions", client = %text, reason,
                secs = cfg.auto_block_secs, "client blocked automatically");
            true
        }
        Err(e) => {
            tracing::error!(error = %e, client = %text, "cannot write the automatic block");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_recipients_count_within_the_window_and_start_over() {
        let t = Tracker::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let w = Duration::from_secs(60);
        assert!(!t.unknown_recipient(ip, 3, w));
        assert!(!t.unknown_recipient(ip, 3, w));
        assert!(t.unknown_recipient(ip, 3, w));
        // Counted again from nothing after the block.
        assert!(!t.unknown_recipient(ip, 3, w));
        // Another address of the same /64 counts with the first.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        assert!(!t.unknown_recipient(a, 2, w));
        assert!(t.unknown_recipient(b, 2, w));
        assert!(!t.unknown_recipient(ip, 0, w));
    }
}
