//! Index tokens and query phrases that keep IMAP's substring semantics exactly.
//!
//! Folded text is cut into runs: words (letters and digits), CJK characters (one token each,
//! for accounts with CJK indexing) and separators. Every run except a single space is a token,
//! and positions encode what lies between tokens: the next token is 2 positions on when nothing
//! or a separator token separates them, 3 positions on when a single space does. No sequence of
//! tokens spans 3 positions, so a phrase query with these offsets matches exactly the texts in
//! which the runs follow each other as in the needle. A needle's first word may be the end of a
//! longer word and its last the start of one (regexes over the dictionary); the words, CJK
//! characters and separators inside it are exact tokens. So a message matches the phrase if and
//! only if its text contains the needle; where a needle cannot be put that way (a separator at
//! its edge, a very short edge word), the phrase is marked inexact and only narrows.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Cjk,
    Sep,
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana extensions
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x1100..=0x11FF    // Hangul Jamo
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x20000..=0x2A6DF) // Han extension B
}

fn kind(c: char) -> Kind {
    if is_cjk(c) {
        Kind::Cjk
    } else if c.is_alphanumeric() {
        Kind::Word
    } else {
        Kind::Sep
    }
}

/// Maximal runs of one kind, in order.
fn runs(folded: &str) -> Vec<(Kind, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut current: Option<Kind> = None;
    for (i, c) in folded.char_indices() {
        let k = kind(c);
        if current != Some(k) {
            if let Some(prev) = current {
                out.push((prev, &folded[start..i]));
            }
            start = i;
            current = Some(k);
        }
    }
    if let Some(k) = current {
        out.push((k, &folded[start..]));
    }
    out
}

/// Words and separators longer than this (base64 noise, ruler lines) are not indexed. A message
/// with a word that long is marked incomplete and always read, since a needle inside such a
/// word would otherwise be missed; a needle with a run this long is answered by reading.
pub const MAX_RUN: usize = 64;

/// Step to the next token when a single space lies between (the common case, so the
/// smaller), and when nothing or a separator token does. No two steps fit in one.
const SPACED: u32 = 2;
const NEXT: u32 = 3;
const SPACE: &str = " ";

/// Stands where text is not indexed (CJK text of an account without CJK indexing, a long
/// separator): mixes a CJK character with a control character, so no query token or pattern
/// can match it, and keeps the positions around it honest.
const HOLE: &str = "中\u{1}";

/// One indexed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub position: u32,
    pub text: String,
}

/// Hands out token positions: the gap to the next token is SPACED after a single space, else
/// NEXT.
struct Positions {
    last: Option<u32>,
    gap: u32,
}

impl Positions {
    fn new() -> Positions {
        Positions { last: None, gap: 0 }
    }

    fn space(&mut self) {
        self.gap = SPACED;
    }

    fn next(&mut self) -> u32 {
        let p = self.last.map_or(0, |l| l + self.gap);
        self.last = Some(p);
        self.gap = NEXT;
        p
    }
}

/// The tokens of folded text with their positions, made as they are asked for (the indexer's
/// tokenizer runs this over every message, so nothing is allocated per token).
pub struct TokenIter<'a> {
    text: &'a str,
    at: usize,
    cjk: bool,
    pos: Positions,
}

