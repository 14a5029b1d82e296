//! SORT (RFC 5256): the facts each message contributes, base subjects, and the sort itself.
//! Pure functions over the header block; every step is linear in what the sender wrote.

use super::{date, mime};
use crate::rfc5322;

/// References kept per message for threading: the first and the nearest ones.
pub const MAX_REFERENCES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
}

/// What sorting and threading need of one message.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The number reported: a sequence number or a UID.
    pub id: u32,
    pub seq: u32,
    pub arrival: i64,
    /// The Date header, or the arrival time when it is missing or broken (RFC 5256 2.2).
    pub date: i64,
    pub size: u64,
    pub subject: String,
    /// The subject had reply or forward markers (RFC 5256 2.1, for THREAD's subject merge).
    pub reply: bool,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub message_id: Option<String>,
    /// References, else In-Reply-To, oldest first (at most MAX_REFERENCES).
    pub refs: Vec<String>,
}

pub fn facts(id: u32, seq: u32, arrival: i64, size: u64, message: &[u8]) -> Facts {
    let (header, _) = mime::split_header(message);
    let fields = mime::fields(header);
    let f = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    // RFC 5256 3: the addr-mailbox of the first address.
    let first_mailbox = |v: &str| -> String {
        rfc5322::mailboxes(v)
            .first()
            .map(|m| m.local.to_ascii_lowercase())
            .unwrap_or_default()
    };
    let mut refs = rfc5322::message_ids(f("references"), MAX_REFERENCES);
    if refs.is_empty() {
        refs = rfc5322::message_ids(f("in-reply-to"), 1);
    }
    let (subject, reply) = base_subject(f("subject"));
    Facts {
        id,
        seq,
        arrival,
        date: date::parse_rfc5322(f("date")).unwrap_or(arrival),
        size,
        subject,
        reply,
        from: first_mailbox(f("from")),
        to: first_mailbox(f("to")),
        cc: first_mailbox(f("cc")),
        message_id: rfc5322::message_ids(f("message-id"), 1).into_iter().next(),
        refs,
    }
}

/// RFC 5256 2.1: the subject without reply and forward markers, [blob] prefixes and "(fwd)"
/// trailers, lower-cased with white space runs made one space; and whether anything of a
/// reply or forward was removed. Works on one buffer by moving its two ends inward, so each
/// character is looked at a bounded number of times.
pub fn base_subject(raw: &str) -> (String, bool) {
    let mut norm = String::with_capacity(raw.len());
    for w in raw.split_whitespace() {
        if !norm.is_empty() {
            norm.push(' ');
        }
        norm.push_str(w);
    }
    let s = norm.to_lowercase();
    let b = s.as_bytes();
    let (mut start, mut end) = (0, b.len());
    let mut reply = false;
    loop {
        // (2) trailers: "(fwd)" and white space.
        loop {
            if end > start && b[end - 1] == b' ' {
                end -= 1;
            } else if s[start..end].ends_with("(fwd)") {
                end -= 5;
                reply = true;
            } else {
                break;
            }
        }
        // (3) and (4), until neither applies.
        loop {
            while start < end && b[start] == b' ' {
                start += 1;
            }
            let blobs_end = skip_blobs(b, start, end);
            if let Some(after) = refwd(b, blobs_end, end) {
                start = after;
                reply = true;
                continue;
            }
            if blobs_end == start {
                break;
            }
            // No marker after the blobs: (4) removes them one by one while something is left,
            // which is all of them unless nothing follows; then the last one stays.
            if blobs_end < end {
                start = blobs_end;
            } else {
                start = last_blob_start(b, start, end);
                break;
            }
        }
        // (6) "[fwd: ... ]" around the whole.
        if s[start..end].starts_with("[fwd:") && s[start..end].ends_with(']') && end - start >= 6 {
            start += 5;
            end -= 1;
            reply = true;
            continue;
        }
        return (s[start..end].to_string(), reply);
    }
}

/// The end of the run of subj-blobs ("[" *BLOBCHAR "]" *WSP) at `i`.
fn skip_blobs(b: &[u8], mut i: usize, end: usize) -> usize {
    while let Some(after) = blob(b, i, end) {
        i = after;
    }
    i
}

/// One subj-blob at `i`: where it ends (after its white space).
fn blob(b: &[u8], i: usize, end: usize) -> Option<usize> {
    if i >= end || b[i] != b'[' {
        return None;
    }
    let close = b[i + 1..end].iter().position(|&c| c == b']' || c == b'[')?;
    if b[i + 1 + close] != b']' {
        return None;
    }
    let mut j = i + close + 2;
    while j < end && b[j] == b' ' {
        j += 1;
    }
    Some(j)
}

/// The start of the last blob of the run that begins at `start`.
fn last_blob_start(b: &[u8], start: usize, end: usize) -> usize {
    let mut i = start;
    while let Some(next) = blob(b, i, end) {
        if next >= end {
            return i;
        }
        i = next;
    }
    i
}

