//! Arbitrary header blocks as a mailbox: SORT facts, every sort key, ORDEREDSUBJECT and
//! REFERENCES threads, and their IMAP form, never panic; every message appears in the threads
//! exactly once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::imap::sort::{self, SortKey};
use roost_core::imap::thread;

fuzz_target!(|data: &[u8]| {
    // Messages separated by 0xFF bytes.
    let facts: Vec<sort::Facts> = data
        .split(|&b| b == 0xff)
        .take(200)
        .enumerate()
        .map(|(i, m)| sort::facts(i as u32 + 1, i as u32 + 1, i as i64, m.len() as u64, m))
        .collect();
    let n = facts.len();
    let keys = [
        SortKey::Arrival,
        SortKey::Cc,
        SortKey::Date,
        SortKey::From,
        SortKey::Size,
        SortKey::Subject,
        SortKey::To,
    ];
    let criteria: Vec<(bool, SortKey)> = keys.iter().enumerate().map(|(i, k)| (i % 2 == 0, *k)).collect();
    assert_eq!(sort::sort(facts.clone(), &criteria).len(), n);
    for threads in [thread::references(facts.clone()), thread::ordered_subject(facts)] {
        let text = threads.render();
        let mut ids: Vec<u32> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=n as u32).collect::<Vec<_>>(), "{text}");
        assert_eq!(text.matches('(').count(), text.matches(')').count());
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = sort::base_subject(s);
    }
});
