//! SORT and THREAD (RFC 5256): base subjects, sort keys, and the ORDEREDSUBJECT and REFERENCES
//! threading algorithms. Pure functions over the facts extracted from each message.

use super::{date, mime};
use std::collections::HashMap;

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
    pub from: String,
    pub to: String,
    pub cc: String,
    pub message_id: Option<String>,
    /// References, then In-Reply-To, oldest first.
    pub refs: Vec<String>,
}

pub fn facts(id: u32, seq: u32, arrival: i64, size: u64, message: &[u8]) -> Facts {
    let (header, _) = mime::split_header(message);
    let f = |n: &str| mime::field(header, n).unwrap_or_default();
    let first_mailbox = |v: String| -> String {
        let v = v.split(',').next().unwrap_or("").to_string();
        let spec = match (v.rfind('<'), v.rfind('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].to_string(),
            _ => v.trim().to_string(),
        };
        spec.split('@')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let mut refs: Vec<String> = message_ids(&f("references"));
    if refs.is_empty() {
        refs = message_ids(&f("in-reply-to")).into_iter().take(1).collect();
    }
    Facts {
        id,
        seq,
        arrival,
        date: date::parse_rfc5322(&f("date")).unwrap_or(arrival),
        size,
        subject: base_subject(&f("subject")),
        from: first_mailbox(f("from")),
        to: first_mailbox(f("to")),
        cc: first_mailbox(f("cc")),
        message_id: message_ids(&f("message-id")).into_iter().next(),
        refs,
    }
}

fn message_ids(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(a) = rest.find('<') {
        let Some(b) = rest[a..].find('>') else { break };
        let id = rest[a + 1..a + b].trim();
        if !id.is_empty() {
            out.push(id.to_string());
        }
        rest = &rest[a + b + 1..];
    }
    out
}

/// RFC 5256 2.1, simplified: strip reply and forward markers, [tags] before them, "(fwd)"
/// trailers, and compare without case or extra white space.
pub fn base_subject(s: &str) -> String {
    let mut s: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    loop {
        let before = s.clone();
        while let Some(t) = s.strip_suffix("(fwd)") {
            s = t.trim_end().to_string();
        }
        loop {
            let t = s.trim_start();
            let mut rest = t;
            // [blob]* ("re" / "fw" / "fwd") [blob] ":"
            while let Some(r) = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']').map(|x| x.1.trim_start()))
            {
                rest = r;
            }
            let marker = ["re", "fwd", "fw"]
                .iter()
                .find_map(|m| rest.strip_prefix(m));
            let Some(mut after) = marker else { break };
            after = after.trim_start();
            if let Some(r) = after
                .strip_prefix('[')
                .and_then(|r| r.split_once(']').map(|x| x.1))
            {
                after = r;
            }
            match after.strip_prefix(':') {
                Some(r) => s = r.trim_start().to_string(),
                None => break,
            }
        }
        if let Some(inner) = s.strip_prefix("[fwd:").and_then(|x| x.strip_suffix(']')) {
            s = inner.trim().to_string();
        }
        if s == before {
            return s;
        }
    }
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

/// A thread tree, written as IMAP wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: Option<u32>,
    pub children: Vec<Node>,
}

pub fn render(threads: &[Node]) -> String {
    fn chain(n: &Node, out: &mut String) {
        let mut cur = n;
        let mut first = true;
        loop {
            if let Some(id) = cur.id {
                if !first {
                    out.push(' ');
                }
                out.push_str(&id.to_string());
                first = false;
            }
            match cur.children.len() {
                0 => return,
                1 => cur = &cur.children[0],
                _ => {
                    // "(1 (2)(3))": a space after the parent, none between sibling groups.
                    if !first {
                        out.push(' ');
                    }
                    for c in &cur.children {
                        out.push('(');
                        chain(c, out);
                        out.push(')');
                    }
                    return;
                }
            }
        }
    }
    let mut out = String::new();
    for t in threads {
        out.push('(');
        chain(t, &mut out);
        out.push(')');
    }
    out
}

/// ORDEREDSUBJECT: messages grouped by base subject; the first (by date) is the root and the
/// others are its children in date order; threads ordered by their root's date.
pub fn ordered_subject(mut msgs: Vec<Facts>) -> Vec<Node> {
    msgs.sort_by(|a, b| {
        a.subject
            .cmp(&b.subject)
            .then(a.date.cmp(&b.date))
            .then(a.seq.cmp(&b.seq))
    });
    let mut threads: Vec<(i64, u32, Node)> = Vec::new();
    let mut i = 0;
    while i < msgs.len() {
        let mut j = i + 1;
        while j < msgs.len() && msgs[j].subject == msgs[i].subject {
            j += 1;
        }
        let children = msgs[i + 1..j]
            .iter()
            .map(|m| Node {
                id: Some(m.id),
                children: vec![],
            })
            .collect();
        threads.push((
            msgs[i].date,
            msgs[i].seq,
            Node {
                id: Some(msgs[i].id),
                children,
            },
        ));
        i = j;
    }
    threads.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    threads.into_iter().map(|t| t.2).collect()
}

