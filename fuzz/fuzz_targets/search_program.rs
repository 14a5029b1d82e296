//! A SEARCH program and a message, both arbitrary: the program parses or is refused, runs
//! against the message without a panic, and for every BODY/TEXT string the index's phrase
//! agrees with a plain substring search (exactly when it says it is exact, as a superset
//! otherwise).
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::imap::command::{self, Cmd, SearchKey};
use roost_core::imap::search::{Ctx, extract_for, matches};
use roost_core::imap::token::{Segment, tokenize};
use roost_core::search::extract::fold;
use roost_core::search::terms::{complete, needle_phrase, phrase_in, tokens};
use roost_core::store::BlobId;
use roost_core::store::messages::Meta;

fn strings(k: &SearchKey, out: &mut Vec<String>) {
    match k {
        SearchKey::Body(s) | SearchKey::Text(s) => out.push(s.clone()),
        SearchKey::And(ks) => ks.iter().for_each(|k| strings(k, out)),
        SearchKey::Or(a, b) => {
            strings(a, out);
            strings(b, out)
        }
        SearchKey::Not(a) => strings(a, out),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let (program, message) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let mut line = b"a SEARCH ".to_vec();
    line.extend_from_slice(program);
    let Ok(toks) = tokenize(&[Segment::Text(line)]) else { return };
    let (_, Ok(Cmd::Search { key, .. })) = command::parse(toks) else { return };
    let meta = Meta {
        uid: 3,
        modseq: 2,
        flags: 1,
        keywords: "$x".into(),
        size: message.len() as u64,
        internal_date: 1_700_000_000,
        blob: BlobId(String::new()),
    };
    let extracted = extract_for(&key, Some(message));
    let ctx = Ctx {
        meta: &meta,
        seq: 1,
        max_seq: 5,
        max_uid: 9,
        recent: true,
        message: Some(message),
        extracted: extracted.as_ref(),
    };
    let _ = matches(&key, &ctx);
    let mut needles = Vec::new();
    strings(&key, &mut needles);
    let text = fold(&String::from_utf8_lossy(message));
    if !complete(&text) {
        return;
    }
    for cjk in [false, true] {
        let (toks, _) = tokens(&text, cjk);
        for needle in &needles {
            let Some(phrase) = needle_phrase(needle, cjk) else { continue };
            let contains = text.contains(&fold(needle));
            let found = phrase_in(&toks, &phrase);
            if phrase.exact {
                assert_eq!(found, contains, "{needle:?} in {text:?}");
            } else if contains {
                assert!(found, "superset: {needle:?} in {text:?}");
            }
        }
    }
});
