//! The committed header is what cbindgen makes from the code: a change to the ABI that forgets
//! the header fails here. ROOST_UPDATE_HEADER=1 rewrites the committed file instead.

#[test]
fn committed_header_is_current() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/roost.h"));
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/roost.h");
    if std::env::var_os("ROOST_UPDATE_HEADER").is_some() {
        std::fs::write(committed_path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "ffi/include/roost.h is stale: run ROOST_UPDATE_HEADER=1 cargo test -p roost-ffi --test header"
    );
}
