//! The LIST matcher agrees with a plain backtracking matcher on small inputs and stays cheap on
//! large ones (libFuzzer's -timeout catches a slow one).
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::imap::pattern::Pattern;

fn plain(p: &[char], n: &[char], budget: &mut u32) -> Option<bool> {
    *budget = budget.checked_sub(1)?;
    Some(match p.first() {
        None => n.is_empty(),
        Some('*') => {
            for i in 0..=n.len() {
                if plain(&p[1..], &n[i..], budget)? {
                    return Some(true);
                }
            }
            false
        }
        Some('%') => {
            for i in 0..=n.len() {
                if i > 0 && n[i - 1] == '/' {
                    break;
                }
                if plain(&p[1..], &n[i..], budget)? {
                    return Some(true);
                }
            }
            false
        }
        Some(&c) => n.first() == Some(&c) && plain(&p[1..], &n[1..], budget)?,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, name) = text.split_once('\n').unwrap_or((text, "INBOX"));
    let Ok(p) = Pattern::new(pattern) else { return };
    let got = p.matches(name);
    // INBOX's case rule aside, the plain matcher is the reference when it finishes in time.
    if !name.starts_with("INBOX") {
        let pc: Vec<char> = pattern.chars().collect();
        let nc: Vec<char> = name.chars().collect();
        if let Some(want) = plain(&pc, &nc, &mut 100_000) {
            assert_eq!(got, want, "{pattern:?} {name:?}");
        }
    }
});
