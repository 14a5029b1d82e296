//! SASL PLAIN from raw bytes (base64-encoded here so every byte pattern reaches the decoder):
//! credentials come back only for a well-formed "authzid NUL login NUL password" whose
//! authzid is empty or the login itself.
#![no_main]
use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    match roost_core::net::sasl::decode_plain(&b64) {
        Ok(c) => {
            let parts: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
            assert_eq!(parts.len(), 3);
            assert_eq!(parts[1], c.login.as_bytes());
            assert_eq!(parts[2], c.password.as_bytes());
            assert!(parts[0].is_empty() || parts[0] == parts[1]);
        }
        Err(_) => {}
    }
});
