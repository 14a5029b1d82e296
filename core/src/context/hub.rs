//! Change notification between sessions: whoever changes an account's mail (a delivery, an IMAP
//! or POP3 session) bumps the account's counter; sessions of that account wake up and ask the
//! store what changed. The store stays the single source of truth; this only says "look now".
//! It also holds POP3's per-account lock (RFC 1939 8: one maildrop lock at a time).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use tokio::sync::watch;

#[derive(Default)]
pub struct Hub {
    accounts: Mutex<HashMap<i64, watch::Sender<u64>>>,
    pop3_locks: Mutex<HashSet<i64>>,
}

impl Hub {
    pub fn subscribe(&self, account_id: i64) -> watch::Receiver<u64> {
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(account_id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    pub fn notify(&self, account_id: i64) {
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&account_id) {
            if tx.receiver_count() == 0 {
                // Nobody listens any more: forget the account so the map stays small.
                map.remove(&account_id);
            } else {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Takes the POP3 lock on an account; false when another POP3 session holds it.
    pub fn lock_pop3(&self, account_id: i64) -> bool {
        self.pop3_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account_id)
    }

    pub fn unlock_pop3(&self, account_id: i64) {
        self.pop3_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_subscribers_of_the_account_only() {
        let hub = Hub::default();
        let mut a = hub.subscribe(1);
        let b = hub.subscribe(2);
        hub.notify(1);
        assert!(a.has_changed().unwrap());
        assert!(!b.has_changed().unwrap());
        a.mark_unchanged();
        hub.notify(3); // nobody: no effect
        assert!(!a.has_changed().unwrap());
    }

    #[test]
    fn pop3_lock_is_exclusive_until_released() {
        let hub = Hub::default();
        assert!(hub.lock_pop3(7));
        assert!(!hub.lock_pop3(7));
        assert!(hub.lock_pop3(8));
        hub.unlock_pop3(7);
        assert!(hub.lock_pop3(7));
    }
}
