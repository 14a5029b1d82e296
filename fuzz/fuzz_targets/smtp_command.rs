//! Any line a client can send parses to a command or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let _ = roost_core::smtp::command::parse(line);
});
