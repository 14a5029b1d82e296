//! The message bytes that all connections together may hold in memory (`limits.message_memory`).
//! Arriving mail past the budget goes to temporary files instead; readers (FETCH, RETR) and
//! IMAP APPEND wait their turn. A NAS with 1 GiB of RAM stays up however many clients send at
//! once.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes are counted in KiB, so that a permit count (u32) covers any message.
const UNIT: u64 = 1024;

/// How long a reader or an APPEND waits for room before it is told to try again later: no
/// client holding the budget can make another wait for ever.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone)]
pub struct MessageMemory {
    sem: Arc<Semaphore>,
    units: u32,
}

/// Bytes held against the budget; given back when dropped.
#[derive(Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

fn units(bytes: u64) -> u32 {
    bytes.div_ceil(UNIT).min(u32::MAX as u64) as u32
}

impl MessageMemory {
    pub fn new(bytes: u64) -> MessageMemory {
        let units = units(bytes).max(1);
        MessageMemory {
            sem: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Holds `bytes` now, or None when the budget has no room for them.
    pub fn try_hold(&self, bytes: u64) -> Option<Held> {
        if bytes == 0 {
            return Some(Held(None));
        }
        self.sem
            .clone()
            .try_acquire_many_owned(units(bytes))
            .ok()
            .map(|p| Held(Some(p)))
    }

    /// Holds `bytes`, waiting for room. More than the whole budget is clamped to the whole
    /// budget, so that one large message still goes, alone.
    pub async fn hold(&self, bytes: u64) -> Held {
        if bytes == 0 {
            return Held(None);
        }
        let want = units(bytes).min(self.units);
        match self.sem.clone().acquire_many_owned(want).await {
            Ok(p) => Held(Some(p)),
            // Never closed; an unbudgeted hold is the safe fallback.
            Err(_) => Held(None),
        }
    }

    /// As `hold`, waiting at most `WAIT`; None when the budget stayed full.
    pub async fn hold_a_while(&self, bytes: u64) -> Option<Held> {
        tokio::time::timeout(WAIT, self.hold(bytes)).await.ok()
    }

    /// Adds `bytes` to what `held` holds, if the budget has room.
    pub fn try_grow(&self, held: &mut Held, bytes: u64) -> bool {
        match self.try_hold(bytes) {
            Some(Held(Some(more))) => {
                match held.0.as_mut() {
                    Some(p) => p.merge(more),
                    None => held.0 = Some(more),
                }
                true
            }
            Some(Held(None)) => true,
            None => false,
        }
    }

    /// Bytes held at this moment, for `roost status`.
    pub fn in_use(&self) -> u64 {
        (self.units as u64 - self.sem.available_permits() as u64) * UNIT
    }

    pub fn budget(&self) -> u64 {
        self.units as u64 * UNIT
    }
}

impl Held {
    pub fn bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, |p| p.num_permits() as u64 * UNIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_the_budget_and_gives_back() {
        let m = MessageMemory::new(10 * 1024);
        let a = m.try_hold(6 * 1024).unwrap();
        assert!(m.try_hold(5 * 1024).is_none());
        let mut b = m.try_hold(1).unwrap();
        assert!(m.try_grow(&mut b, 3 * 1024));
        assert_eq!(m.in_use(), 10 * 1024);
        assert!(!m.try_grow(&mut b, 1));
        drop(a);
        assert_eq!(m.in_use(), 4 * 1024);
        drop(b);
        assert_eq!(m.in_use(), 0);
    }

    #[tokio::test]
    async fn a_message_larger_than_the_budget_waits_for_all_of_it() {
        let m = MessageMemory::new(4096);
        let big = m.hold(1 << 30).await;
        assert_eq!(big.bytes(), 4096);
        assert!(m.try_hold(1).is_none());
    }
}
