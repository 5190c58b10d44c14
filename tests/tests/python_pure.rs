//! The Python package's pure reader and Secure-Python-Link compat module
//! (`otp-py/tests/test_pure.py`, `otp-py/tests/test_compat.py`), run under
//! `cargo test --workspace` against this build's `otp-link`.
//!
//! The Python tests are `unittest` cases: they run under pytest where it is
//! installed and under `python3 -m unittest` where it is not, so a fresh
//! machine needs nothing but Python 3. Without `python3` the test says so
//! and passes, except under `CI=true`, where it fails.

use std::env;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether CI=... asks for the test to be mandatory.
fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn python_pure_reader_and_compat_tests_pass() {
    let python = env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !runs(
        &python,
        &["-c", "import sys; assert sys.version_info >= (3, 8)"],
    ) {
        let message = format!("no Python 3.8 or later as '{python}'");
        assert!(!in_ci(), "{message}; CI must install python3");
        eprintln!("\n!! tests/tests/python_pure.rs DID NOT RUN: {message} (set PYTHON).\n");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tests = repo.join("otp-py/tests");
    let files = ["test_pure.py", "test_compat.py"];
    let mut command = Command::new(&python);
    if runs(&python, &["-m", "pytest", "--version"]) {
        command.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"]);
    } else {
        eprintln!("pytest is not installed: running the Python tests with unittest");
        command.args(["-m", "unittest"]);
    }
    let status = command
        .args(files)
        .current_dir(&tests)
        .env("PYTHONPATH", repo.join("otp-py/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OTP_LINK_BIN", otp_link_tests::otp_link_bin())
        .status()
        .expect("running the Python tests");
    assert!(status.success(), "the Python tests failed: {status}");
}
