//! Any bytes a client can send as an IMAP command, with literals cut at arbitrary places,
//! tokenize and parse to a command or a reasoned error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::imap::command;
use roost_core::imap::token::{Segment, tokenize};

fuzz_target!(|data: &[u8]| {
    // Split at 0xFF bytes: even pieces are text, odd pieces literals, as the reader builds them.
    let segments: Vec<Segment> = data
        .split(|&b| b == 0xff)
        .enumerate()
        .map(|(i, p)| if i % 2 == 0 { Segment::Text(p.to_vec()) } else { Segment::Literal(p.to_vec()) })
        .collect();
    if let Ok(toks) = tokenize(&segments) {
        let _ = command::parse(toks);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = roost_core::imap::mutf7::decode(text);
        let _ = roost_core::imap::date::parse_date_time(text);
        let _ = roost_core::imap::date::parse_rfc5322(text);
    }
    let _ = roost_core::imap::mime::parse(data);
});
