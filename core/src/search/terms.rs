//! Index terms and query constraints that keep IMAP's substring semantics: the index holds
//! whole words (letters and digits) and, for accounts with CJK indexing, every pair of adjacent
//! CJK characters. A needle becomes constraints that every message containing it satisfies
//! (a word in the middle of the needle is a whole word of the message; the needle's first word
//! ends one of its words, the last begins one; CJK text contributes its pairs), so the index
//! only narrows the candidates and never loses a match.

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

/// Words longer than this (base64 noise, long tokens) are not indexed. A message that has one
/// is marked incomplete and always scanned, since a needle inside such a word would otherwise
/// be missed.
pub const MAX_WORD: usize = 64;

/// The terms of already folded text, each once, and whether they are complete (no word was
/// too long to index).
pub fn index_terms(folded: &str, cjk: bool) -> (Vec<String>, bool) {
    let mut set = std::collections::HashSet::new();
    let mut complete = true;
    for (k, run) in runs(folded) {
        match k {
            Kind::Word if run.chars().count() > MAX_WORD => complete = false,
            Kind::Word => {
                set.insert(run.to_string());
            }
            Kind::Cjk if cjk => {
                let chars: Vec<char> = run.chars().collect();
                if chars.len() == 1 {
                    set.insert(run.to_string());
                }
                for w in chars.windows(2) {
                    set.insert(w.iter().collect::<String>());
                }
            }
            _ => {}
        }
    }
    (set.into_iter().collect(), complete)
}

/// One condition on the index's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// This exact term.
    Term(String),
    /// A term matching this pattern (regex over the term dictionary).
    Pattern(String),
}

/// The constraints a message containing `needle` satisfies; None when the needle gives none
/// worth asking (too short, or CJK text for an account without CJK indexing): then scan.
pub fn needle_constraints(needle: &str, cjk: bool) -> Option<Vec<Constraint>> {
    let folded = super::extract::fold(needle);
    let parts = runs(&folded);
    let last = parts.len().saturating_sub(1);
    let mut out = Vec::new();
    for (i, (k, run)) in parts.iter().enumerate() {
        let len = run.chars().count();
        match k {
            Kind::Sep => {}
            Kind::Word => {
                let (first, end) = (i == 0, i == last);
                if len > MAX_WORD {
                    return None;
                }
                match (first, end) {
                    (false, false) => out.push(Constraint::Term(run.to_string())),
                    // At an edge the needle may hold only part of a word: a short part says
                    // too little to be worth a dictionary walk.
                    _ if len < 3 => {}
                    (true, true) => out.push(Constraint::Pattern(format!(".*{run}.*"))),
                    (true, false) => out.push(Constraint::Pattern(format!(".*{run}"))),
                    (false, true) => out.push(Constraint::Pattern(format!("{run}.*"))),
                }
            }
            Kind::Cjk => {
                if !cjk {
                    return None;
                }
                let chars: Vec<char> = run.chars().collect();
                if chars.len() == 1 {
                    out.push(Constraint::Pattern(format!(".*{run}.*")));
                }
                for w in chars.windows(2) {
                    out.push(Constraint::Term(w.iter().collect()));
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_of_mixed_text() {
        let (mut t, complete) = index_terms("hello, wörld 42 中文字 x", true);
        assert!(complete);
        t.sort();
        assert_eq!(t, ["42", "hello", "wörld", "x", "中文", "文字"]);
        let (t, _) = index_terms("中文", false);
        assert!(t.is_empty());
        let (_, complete) = index_terms(&"a".repeat(MAX_WORD + 1), false);
        assert!(
            !complete,
            "a word too long to index makes the message always scanned"
        );
    }

    #[test]
    fn needles_keep_substring_semantics() {
        use Constraint::*;
        assert_eq!(
            needle_constraints("lo wo", true),
            None,
            "both edges too short: scan"
        );
        assert_eq!(
            needle_constraints("ello big world", true).unwrap(),
            [
                Pattern(".*ello".into()),
                Term("big".into()),
                Pattern("world.*".into())
            ]
        );
        assert_eq!(
            needle_constraints("Invoice", true).unwrap(),
            [Pattern(".*invoice.*".into())]
        );
        assert_eq!(
            needle_constraints("中文字", true).unwrap(),
            [Term("中文".into()), Term("文字".into())]
        );
        assert_eq!(needle_constraints("中文", false), None);
        assert_eq!(needle_constraints(" , ", true), None);
    }

    /// Every message containing the needle satisfies its constraints, on random text.
    #[test]
    fn constraints_hold_for_every_substring() {
        let text = "Re: the quarterly Report — Überweisung 2026, 会议记录 見積書 회의 notes";
        let folded = crate::search::extract::fold(text);
        let (terms, _) = index_terms(&folded, true);
        let chars: Vec<char> = text.chars().collect();
        for a in 0..chars.len() {
            for b in a + 1..=chars.len() {
                let needle: String = chars[a..b].iter().collect();
                let Some(cs) = needle_constraints(&needle, true) else {
                    continue;
                };
                for c in cs {
                    let ok = match &c {
                        Constraint::Term(t) => terms.contains(t),
                        Constraint::Pattern(p) => {
                            let core = p.trim_start_matches(".*").trim_end_matches(".*");
                            terms
                                .iter()
                                .any(|t| match (p.starts_with(".*"), p.ends_with(".*")) {
                                    (true, true) => t.contains(core),
                                    (true, false) => t.ends_with(core),
                                    (false, true) => t.starts_with(core),
                                    (false, false) => t == core,
                                })
                        }
                    };
                    assert!(ok, "needle {needle:?}: {c:?} not satisfied by {terms:?}");
                }
            }
        }
    }
}
