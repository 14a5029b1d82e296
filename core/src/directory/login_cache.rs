//! Remembers passwords that verified, for a while, so that a mail client opening its tenth
//! connection of the minute does not pay argon2 (19 MiB, tens of milliseconds) every time.
//! Dovecot's auth_cache does the same job.
//!
//! Only a keyed digest (HMAC-SHA256 with a key made at start and never stored) is kept, tied to
//! the stored hash: a password change makes every entry for the account stale. Failed
//! attempts are never cached, so guessing always costs the full argon2.

use ring::hmac;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_ENTRIES: usize = 10_000;

pub struct LoginCache {
    key: hmac::Key,
    ttl: Duration,
    entries: Mutex<HashMap<i64, Entry>>,
}

struct Entry {
    stored_hash: String,
    digest: hmac::Tag,
    expires: Instant,
}

impl LoginCache {
    pub fn new(ttl: Duration) -> LoginCache {
        let mut secret = [0u8; 32];
        // Without kernel randomness the cache stays empty rather than use a guessable key.
        let ok = getrandom::fill(&mut secret).is_ok();
        LoginCache {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            ttl: if ok { ttl } else { Duration::ZERO },
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, password: &str) -> hmac::Tag {
        hmac::sign(&self.key, password.as_bytes())
    }

    /// True when this password verified recently against this very stored hash.
    pub fn check(&self, account_id: i64, stored_hash: &str, password: &str) -> bool {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(e) = map.get(&account_id) else {
            return false;
        };
        if e.stored_hash != stored_hash || e.expires < Instant::now() {
            return false;
        }
        // Constant-time comparison of the tags.
        hmac::verify(&self.key, password.as_bytes(), e.digest.as_ref()).is_ok()
    }

    pub fn remember(&self, account_id: i64, stored_hash: &str, password: &str) {
        if self.ttl.is_zero() {
            return;
        }
        let digest = self.digest(password);
        let now = Instant::now();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.expires > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            account_id,
            Entry {
                stored_hash: stored_hash.to_string(),
                digest,
                expires: now + self.ttl,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_right_password_for_the_same_hash() {
        let c = LoginCache::new(Duration::from_secs(60));
        assert!(!c.check(1, "h1", "secret"));
        c.remember(1, "h1", "secret");
        assert!(c.check(1, "h1", "secret"));
        assert!(!c.check(1, "h1", "Secret"));
        assert!(
            !c.check(1, "h2", "secret"),
            "a changed password hash invalidates"
        );
        assert!(!c.check(2, "h1", "secret"));
        let expired = LoginCache::new(Duration::from_nanos(1));
        expired.remember(1, "h1", "secret");
        std::thread::sleep(Duration::from_millis(2));
        assert!(!expired.check(1, "h1", "secret"));
    }
}
