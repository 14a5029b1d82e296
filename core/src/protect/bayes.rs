//! The built-in Bayesian classifier's arithmetic: a message into tokens (words of the subject
//! and text, CJK character pairs, the author, link hosts), and token counts into a spam
//! probability (Robinson's per-token estimate, combined by Fisher's chi-square method, as
//! SpamBayes and SpamAssassin do). Counts live per account in store::bayes.

pub use crate::store::bayes::Totals;
use mail_parser::{MessageParser, MimeHeaders};

/// Tokens read from one message at most: a long message says nothing more after these.
pub const MAX_TOKENS: usize = 1500;
/// Text read from one message at most.
const MAX_TEXT: usize = 64 * 1024;
/// Tokens the verdict is made of: the most telling ones.
const MAX_CLUES: usize = 150;

/// A token as stored: a 64-bit FNV-1a hash (stable across versions, unlike std's hasher).
pub fn hash(text: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// Words of 3 to 24 letters or digits, lowercased, with `prefix`; runs of CJK characters as
/// overlapping pairs (they have no spaces between words).
fn words(text: &str, prefix: &str, out: &mut Vec<String>) {
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    let flush = |word: &mut String, out: &mut Vec<String>| {
        let n = word.chars().count();
        if (3..=24).contains(&n) {
            out.push(format!("{prefix}{word}"));
        }
        word.clear();
    };
    for c in text.chars() {
        if out.len() >= MAX_TOKENS * 4 {
            break;
        }
        if is_cjk(c) {
            flush(&mut word, out);
            if let Some(p) = prev_cjk {
                out.push(format!("{prefix}{p}{c}"));
            }
            prev_cjk = Some(c);
            continue;
        }
        prev_cjk = None;
        if c.is_alphanumeric() || c == '\'' || c == '$' || c == '€' {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, out);
        }
    }
    flush(&mut word, out);
}

/// Hosts of the links in the text ("u:example.com").
fn link_hosts(text: &str, out: &mut Vec<String>) {
    for (i, _) in text.match_indices("://").take(200) {
        // The scheme is the run of ASCII letters before "://" (a char boundary either way).
        let before = &text[..i];
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if !matches!(&before[before.len() - scheme_len..], "http" | "https") {
            continue;
        }
        let host: String = text[i + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .take(100)
            .collect();
        if !host.is_empty() {
            out.push(format!("u:{}", host.to_ascii_lowercase()));
        }
    }
}

/// The message's tokens, each once, at most MAX_TOKENS.
pub fn tokens(message: &[u8]) -> Vec<i64> {
    let mut out: Vec<String> = Vec::new();
    if let Some(msg) = MessageParser::default().parse(message) {
        if let Some(s) = msg.subject() {
            words(s, "s:", &mut out);
        }
        if let Some(from) = msg.from().and_then(|f| f.first())
            && let Some(addr) = from.address()
        {
            let addr = addr.to_ascii_lowercase();
            if let Some((_, domain)) = addr.rsplit_once('@') {
                out.push(format!("fd:{domain}"));
            }
            out.push(format!("f:{addr}"));
        }
        let mut text = String::new();
        for i in 0..4 {
            match msg.body_text(i) {
                Some(t) if text.len() < MAX_TEXT => text.push_str(&t),
                _ => break,
            }
            text.push('\n');
        }
        let mut cut = text.len().min(MAX_TEXT);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        link_hosts(&text, &mut out);
        words(&text, "", &mut out);
        for part in msg.attachments().take(20) {
            if let Some(ct) = part.content_type() {
                out.push(format!(
                    "a:{}/{}",
                    ct.ctype(),
                    ct.subtype().unwrap_or_default()
                ));
            }
        }
    }
    let mut hashes: Vec<i64> = out.iter().map(|t| hash(t)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes.truncate(MAX_TOKENS);
    hashes
}

/// The spam probability (0 = ham, 1 = spam) from each token's (spam, ham) counts.
pub fn probability(totals: Totals, counts: &[(u64, u64)]) -> f64 {
    let (ns, nh) = (totals.spam.max(1) as f64, totals.ham.max(1) as f64);
    // Robinson's f(w): the token's spamminess pulled toward 0.5 by how little it was seen.
    const S: f64 = 0.45;
    const X: f64 = 0.5;
    let mut clues: Vec<f64> = counts
        .iter()
        .filter(|(s, h)| s + h > 0)
        .map(|&(s, h)| {
            let ps = (s as f64 / ns).min(1.0);
            let ph = (h as f64 / nh).min(1.0);
            let p = ps / (ps + ph);
            let n = (s + h) as f64;
            ((S * X + n * p) / (S + n)).clamp(0.001, 0.999)
        })
        .filter(|f| (f - 0.5).abs() > 0.1)
        .collect();
    if clues.is_empty() {
        return 0.5;
    }
    clues.sort_by(|a, b| {
        (b - 0.5)
            .abs()
            .partial_cmp(&(a - 0.5).abs())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    clues.truncate(MAX_CLUES);
    let n = clues.len();
    let ln_ham: f64 = clues.iter().map(|f| f.ln()).sum();
    let ln_spam: f64 = clues.iter().map(|f| (1.0 - f).ln()).sum();
    let h = chi2_q(-2.0 * ln_ham, 2 * n);
    let s = chi2_q(-2.0 * ln_spam, 2 * n);
    ((1.0 + h - s) / 2.0).clamp(0.0, 1.0)
}

/// P(chi² with `v` degrees of freedom ≥ x2), v even: a sum of at most MAX_CLUES terms.
fn chi2_q(x2: f64, v: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..v / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_words_cjk_pairs_author_and_links() {
        let m = b"From: Amy <Amy@Example.COM>\r\nSubject: Cheap pills\r\n\r\n\
                  Visit https://pills.example/buy now. \xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\r\n";
        let t = tokens(m);
        for want in [
            "s:cheap",
            "s:pills",
            "f:amy@example.com",
            "fd:example.com",
            "u:pills.example",
            "visit",
            "中文",
            "文字",
        ] {
            assert!(t.contains(&hash(want)), "{want}");
        }
        // Too short a word is no token.
        assert!(!t.contains(&hash("by")));
        // A link right after a non-ASCII character.
        let cjk = "Subject: x\r\n\r\n网址：https://shop.example/ «http://b.example»\r\n";
        let t = tokens(cjk.as_bytes());
        assert!(t.contains(&hash("u:shop.example")) && t.contains(&hash("u:b.example")));
        assert!(tokens(b"").is_empty());
    }

    #[test]
    fn tokens_are_bounded_whatever_the_message() {
        let mut m = b"Subject: x\r\n\r\n".to_vec();
        for i in 0..100_000 {
            m.extend_from_slice(format!("word{i} ").as_bytes());
        }
        assert!(tokens(&m).len() <= MAX_TOKENS);
    }

    #[test]
    fn probability_follows_the_counts() {
        let totals = Totals { spam: 20, ham: 20 };
        let spammy = vec![(18, 0); 10];
        let hammy = vec![(0, 18); 10];
        assert!(probability(totals, &spammy) > 0.95);
        assert!(probability(totals, &hammy) < 0.05);
        assert_eq!(probability(totals, &[]), 0.5);
        // Unseen tokens are no evidence.
        assert_eq!(probability(totals, &[(0, 0), (1, 1)]), 0.5);
    }
}
