//! LIST patterns (RFC 3501 6.3.8): `*` matches anything, `%` anything but the hierarchy
//! delimiter, and the INBOX part of a name matches without regard to case.
//!
//! A pattern is run as a set of positions reached so far (a bit per pattern position), one
//! step per character of the name: time is the name's length times the pattern's length in
//! 64-bit words, whatever the wildcards. A backtracking matcher is exponential in the number
//! of wildcards, which one LIST command chooses.

use crate::store::mailboxes::DELIMITER;
use std::collections::HashMap;

/// Longer patterns are refused: no mailbox name is longer than 512 bytes.
pub const MAX_PATTERN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Char(char),
    Star,
    Percent,
}

pub struct Pattern {
    /// Items after merging adjacent wildcards; a full match reaches position `len`.
    len: usize,
    words: usize,
    /// Positions holding `*`, and those holding `%`.
    star: Vec<u64>,
    percent: Vec<u64>,
    /// For each character of the pattern, the positions that hold it.
    chars: HashMap<char, Vec<u64>>,
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern, &'static str> {
        if pattern.len() > MAX_PATTERN {
            return Err("LIST pattern too long");
        }
        let mut items: Vec<Item> = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            let item = match c {
                '*' => Item::Star,
                '%' => Item::Percent,
                c => Item::Char(c),
            };
            // Adjacent wildcards mean the widest of them.
            match (items.last_mut(), item) {
                (Some(last @ (Item::Star | Item::Percent)), Item::Star) => *last = Item::Star,
                (Some(Item::Star | Item::Percent), Item::Percent) => {}
                _ => items.push(item),
            }
        }
        let words = (items.len() + 1).div_ceil(64);
        let mut star = vec![0u64; words];
        let mut percent = vec![0u64; words];
        let mut chars: HashMap<char, Vec<u64>> = HashMap::new();
        for (i, it) in items.iter().enumerate() {
            let set = match it {
                Item::Star => &mut star,
                Item::Percent => &mut percent,
                Item::Char(c) => chars.entry(*c).or_insert_with(|| vec![0u64; words]),
            };
            set[i / 64] |= 1 << (i % 64);
        }
        Ok(Pattern {
            len: items.len(),
            words,
            star,
            percent,
            chars,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        let inbox_ci = if name == "INBOX" || name.starts_with("INBOX/") {
            5
        } else {
            0
        };
        let mut cur = vec![0u64; self.words];
        cur[0] = 1;
        self.close(&mut cur);
        let mut next = vec![0u64; self.words];
        for (i, c) in name.chars().enumerate() {
            next.iter_mut().for_each(|w| *w = 0);
            for w in 0..self.words {
                // A wildcard stays where it is ('%' only off the delimiter).
                next[w] |= cur[w] & self.star[w];
                if c != DELIMITER {
                    next[w] |= cur[w] & self.percent[w];
                }
            }
            // Literal characters move one position on.
            self.advance(&mut next, &cur, c);
            if i < inbox_ci {
                for other in [c.to_ascii_lowercase(), c.to_ascii_uppercase()] {
                    if other != c {
                        self.advance(&mut next, &cur, other);
                    }
                }
            }
            self.close(&mut next);
            std::mem::swap(&mut cur, &mut next);
            if cur.iter().all(|&w| w == 0) {
                return false;
            }
        }
        cur[self.len / 64] & (1 << (self.len % 64)) != 0
    }

    /// Positions in `cur` holding `c` reach the next position in `next`.
    fn advance(&self, next: &mut [u64], cur: &[u64], c: char) {
        let Some(mask) = self.chars.get(&c) else {
            return;
        };
        let mut carry = 0;
        for w in 0..self.words {
            let m = cur[w] & mask[w];
            next[w] |= (m << 1) | carry;
            carry = m >> 63;
        }
    }

    /// A wildcard may match nothing: reaching its position also reaches the next one.
    /// (Wildcards are never adjacent, so one step is enough.)
    fn close(&self, set: &mut [u64]) {
        for w in (0..self.words).rev() {
            let wild = set[w] & (self.star[w] | self.percent[w]);
            set[w] |= wild << 1;
            if w + 1 < self.words {
                set[w + 1] |= wild >> 63;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn glob(p: &str, n: &str) -> bool {
        Pattern::new(p).unwrap().matches(n)
    }

    #[test]
    fn list_wildcards() {
        assert!(glob("*", "INBOX"));
        assert!(glob("*", "Archive/2024"));
        assert!(glob("%", "Sent"));
        assert!(!glob("%", "Archive/2024"));
        assert!(glob("Archive/%", "Archive/2024"));
        assert!(glob("inbox", "INBOX"));
        assert!(glob("inbox/%", "INBOX/x"));
        assert!(!glob("inbox/X", "INBOX/x"), "only INBOX ignores case");
        assert!(!glob("sent", "Sent"));
        assert!(glob("A*4", "Archive/2024"));
        assert!(glob("%/%", "a/b") && !glob("%/%", "a/b/c") && glob("*/%", "a/b/c"));
        assert!(glob("", "") && !glob("", "x"));
        assert!(glob("a%*b", "a/x/b") && glob("a*%b", "a/x/b"));
    }

    #[test]
    fn pathological_patterns_stay_cheap() {
        // Exponential for a backtracking matcher: the second freeze in the issue.
        let name = "a".repeat(45);
        assert!(!glob("*a*a*a*a*a*a*a*a*b", &name));
        let long = format!("{}b", "*a".repeat(500));
        let p = Pattern::new(&long).unwrap();
        assert!(!p.matches(&"a".repeat(512)));
        assert!(Pattern::new(&"*".repeat(2000)).is_err());
    }

    #[test]
    fn agrees_with_a_plain_matcher() {
        fn plain(p: &[char], n: &[char]) -> bool {
            match p.first() {
                None => n.is_empty(),
                Some('*') => (0..=n.len()).any(|i| plain(&p[1..], &n[i..])),
                Some('%') => (0..=n.len())
                    .take_while(|&i| i == 0 || n[i - 1] != '/')
                    .any(|i| plain(&p[1..], &n[i..])),
                Some(&c) => n.first() == Some(&c) && plain(&p[1..], &n[1..]),
            }
        }
        let alphabet = ['a', 'b', '/', '*', '%'];
        let mut seed = 7u64;
        for _ in 0..20_000 {
            let mut word = |len: u64, wild: bool| -> String {
                (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        alphabet[((seed >> 33) % if wild { 5 } else { 3 }) as usize]
                    })
                    .collect()
            };
            let p = word(6, true);
            let n = word(7, false);
            let pc: Vec<char> = p.chars().collect();
            let nc: Vec<char> = n.chars().collect();
            assert_eq!(glob(&p, &n), plain(&pc, &nc), "{p:?} {n:?}");
        }
    }
}
