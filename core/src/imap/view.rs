//! What a session has told its client about the selected mailbox: sequence numbers to UIDs and
//! the flags last shown. Compact (5 bytes a message, keywords only where set), because every
//! idle session keeps one for as long as the client stays connected.

use std::collections::BTreeMap;

#[derive(Default)]
pub struct View {
    uids: Vec<u32>,
    flags: Vec<u8>,
    keywords: BTreeMap<u32, Box<str>>,
}

impl View {
    pub fn len(&self) -> usize {
        self.uids.len()
    }

    pub fn max_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    /// (sequence number, UID) of every message, in order.
    pub fn all(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.uids
            .iter()
            .enumerate()
            .map(|(i, &u)| (i as u32 + 1, u))
    }

    /// UIDs from sequence number `from` (1-based) on.
    pub fn uids_from(&self, from: usize) -> &[u32] {
        &self.uids[from.min(self.uids.len())..]
    }

    /// Appends a message; UIDs only grow.
    pub fn push(&mut self, uid: u32, flags: i64, keywords: &str) {
        self.uids.push(uid);
        self.flags.push(flags as u8);
        if !keywords.is_empty() {
            self.keywords.insert(uid, keywords.into());
        }
    }

    pub fn remove(&mut self, seq: u32) {
        let i = seq as usize - 1;
        if i < self.uids.len() {
            let uid = self.uids.remove(i);
            self.flags.remove(i);
            self.keywords.remove(&uid);
        }
    }

    /// Records the flags now shown for `seq`; true when they differ from what was shown.
    pub fn update(&mut self, seq: u32, flags: i64, keywords: &str) -> bool {
        let i = seq as usize - 1;
        let Some(&uid) = self.uids.get(i) else {
            return false;
        };
        let old_kw = self.keywords.get(&uid).map(|k| &**k).unwrap_or("");
        let changed = self.flags[i] != flags as u8 || old_kw != keywords;
        if changed {
            self.flags[i] = flags as u8;
            if keywords.is_empty() {
                self.keywords.remove(&uid);
            } else {
                self.keywords.insert(uid, keywords.into());
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_sequence_numbers_and_flags() {
        let mut v = View::default();
        v.push(3, 1, "");
        v.push(7, 0, "$Work");
        v.push(9, 0, "");
        assert_eq!(v.seq_of(7), Some(2));
        assert!(!v.update(2, 0, "$Work"));
        assert!(v.update(2, 1, "$Work"));
        v.remove(1);
        assert_eq!(v.seq_of(7), Some(1));
        assert_eq!(v.all().collect::<Vec<_>>(), [(1, 7), (2, 9)]);
        assert_eq!(v.max_uid(), 9);
        assert_eq!(v.uids_from(1), [9]);
    }
}
