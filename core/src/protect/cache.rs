//! DNS answers for the arrival checks, kept for their TTL: mail-auth hands every answer with
//! its expiry to a `ResolverCache`, and a burst of mail from one domain then costs one look-up.

use mail_auth::{MX, RecordSet, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

/// Most answers kept per record type: a few MiB at most, whatever senders make us look up.
const MAX_ENTRIES: usize = 20_000;

pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(name) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            // Expired answers go first; when every answer is still valid, all go: one
            // linear pass per MAX_ENTRIES insertions, never per look-up.
            let now = Instant::now();
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (value, valid_until));
    }
}

impl<K, V> TtlCache<K, V> {
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One cache per record type, as mail-auth asks for them.
#[derive(Default)]
pub struct DnsCache {
    pub txt: TtlCache<Box<str>, Txt>,
    pub mx: TtlCache<Box<str>, RecordSet<MX>>,
    pub ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    pub ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn answers_expire_with_their_ttl() {
        let c: TtlCache<Box<str>, u32> = TtlCache::default();
        c.insert("a".into(), 1, Instant::now() + Duration::from_secs(60));
        c.insert("b".into(), 2, Instant::now() - Duration::from_secs(1));
        assert_eq!(c.get("a"), Some(1));
        assert_eq!(c.get("b"), None);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let c: TtlCache<Box<str>, u32> = TtlCache::default();
        let later = Instant::now() + Duration::from_secs(60);
        for i in 0..MAX_ENTRIES + 10 {
            c.insert(i.to_string().into(), 0, later);
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