/// subj-refwd at `i`: ("re" / "fw" / "fwd") *WSP [subj-blob] ":"; where it ends.
fn refwd(b: &[u8], i: usize, end: usize) -> Option<usize> {
    let rest = &b[i..end];
    let mut j = i + if rest.starts_with(b"fwd") {
        3
    } else if rest.starts_with(b"fw") || rest.starts_with(b"re") {
        2
    } else {
        return None;
    };
    while j < end && b[j] == b' ' {
        j += 1;
    }
    if let Some(after) = blob(b, j, end) {
        j = after;
    }
    (j < end && b[j] == b':').then_some(j + 1)
}

/// Sorts by the criteria in order, then by sequence number (RFC 5256 3).
pub fn sort(mut msgs: Vec<Facts>, criteria: &[(bool, SortKey)]) -> Vec<u32> {
    msgs.sort_by(|a, b| {
        for &(reverse, key) in criteria {
            let ord = match key {
                SortKey::Arrival => a.arrival.cmp(&b.arrival),
                SortKey::Date => a.date.cmp(&b.date),
                SortKey::Size => a.size.cmp(&b.size),
                SortKey::Subject => a.subject.cmp(&b.subject),
                SortKey::From => a.from.cmp(&b.from),
                SortKey::To => a.to.cmp(&b.to),
                SortKey::Cc => a.cc.cmp(&b.cc),
            };
            let ord = if reverse { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        a.seq.cmp(&b.seq)
    });
    msgs.into_iter().map(|m| m.id).collect()
}

#[cfg(test)]
pub(crate) fn test_facts(id: u32, date: i64, subject: &str, mid: &str, refs: &[&str]) -> Facts {
    let (subject, reply) = base_subject(subject);
    Facts {
        id,
        seq: id,
        arrival: date,
        date,
        size: id as u64,
        subject,
        reply,
        from: String::new(),
        to: String::new(),
        cc: String::new(),
        message_id: (!mid.is_empty()).then(|| mid.to_string()),
        refs: refs.iter().map(|r| r.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> String {
        base_subject(s).0
    }

    #[test]
    fn base_subjects() {
        assert_eq!(
            base("Re: Fwd: [list] RE:  Hello   World (fwd)"),
            "hello world"
        );
        assert_eq!(base("[Fwd: Meeting]"), "meeting");
        assert_eq!(base("Réunion"), "réunion");
        assert_eq!(base("Re"), "re");
        assert_eq!(base("[list] topic"), "topic", "(4): a leading blob goes");
        assert_eq!(
            base("[only a blob]"),
            "[only a blob]",
            "unless nothing is left"
        );
        assert_eq!(base("[a] [b]"), "[b]");
        assert_eq!(base("Re[2]: answer"), "answer");
        assert_eq!(base("re: [fwd: re: x] (fwd)"), "x");
        assert_eq!(base(""), "");
        assert!(base_subject("Re: x").1 && base_subject("x (fwd)").1);
        assert!(!base_subject("[list] x").1);
    }

    #[test]
    fn hostile_subjects_are_linear() {
        // Each of these took a copy of the rest of the subject per marker before.
        let many = "Re: ".repeat(100_000) + "end";
        assert_eq!(base(&many), "end");
        let blobs = "[x]".repeat(100_000) + " y";
        assert_eq!(base(&blobs), "y");
        let open = "[".repeat(100_000);
        assert_eq!(base(&open).len(), 100_000);
        let fwd = "[fwd: ".repeat(20_000) + "z" + &"]".repeat(20_000);
        assert_eq!(base(&fwd), "z");
        let trailers = "q".to_string() + &" (fwd)".repeat(100_000);
        assert_eq!(base(&trailers), "q");
    }

    #[test]
    fn sorting() {
        let msgs = vec![
            test_facts(1, 30, "b", "1", &[]),
            test_facts(2, 10, "a", "2", &[]),
            test_facts(3, 20, "a", "3", &[]),
        ];
        assert_eq!(
            sort(
                msgs.clone(),
                &[(false, SortKey::Subject), (false, SortKey::Date)]
            ),
            [2, 3, 1]
        );
        assert_eq!(sort(msgs, &[(true, SortKey::Size)]), [3, 2, 1]);
    }

    #[test]
    fn facts_cap_references_and_read_first_addresses() {
        let refs: String = (0..60_000).map(|i| format!("<{i}@x.test> ")).collect();
        let msg = format!(
            "From: \"Doe, J\" <JDoe@x.test>, b@y.test\r\nReferences: {refs}\r\nSubject: Re: hi\r\n\r\nbody"
        );
        let f = facts(1, 1, 0, 10, msg.as_bytes());
        assert_eq!(f.refs.len(), MAX_REFERENCES);
        assert_eq!(f.refs[0], "0@x.test");
        assert_eq!(f.refs.last().unwrap(), "59999@x.test");
        assert_eq!(f.from, "jdoe");
        assert_eq!((f.subject.as_str(), f.reply), ("hi", true));
    }
}
