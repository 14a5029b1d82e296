//! THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES, and the IMAP form of the result. Trees are
//! kept flat (nodes in one vector, children by index) and walked with explicit stacks, so a
//! thread as deep as a sender can make it costs memory in proportion and never stack.

use super::link_cut::Forest;
use super::sort::Facts;
use std::collections::HashMap;

/// Threads: each node a message (or a dummy standing for one that is missing) and its
/// children in order.
#[derive(Debug, Default)]
pub struct Threads {
    nodes: Vec<Node>,
    roots: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Node {
    id: Option<u32>,
    children: Vec<usize>,
}

impl Threads {
    fn add(&mut self, id: Option<u32>, children: Vec<usize>) -> usize {
        self.nodes.push(Node { id, children });
        self.nodes.len() - 1
    }

    /// "(1 (2)(3 4))(5)": a child that is its parent's only one continues its parent's list.
    pub fn render(&self) -> String {
        enum Work {
            Chain(usize, bool),
            Text(&'static str),
        }
        let mut out = String::new();
        let mut work: Vec<Work> = Vec::new();
        for &r in &self.roots {
            work.push(Work::Text(")"));
            work.push(Work::Chain(r, true));
            out.push('(');
            while let Some(w) = work.pop() {
                let (mut n, mut first) = match w {
                    Work::Text(t) => {
                        out.push_str(t);
                        continue;
                    }
                    Work::Chain(n, first) => (n, first),
                };
                loop {
                    let node = &self.nodes[n];
                    if let Some(id) = node.id {
                        if !first {
                            out.push(' ');
                        }
                        out.push_str(&id.to_string());
                        first = false;
                    }
                    match node.children.len() {
                        0 => break,
                        1 => n = node.children[0],
                        _ => {
                            if !first {
                                out.push(' ');
                            }
                            for &c in node.children.iter().rev() {
                                work.push(Work::Text(")"));
                                work.push(Work::Chain(c, true));
                                work.push(Work::Text("("));
                            }
                            break;
                        }
                    }
                }
            }
        }
        out
    }
}

/// ORDEREDSUBJECT: messages grouped by base subject; the first (by date) is the root and the
/// others are its children in date order; threads ordered by their root's date.
pub fn ordered_subject(mut msgs: Vec<Facts>) -> Threads {
    msgs.sort_by(|a, b| {
        a.subject
            .cmp(&b.subject)
            .then(a.date.cmp(&b.date))
            .then(a.seq.cmp(&b.seq))
    });
    let mut t = Threads::default();
    let mut roots: Vec<(i64, u32, usize)> = Vec::new();
    let mut i = 0;
    while i < msgs.len() {
        let mut j = i + 1;
        while j < msgs.len() && msgs[j].subject == msgs[i].subject {
            j += 1;
        }
        let children = msgs[i + 1..j]
            .iter()
            .map(|m| t.add(Some(m.id), Vec::new()))
            .collect();
        let root = t.add(Some(msgs[i].id), children);
        roots.push((msgs[i].date, msgs[i].seq, root));
        i = j;
    }
    roots.sort_unstable();
    t.roots = roots.into_iter().map(|r| r.2).collect();
    t
}

/// The containers of REFERENCES: one per message id seen (a message's own, or named in
/// References), each perhaps holding a message, with its parent link.
struct Containers<'a> {
    by_id: HashMap<&'a str, usize>,
    message: Vec<Option<usize>>,
    parent: Vec<Option<usize>>,
    forest: Forest,
}

impl<'a> Containers<'a> {
    fn add(&mut self) -> usize {
        self.message.push(None);
        self.parent.push(None);
        self.forest.add()
    }

    fn of(&mut self, id: &'a str) -> usize {
        if let Some(&c) = self.by_id.get(id) {
            return c;
        }
        let c = self.add();
        self.by_id.insert(id, c);
        c
    }

