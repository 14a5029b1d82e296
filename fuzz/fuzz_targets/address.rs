//! Address and domain parsing on arbitrary text: an address or a reasoned error, and a parsed
//! address prints back to something that parses to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::directory::Address;

fuzz_target!(|text: &str| {
    if let Ok(a) = Address::parse(text) {
        let again = Address::parse(&a.to_string()).expect("a printed address parses");
        assert_eq!(a, again);
    }
});
