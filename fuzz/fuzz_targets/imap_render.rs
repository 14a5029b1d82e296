//! Any bytes as a stored message: FETCH renders ENVELOPE, BODYSTRUCTURE, BODY, every section
//! and BINARY part without a panic, and the response is one well-formed FETCH line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roost_core::imap::command::{FetchItem, Section, SectionKind};
use roost_core::imap::fetch;
use roost_core::store::BlobId;
use roost_core::store::messages::Meta;

fuzz_target!(|data: &[u8]| {
    let meta = Meta {
        uid: 1,
        modseq: 1,
        flags: 0,
        keywords: String::new(),
        size: data.len() as u64,
        internal_date: 0,
        blob: BlobId(String::new()),
    };
    let section = |part: Vec<u32>, kind| FetchItem::Section {
        peek: true,
        section: Section { part, kind },
        partial: Some((1, 100)),
    };
    let items = vec![
        FetchItem::Envelope,
        FetchItem::BodyStructure,
        FetchItem::Body,
        FetchItem::Rfc822Header,
        section(vec![], SectionKind::Text),
        section(vec![1], SectionKind::Mime),
        section(vec![2, 1], SectionKind::Full),
        section(vec![1], SectionKind::Header),
        section(vec![], SectionKind::HeaderFields(vec!["SUBJECT".into(), "FROM".into()])),
        FetchItem::Binary { peek: true, part: vec![1], partial: None },
        FetchItem::BinarySize(vec![2]),
    ];
    for utf8 in [false, true] {
        let opts = fetch::Options { utf8, recent: false };
        let out = fetch::response(1, &meta, &items, Some(data), &opts);
        assert!(out.starts_with(b"* 1 FETCH (") && out.ends_with(b")\r\n"));
    }
});
