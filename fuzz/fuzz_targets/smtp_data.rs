//! The DATA receiver gives the same answer however the bytes are split across reads, never
//! reports using more bytes than it was given, and never emits more than its limit; BDAT's
//! canonicalizer agrees with itself however the chunks are cut.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::smtp::data::{Canonicalizer, DataReceiver, Defect, canonicalize};

type Outcome = (usize, bool, Result<Vec<u8>, Defect>);

fn whole(input: &[u8], max: usize) -> Outcome {
    let mut r = DataReceiver::new(max);
    let mut out = Vec::new();
    let (used, done) = r.feed(input, &mut out);
    (used, done, r.finish().map(|()| out))
}

fn split(input: &[u8], max: usize, step: usize) -> Outcome {
    let mut r = DataReceiver::new(max);
    let mut out = Vec::new();
    let mut used = 0;
    let mut done = false;
    for chunk in input.chunks(step) {
        let (u, d) = r.feed(chunk, &mut out);
        assert!(u <= chunk.len());
        used += u;
        if d {
            done = true;
            break;
        }
    }
    (used, done, r.finish().map(|()| out))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = 16 + data[0] as usize * 4;
    let step = 1 + data[1] as usize % 7;
    let input = &data[2..];
    let a = whole(input, max);
    let b = split(input, max, step);
    assert_eq!(a, b);
    assert!(a.0 <= input.len());
    if let Ok(body) = &a.2 {
        assert!(body.len() <= max);
    }
    let once = canonicalize(input);
    let mut c = Canonicalizer::default();
    let mut out = Vec::new();
    for chunk in input.chunks(step) {
        c.feed(chunk, &mut out);
    }
    assert_eq!(once, c.finish().map(|()| out));
});
