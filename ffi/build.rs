//! Generates the C header from the exported functions into OUT_DIR; a test compares it with the
//! committed ffi/include/roost.h so that the two cannot drift.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = match cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => panic!("ffi/cbindgen.toml: {e}"),
    };
    match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => {
            b.write_to_file(format!("{out}/roost.h"));
        }
        Err(e) => panic!("cbindgen: {e}"),
    }
}
