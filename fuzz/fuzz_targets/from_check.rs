//! The From: check before DKIM signing, on any header block: the mailboxes found are those of
//! the one From: field, the signing domain is theirs when they share one, and address lists of
//! any shape parse in one pass.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::outbound::dkim::from_domain;
use roost_core::rfc5322::{self, FromProblem};

fuzz_target!(|header: &[u8]| {
    let froms = rfc5322::field_values(header, "from");
    match rfc5322::from_mailboxes(header) {
        Ok(list) => {
            assert_eq!(froms.len(), 1);
            assert!(!list.is_empty() && list.iter().all(|m| !m.domain.is_empty()));
            if let Some(d) = from_domain(header) {
                assert!(list.iter().all(|m| m.domain.trim_end_matches('.').eq_ignore_ascii_case(&d)));
            }
        }
        Err(FromProblem::Missing) => assert!(froms.is_empty() && from_domain(header).is_none()),
        Err(FromProblem::Several) => assert!(froms.len() > 1 && from_domain(header).is_none()),
        Err(FromProblem::NoAddress) => assert!(from_domain(header).is_none()),
    }
    if let Ok(text) = std::str::from_utf8(header) {
        let _ = rfc5322::address_list(text);
        let _ = rfc5322::message_ids(text, 256);
    }
});
