//! Where the tests find the programs they run: the `otp-link` binary and
//! the examples, built by cargo up to date on first use.
//!
//! They are binaries of other packages (or examples, which get no
//! `CARGO_BIN_EXE_*` variable), so a fresh `cargo test` may not have linked
//! them into the target directory. Each is built with the test's own cargo,
//! target directory and profile (a no-op when it is current, so never
//! stale), and found where that build puts it. One home for this, so that
//! no suite locates a binary by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// target/debug (or target/release): the test executable is in its `deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut profile = exe.parent().expect("test binary directory").to_owned();
    if profile.ends_with("deps") {
        profile.pop();
    }
    profile
}

/// The target directory the tests were built into (`target`, or
/// `CARGO_TARGET_DIR`): where suites keep what they build and cache.
pub fn target_dir() -> PathBuf {
    let profile = profile_dir();
    profile.parent().map_or(profile.clone(), Path::to_owned)
}

/// Runs `cargo build ARGS` for the test's target directory and profile and
/// returns `relative` under the profile directory.
fn built(relative: &str, cargo_args: &[&str]) -> PathBuf {
    let profile = profile_dir();
    let mut build = Command::new(env!("CARGO"));
    build
        .arg("build")
        .arg("--quiet")
        .args(cargo_args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(target_dir) = profile.parent() {
        build.arg("--target-dir").arg(target_dir);
    }
    if profile.file_name() == Some("release".as_ref()) {
        build.arg("--release");
    }
    let status = build.status().expect("cannot run cargo build");
    assert!(status.success(), "cargo build {cargo_args:?} failed");
    let path = profile.join(format!("{relative}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "cargo build did not produce {}",
        path.display()
    );
    path
}

/// The `otp-link` binary.
///
/// `OTP_LINK_TEST_BIN=PATH` runs the tests against that binary instead, built
/// some other way: CI runs the CLI tests so against the static musl release
/// build that README recommends.
pub fn otp_link_bin() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("OTP_LINK_TEST_BIN").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "OTP_LINK_TEST_BIN={} is not a file",
                path.display()
            );
            return path;
        }
        built("otp-link", &["-p", "otp-cli", "--bin", "otp-link"])
    })
}

/// The example `name` of `package`.
pub fn example_bin(package: &str, name: &str) -> PathBuf {
    built(
        &format!("examples/{name}"),
        &["-p", package, "--example", name],
    )
}
