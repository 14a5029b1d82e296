//! Any bytes as an admin request (what `roost admin`, the C ABI and the control panel's CGI
//! pass on): a request or a reasoned error, and a request prints back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::admin::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<Request>(data) {
        let text = serde_json::to_string(&req).expect("a request serialises");
        let again: Request = serde_json::from_str(&text).expect("and parses again");
        assert_eq!(serde_json::to_string(&again).unwrap(), text);
    }
});
