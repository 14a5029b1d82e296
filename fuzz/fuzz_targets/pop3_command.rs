//! Any line a POP3 client can send parses to a command or a reason, never a panic; SASL
//! responses decode to credentials or a reason.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let _ = roost_core::pop3::command::parse(line);
    if let Ok(text) = std::str::from_utf8(line) {
        if let Ok(c) = roost_core::net::sasl::decode_plain(text) {
            assert!(!c.login.is_empty());
        }
        let _ = roost_core::net::sasl::decode_text(text);
    }
});