impl<'a> TokenIter<'a> {
    pub fn new(folded: &'a str, cjk: bool) -> TokenIter<'a> {
        TokenIter {
            text: folded,
            at: 0,
            cjk,
            pos: Positions::new(),
        }
    }
}

impl<'a> Iterator for TokenIter<'a> {
    type Item = (u32, &'a str);

    fn next(&mut self) -> Option<(u32, &'a str)> {
        loop {
            let rest = &self.text[self.at..];
            let first = rest.chars().next()?;
            let k = kind(first);
            // With CJK indexing every CJK character is a token of its own.
            let len = if k == Kind::Cjk && self.cjk {
                first.len_utf8()
            } else {
                rest.char_indices()
                    .find(|(_, c)| kind(*c) != k)
                    .map_or(rest.len(), |(i, _)| i)
            };
            let run = &rest[..len];
            self.at += len;
            let token = match k {
                Kind::Sep if run == SPACE => {
                    self.pos.space();
                    continue;
                }
                Kind::Cjk if self.cjk => run,
                Kind::Cjk => HOLE,
                _ if run.chars().count() > MAX_RUN => HOLE,
                _ => run,
            };
            return Some((self.pos.next(), token));
        }
    }
}

/// Whether the index holds all of this folded text: no word is too long to index.
pub fn complete(folded: &str) -> bool {
    let mut word = 0;
    for c in folded.chars() {
        if kind(c) == Kind::Word {
            word += 1;
            if word > MAX_RUN {
                return false;
            }
        } else {
            word = 0;
        }
    }
    true
}

/// The tokens of folded text, collected, and whether they are complete.
pub fn tokens(folded: &str, cjk: bool) -> (Vec<Token>, bool) {
    let tokens = TokenIter::new(folded, cjk)
        .map(|(position, text)| Token {
            position,
            text: text.to_string(),
        })
        .collect();
    (tokens, complete(folded))
}

/// What one position of a phrase must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Exact(String),
    /// A token ending with this (the needle begins inside a word).
    Suffix(String),
    /// A token beginning with this (the needle ends inside a word).
    Prefix(String),
    /// A token containing this (the needle lies inside one word).
    Infix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    /// (offset from the first step, what must be there), in order.
    pub steps: Vec<(u32, Step)>,
    /// Messages match the phrase exactly when their text contains the needle; otherwise the
    /// phrase is a superset to be checked against the text.
    pub exact: bool,
}

/// Edge words of a phrase shorter than this are left out of it: they would allow most of the
/// dictionary for little narrowing. (A needle that is one short word is still asked.)
const MIN_EDGE: usize = 3;

/// The phrase a message containing `needle` matches; None when the needle gives nothing worth
/// asking the index (only separators, a run too long to be indexed, or CJK text for an account
/// without CJK indexing): then every message is read.
pub fn needle_phrase(needle: &str, cjk: bool) -> Option<Phrase> {
    let folded = super::extract::fold(needle);
    let mut parts = runs(&folded);
    let mut exact = true;
    // A separator at an edge may be part of a longer separator run in the text.
    if parts.first().is_some_and(|(k, _)| *k == Kind::Sep) {
        parts.remove(0);
        exact = false;
    }
    if parts.last().is_some_and(|(k, _)| *k == Kind::Sep) {
        parts.pop();
        exact = false;
    }
    if parts.is_empty()
        || parts.iter().any(|(k, r)| {
            (*k == Kind::Cjk && !cjk) || (*k != Kind::Cjk && r.chars().count() > MAX_RUN)
        })
    {
        return None;
    }
    let last = parts.len() - 1;
    let mut steps = Vec::new();
    let mut pos = Positions::new();
    for (i, (k, run)) in parts.iter().enumerate() {
        match k {
            Kind::Sep if *run == SPACE => pos.space(),
            Kind::Sep => steps.push((pos.next(), Step::Exact(run.to_string()))),
            Kind::Cjk => {
                for c in run.chars() {
                    steps.push((pos.next(), Step::Exact(c.to_string())));
                }
            }
            Kind::Word => {
                let at = pos.next();
                match (i == 0, i == last) {
                    (false, false) => steps.push((at, Step::Exact(run.to_string()))),
                    (true, true) => steps.push((at, Step::Infix(run.to_string()))),
                    // Left out, but its position still counts.
                    _ if run.chars().count() < MIN_EDGE => exact = false,
                    (true, false) => steps.push((at, Step::Suffix(run.to_string()))),
                    (false, true) => steps.push((at, Step::Prefix(run.to_string()))),
                }
            }
        }
    }
    // Separators alone narrow nothing.
    if !steps
        .iter()
        .any(|(_, s)| !matches!(s, Step::Exact(t) if t.chars().all(|c| kind(c) == Kind::Sep)))
    {
        return None;
    }
    let base = steps.first()?.0;
    for s in &mut steps {
        s.0 -= base;
    }
    Some(Phrase { steps, exact })
}

/// Whether `token` satisfies `step` (what the index's dictionary lookups compute).
pub fn step_matches(step: &Step, token: &str) -> bool {
    match step {
        Step::Exact(s) => token == s,
        Step::Suffix(s) => token.ends_with(s.as_str()),
        Step::Prefix(s) => token.starts_with(s.as_str()),
        Step::Infix(s) => token.contains(s.as_str()),
    }
}

/// Whether the tokens hold the phrase: the reference the index must agree with.
pub fn phrase_in(tokens: &[Token], phrase: &Phrase) -> bool {
    let at: std::collections::HashMap<u32, &str> = tokens
        .iter()
        .map(|t| (t.position, t.text.as_str()))
        .collect();
    tokens.iter().any(|t| {
        phrase.steps.iter().all(|(off, step)| {
            at.get(&(t.position + off))
                .is_some_and(|tok| step_matches(step, tok))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::extract::fold;

    fn texts(tokens: &[Token]) -> Vec<(u32, &str)> {
        tokens
            .iter()
            .map(|t| (t.position, t.text.as_str()))
            .collect()
    }

    #[test]
    fn tokens_encode_what_lies_between() {
        let (t, complete) = tokens("hello, wörld 42 中文x", true);
        assert!(complete);
        assert_eq!(
            texts(&t),
            [
                (0, "hello"),
                (3, ", "),
                (6, "wörld"),
                (8, "42"),
                (10, "中"),
                (13, "文"),
                (16, "x")
            ]
        );
        let (t, _) = tokens("a 中文 b", false);
        assert_eq!(texts(&t), [(0, "a"), (2, HOLE), (4, "b")]);
        let (_, complete) = tokens(&"a".repeat(MAX_RUN + 1), false);
        assert!(
            !complete,
            "a word too long to index makes the message always read"
        );
    }

    #[test]
    fn needles_become_phrases() {
        use Step::*;
        let p = needle_phrase("ello big, world", true).unwrap();
        assert_eq!(
            p.steps,
            [
                (0, Suffix("ello".into())),
                (2, Exact("big".into())),
                (5, Exact(", ".into())),
                (8, Prefix("world".into()))
            ]
        );
        assert!(p.exact);
        let p = needle_phrase("Invoice", true).unwrap();
        assert_eq!(p.steps, [(0, Infix("invoice".into()))]);
        let p = needle_phrase("中文字", true).unwrap();
        assert_eq!(
            p.steps,
            [
                (0, Exact("中".into())),
                (3, Exact("文".into())),
                (6, Exact("字".into()))
            ]
        );
        assert!(p.exact);
        assert_eq!(needle_phrase("中文", false), None);
        assert_eq!(needle_phrase(" , ", true), None);
        let p = needle_phrase("lo big", true).unwrap();
        assert!(!p.exact, "a short edge word is left out");
        assert_eq!(p.steps, [(0, Prefix("big".into()))]);
        assert!(!needle_phrase("word ", true).unwrap().exact);
    }

    /// An exact phrase matches exactly the texts that contain the needle; an inexact one at
    /// least those.
    fn check_needle(needle: &str, cjk: bool, indexed: &[(String, Vec<Token>)]) {
        let Some(p) = needle_phrase(needle, cjk) else {
            return;
        };
        for (text, toks) in indexed {
            let contains = text.contains(&fold(needle));
            let matched = phrase_in(toks, &p);
            assert!(matched || !contains, "{needle:?} lost in {text:?}: {p:?}");
            assert!(
                !p.exact || matched == contains,
                "{needle:?} exact but matched={matched} in {text:?}: {p:?}"
            );
        }
    }

    /// Random texts over a small alphabet (so that needles often almost match) and random
    /// needles cut from other texts: exact phrases agree with `contains`, inexact ones never
    /// lose a match.
    #[test]
    fn random_needles_agree_with_contains() {
        let alphabet: Vec<char> = "ab  ,.\n中文한x-".chars().collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let texts: Vec<String> = (0..200)
            .map(|_| (0..24).map(|_| alphabet[next(alphabet.len())]).collect())
            .collect();
        for cjk in [true, false] {
            let indexed: Vec<(String, Vec<Token>)> = texts
                .iter()
                .map(|t| (fold(t), tokens(&fold(t), cjk).0))
                .collect();
            for _ in 0..3000 {
                let source: Vec<char> = texts[next(texts.len())].chars().collect();
                let a = next(source.len());
                let b = a + 1 + next(source.len() - a);
                let needle: String = source[a..b].iter().collect();
                check_needle(&needle, cjk, &indexed);
            }
        }
    }

    /// Exact phrases match exactly the texts that contain the needle; inexact ones at least
    /// those. Needles are every substring of a mixed-script sample, tried against the sample
    /// and against variants that differ in one separator or character.
    #[test]
    fn phrases_keep_substring_semantics() {
        let sample =
            "Re: the quarterly Report — Überweisung 2026, 会议记录 見積書 회의 notes a.b  c\nend";
        let variants = [
            sample.to_string(),
            sample.replace(" the ", ",the "),
            sample.replace("  ", " "),
            sample.replace("会议记录", "会 议记录"),
            sample.replace("quarterly Report", "quarterly\nReport"),
            sample.replace("2026,", "2026;"),
            sample.replace("見積書", "見積x書"),
        ];
        let chars: Vec<char> = sample.chars().collect();
        for cjk in [true, false] {
            let indexed: Vec<(String, Vec<Token>)> = variants
                .iter()
                .map(|v| (fold(v), tokens(&fold(v), cjk).0))
                .collect();
            for a in 0..chars.len() {
                for b in a + 1..=chars.len() {
                    let needle: String = chars[a..b].iter().collect();
                    check_needle(&needle, cjk, &indexed);
                }
            }
        }
    }
}