/// REFERENCES (RFC 5256 3, steps 1-5, without the subject merge of dummies with messages).
pub fn references(msgs: Vec<Facts>) -> Vec<Node> {
    // Containers by message-id; parent links; a message without an id gets its own.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut ids: Vec<Option<usize>> = Vec::new(); // container -> message index
    let mut parent: Vec<Option<usize>> = Vec::new();
    let container = |key: String,
                     index: &mut HashMap<String, usize>,
                     ids: &mut Vec<Option<usize>>,
                     parent: &mut Vec<Option<usize>>| {
        *index.entry(key).or_insert_with(|| {
            ids.push(None);
            parent.push(None);
            ids.len() - 1
        })
    };
    let is_ancestor = |parent: &Vec<Option<usize>>, a: usize, mut b: usize| -> bool {
        let mut steps = 0;
        loop {
            if a == b {
                return true;
            }
            match parent[b] {
                Some(p) if steps < 10_000 => {
                    b = p;
                    steps += 1;
                }
                _ => return false,
            }
        }
    };
    for (mi, m) in msgs.iter().enumerate() {
        let key = match &m.message_id {
            Some(id) if index.get(id).is_none_or(|&c| ids[c].is_none()) => id.clone(),
            _ => format!("\u{0}unique-{mi}"),
        };
        let c = container(key, &mut index, &mut ids, &mut parent);
        ids[c] = Some(mi);
        // Link the references in a chain, then this message under the last one.
        let mut prev: Option<usize> = None;
        for r in &m.refs {
            let rc = container(r.clone(), &mut index, &mut ids, &mut parent);
            if let Some(p) = prev
                && parent[rc].is_none()
                && !is_ancestor(&parent, rc, p)
            {
                parent[rc] = Some(p);
            }
            prev = Some(rc);
        }
        parent[c] = None;
        if let Some(p) = prev
            && !is_ancestor(&parent, c, p)
        {
            parent[c] = Some(p);
        }
    }
    // Build the tree; empty containers with one child are replaced by it (pruning).
    let n = ids.len();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (c, p) in parent.iter().enumerate() {
        match *p {
            Some(p) => kids[p].push(c),
            None => roots.push(c),
        }
    }
    let date_of = |c: usize, kids: &Vec<Vec<usize>>| -> (i64, u32) {
        // A dummy sorts by its first child's date.
        let mut cur = c;
        loop {
            if let Some(mi) = ids[cur] {
                return (msgs[mi].date, msgs[mi].seq);
            }
            match kids[cur].first() {
                Some(&k) => cur = k,
                None => return (i64::MAX, u32::MAX),
            }
        }
    };
    fn build(
        c: usize,
        ids: &[Option<usize>],
        kids: &[Vec<usize>],
        msgs: &[Facts],
        order: &dyn Fn(usize) -> (i64, u32),
    ) -> Vec<Node> {
        let mut children: Vec<usize> = kids[c].clone();
        children.sort_by_key(|&k| order(k));
        let built: Vec<Node> = children
            .iter()
            .flat_map(|&k| build(k, ids, kids, msgs, order))
            .collect();
        match ids[c] {
            Some(mi) => vec![Node {
                id: Some(msgs[mi].id),
                children: built,
            }],
            // An empty container: its children take its place (RFC 5256 step 4).
            None if built.len() <= 1 => built,
            None => vec![Node {
                id: None,
                children: built,
            }],
        }
    }
    let order = |c: usize| date_of(c, &kids);
    roots.sort_by_key(|&r| order(r));
    roots
        .iter()
        .flat_map(|&r| build(r, &ids, &kids, &msgs, &order))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: u32, date: i64, subject: &str, mid: &str, refs: &[&str]) -> Facts {
        Facts {
            id,
            seq: id,
            arrival: date,
            date,
            size: id as u64,
            subject: base_subject(subject),
            from: String::new(),
            to: String::new(),
            cc: String::new(),
            message_id: Some(mid.into()),
            refs: refs.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn base_subjects() {
        assert_eq!(
            base_subject("Re: Fwd: [list] RE:  Hello   World (fwd)"),
            "hello world"
        );
        assert_eq!(base_subject("[Fwd: Meeting]"), "meeting");
        assert_eq!(base_subject("Réunion"), "réunion");
        assert_eq!(base_subject("Re"), "re");
    }

    #[test]
    fn sorting() {
        let msgs = vec![
            f(1, 30, "b", "1", &[]),
            f(2, 10, "a", "2", &[]),
            f(3, 20, "a", "3", &[]),
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
    fn threading() {
        let msgs = vec![
            f(1, 10, "topic", "a", &[]),
            f(2, 20, "Re: topic", "b", &["a"]),
            f(3, 30, "Re: topic", "c", &["a"]),
            f(4, 40, "other", "d", &[]),
            f(5, 50, "Re: topic", "e", &["a", "b"]),
        ];
        assert_eq!(render(&references(msgs.clone())), "(1 (2 5)(3))(4)");
        assert_eq!(render(&ordered_subject(msgs)), "(1 (2)(3)(5))(4)");
    }
}