    /// Hangs `child` under `p` unless it would close a loop.
    fn link(&mut self, child: usize, p: usize) {
        if self.forest.root(p) != child {
            self.parent[child] = Some(p);
            self.forest.link(child, p);
        }
    }
}

/// REFERENCES, RFC 5256 3 steps 1 to 6.
pub fn references(msgs: Vec<Facts>) -> Threads {
    let mut cs = Containers {
        by_id: HashMap::new(),
        message: Vec::new(),
        parent: Vec::new(),
        forest: Forest::new(),
    };
    // (1) A container per message id; a message without one, or whose id another message
    // holds already, gets a container of its own.
    for (mi, m) in msgs.iter().enumerate() {
        let c = match m.message_id.as_deref() {
            Some(id) => match cs.of(id) {
                c if cs.message[c].is_some() => cs.add(),
                c => c,
            },
            None => cs.add(),
        };
        cs.message[c] = Some(mi);
        // (A) References link parent to child, unless the child has a parent already or the
        // link would close a loop.
        let mut prev: Option<usize> = None;
        for r in &m.refs {
            let rc = cs.of(r);
            if let Some(p) = prev
                && cs.parent[rc].is_none()
            {
                cs.link(rc, p);
            }
            prev = Some(rc);
        }
        // (B) The message goes under its last reference, replacing any parent it had.
        if cs.parent[c].take().is_some() {
            cs.forest.cut(c);
        }
        if let Some(p) = prev {
            cs.link(c, p);
        }
    }
    let Containers {
        mut message,
        parent,
        ..
    } = cs;

    // (2) The root set; children in the order of their containers.
    let n = message.len();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (c, p) in parent.iter().enumerate() {
        match *p {
            Some(p) => kids[p].push(c),
            None => roots.push(c),
        }
    }
    // (4) Dummies pruned bottom-up: a dummy's children take its place among its siblings; at
    // the top a dummy stays only to hold two or more threads together.
    for &c in &post_order(&roots, &kids) {
        let mut list = Vec::with_capacity(kids[c].len());
        for i in 0..kids[c].len() {
            let k = kids[c][i];
            if message[k].is_some() {
                list.push(k);
            } else {
                list.append(&mut kids[k]);
            }
        }
        kids[c] = list;
    }
    let mut top: Vec<usize> = Vec::with_capacity(roots.len());
    for &r in &roots {
        if message[r].is_some() || kids[r].len() > 1 {
            top.push(r);
        } else if let Some(&only) = kids[r].first() {
            top.push(only);
        }
    }

    // (5) Threads whose roots share a base subject are gathered.
    let thread_subject = |c: usize, message: &[Option<usize>], kids: &[Vec<usize>]| {
        let holder = match message[c] {
            Some(_) => c,
            None => *kids[c].first()?,
        };
        let m = &msgs[message[holder]?];
        (!m.subject.is_empty()).then_some((m.subject.as_str(), m.reply))
    };
    let mut table: HashMap<&str, usize> = HashMap::new();
    for &r in &top {
        let Some((subject, reply)) = thread_subject(r, &message, &kids) else {
            continue;
        };
        match table.get(subject) {
            None => {
                table.insert(subject, r);
            }
            Some(&old) if message[old].is_some() => {
                let old_reply = thread_subject(old, &message, &kids).is_some_and(|s| s.1);
                if message[r].is_none() || (old_reply && !reply) {
                    table.insert(subject, r);
                }
            }
            Some(_) => {}
        }
    }
    const GONE: usize = usize::MAX;
    let mut slot: HashMap<usize, usize> = top.iter().enumerate().map(|(i, &r)| (r, i)).collect();
    for i in 0..top.len() {
        let r = top[i];
        if r == GONE {
            continue;
        }
        let Some((subject, reply)) = thread_subject(r, &message, &kids) else {
            continue;
        };
        let Some(&t) = table.get(subject) else {
            continue;
        };
        if t == r {
            continue;
        }
        match (message[t].is_none(), message[r].is_none()) {
            (true, true) => {
                let mut moved = std::mem::take(&mut kids[r]);
                kids[t].append(&mut moved);
            }
            (true, false) => kids[t].push(r),
            _ if reply && thread_subject(t, &message, &kids).is_some_and(|s| !s.1) => {
                kids[t].push(r)
            }
            _ => {
                // Two threads of one subject: a new dummy holds both, in the table's place.
                let d = message.len();
                message.push(None);
                kids.push(vec![t, r]);
                if let Some(pos) = slot.remove(&t) {
                    top[pos] = d;
                    slot.insert(d, pos);
                }
                table.insert(subject, d);
            }
        }
        if let Some(pos) = slot.remove(&r) {
            top[pos] = GONE;
        }
    }
    top.retain(|&r| r != GONE);

    // (6) Siblings in order of date, a dummy by its earliest child; then the flat tree.
    let total = message.len();
    let mut key: Vec<(i64, u32)> = vec![(i64::MAX, u32::MAX); total];
    let order = post_order(&top, &kids);
    for &c in &order {
        let mut children = std::mem::take(&mut kids[c]);
        children.sort_by_key(|&k| key[k]);
        key[c] = match message[c] {
            Some(mi) => (msgs[mi].date, msgs[mi].seq),
            None => children
                .first()
                .map(|&k| key[k])
                .unwrap_or((i64::MAX, u32::MAX)),
        };
        kids[c] = children;
    }
    top.sort_by_key(|&r| key[r]);
    let mut t = Threads::default();
    let mut index = vec![usize::MAX; total];
    for &c in &order {
        let children = kids[c].iter().map(|&k| index[k]).collect();
        index[c] = t.add(message[c].map(|mi| msgs[mi].id), children);
    }
    t.roots = top.iter().map(|&r| index[r]).collect();
    t
}

/// Every node under `roots`, children before their parent; iterative.
fn post_order(roots: &[usize], kids: &[Vec<usize>]) -> Vec<usize> {
    let mut out = Vec::with_capacity(kids.len());
    let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
    while let Some((c, expanded)) = stack.pop() {
        if expanded {
            out.push(c);
            continue;
        }
        stack.push((c, true));
        for &k in kids[c].iter().rev() {
            stack.push((k, false));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sort::test_facts as f;
    use super::*;

    #[test]
    fn threading() {
        let msgs = vec![
            f(1, 10, "topic", "a", &[]),
            f(2, 20, "Re: topic", "b", &["a"]),
            f(3, 30, "Re: topic", "c", &["a"]),
            f(4, 40, "other", "d", &[]),
            f(5, 50, "Re: topic", "e", &["a", "b"]),
        ];
        assert_eq!(references(msgs.clone()).render(), "(1 (2 5)(3))(4)");
        assert_eq!(ordered_subject(msgs).render(), "(1 (2)(3)(5))(4)");
    }

    #[test]
    fn missing_parents_and_subjects() {
        // 2 and 3 answer a message that is not in the mailbox: a dummy holds them.
        let msgs = vec![
            f(1, 10, "alone", "a", &[]),
            f(2, 20, "Re: lost", "b", &["gone"]),
            f(3, 30, "Re: lost", "c", &["gone"]),
        ];
        assert_eq!(references(msgs).render(), "(1)((2)(3))");
        // (5) A reply without References joins the thread of its subject.
        let msgs = vec![
            f(1, 10, "plan", "a", &[]),
            f(2, 20, "Re: plan", "b", &[]),
            f(3, 30, "plan", "c", &[]),
        ];
        assert_eq!(references(msgs).render(), "((1 2)(3))");
    }

    #[test]
    fn loops_and_duplicates_are_harmless() {
        let msgs = vec![
            f(1, 10, "x", "a", &["b"]),
            f(2, 20, "y", "b", &["a"]),
            f(3, 30, "z", "a", &[]),
            f(4, 40, "w", "d", &["d"]),
        ];
        let r = references(msgs).render();
        for id in ["1", "2", "3", "4"] {
            assert!(r.contains(id), "{r}");
        }
    }

    #[test]
    fn a_thread_as_deep_as_the_sender_likes() {
        // Each message names all of its predecessors: one chain 60 000 deep.
        let n = 60_000u32;
        let ids: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let msgs: Vec<Facts> = (0..n)
            .map(|i| {
                let start = (i as usize).saturating_sub(3);
                let refs: Vec<&str> = ids[start..i as usize].iter().map(|s| s.as_str()).collect();
                f(i + 1, i as i64, "deep", &ids[i as usize], &refs)
            })
            .collect();
        let r = references(msgs).render();
        assert!(
            r.starts_with("(1 2 3 ") && r.ends_with(" 60000)"),
            "{}",
            &r[..40]
        );
    }
}
