//! Whatever a remote server answers, the client's reply parser returns a reply, "need more" or
//! a reason, never a panic; a reply never claims more bytes than it was given.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::smtp::client::{Extensions, parse_reply};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((reply, used))) = parse_reply(data) {
        assert!(used <= data.len());
        assert!((200..600).contains(&reply.code));
        let _ = Extensions::from_ehlo(&reply);
    }
});
