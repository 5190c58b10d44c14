//! The committed header, `include/otp_link.h`, is what cbindgen makes of
//! `src/lib.rs` today, so that C, Java and .NET callers never read a stale
//! contract.

use std::path::Path;

#[test]
fn the_committed_header_is_what_cbindgen_generates() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("reading otp-ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen could not read otp-ffi/src/lib.rs");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let header = crate_dir.join("include/otp_link.h");
    if std::env::var_os("OTP_LINK_BLESS_HEADER").is_some_and(|v| v == "1") {
        std::fs::write(&header, &generated).expect("writing include/otp_link.h");
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    assert!(
        committed == generated,
        "otp-ffi/include/otp_link.h is not what cbindgen generates from src/lib.rs; \
         regenerate it with OTP_LINK_BLESS_HEADER=1 cargo test -p otp-ffi --test header, \
         read the diff and commit it"
    );
}
