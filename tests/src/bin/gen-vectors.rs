//! Writes spec/vectors/*.json from the seeded generator in the library.
//!
//! Usage: `cargo run -p otp-link-tests --bin gen-vectors [DIR]` (default
//! `spec/vectors` relative to the workspace root).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors"));
    std::fs::create_dir_all(&dir)?;
    for (name, vector) in otp_link_tests::generate() {
        std::fs::write(
            dir.join(format!("{name}.json")),
            otp_link_tests::to_file_text(&vector),
        )?;
    }
    Ok(())
}
