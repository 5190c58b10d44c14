//! The fixed output of the `otp-link` binary as trycmd snapshots: `--help`
//! of every command, `--version`, and each error line with its exit code.
//! Each case checks whole lines: stdout, stderr and the exit status.
//!
//! - `tests/cmd/NAME.toml`: one command; `NAME.stdout` and `NAME.stderr` are
//!   what it prints (an empty file: nothing), `NAME.stdin` what it reads.
//! - `tests/cmd/store.trycmd`: a transcript of commands on the stores of
//!   `store.in/` (stdout and stderr merged); unix only, as it sets the
//!   stores' modes with chmod.
//!
//! Every case runs in a fresh temporary directory (`fs.sandbox = true`, or a
//! `NAME.out/` beside a transcript), and its store is inside it: a `.toml`
//! case sets `OTP_LINK_STORE` to a relative path, or removes it to show the
//! default location (then on a path that does not exist), and the
//! transcript passes `--store`. So no case can touch a store of the machine.
//! (trycmd adds the harness's variables after a case's `env.remove` and over
//! its `env.add`, so the harness cannot set `OTP_LINK_STORE` for all.) Update
//! the snapshots with
//! `TRYCMD=overwrite cargo test -p otp-cli --test cli_snapshots`, then read
//! the diff.
//!
//! `OTP_LINK_TEST_BIN=PATH` runs the cases against that binary instead of
//! the one Cargo built for this test (CI runs them so against the static musl
//! build).

use std::path::{Path, PathBuf};

fn otp_link() -> PathBuf {
    match std::env::var_os("OTP_LINK_TEST_BIN").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_otp-link")),
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd")
}

#[test]
fn cli_snapshots() {
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("otp-link", otp_link())
        // clap wraps help to the terminal's width, at most 100
        // (max_term_width). trycmd's pipes are no terminal, so clap takes
        // COLUMNS: pin it, whatever the shell running the tests exports.
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "0")
        .case("tests/cmd/*.toml");
    #[cfg(unix)]
    cases
        .register_bin("chmod", chmod())
        .case("tests/cmd/*.trycmd");
    cases.run();
}

#[cfg(unix)]
fn chmod() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chmod"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/bin/chmod"))
}

fn case_files(extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// No case may write outside a temporary directory: a `.toml` case without
/// `fs.sandbox = true` would run in `tests/cmd/` itself, one without
/// `OTP_LINK_STORE` would use the store of whoever runs the tests, and a
/// transcript without its `.out/` directory would run in its `.in/`.
#[test]
fn every_case_runs_in_a_sandbox() {
    let tomls = case_files("toml");
    assert!(tomls.len() > 40, "{} cases", tomls.len());
    for case in tomls {
        let text = std::fs::read_to_string(&case).unwrap();
        assert!(
            text.lines().any(|l| l.trim() == "fs.sandbox = true"),
            "{} lacks fs.sandbox = true",
            case.display()
        );
        assert!(
            text.contains("env.add.OTP_LINK_STORE = \"state/store.cbor\"")
                || text.contains("env.remove = [\"OTP_LINK_STORE\""),
            "{} neither sets OTP_LINK_STORE inside its sandbox nor removes it",
            case.display()
        );
        for stream in ["stdout", "stderr"] {
            assert!(
                case.with_extension(stream).is_file(),
                "{} has no .{stream}: it would go unchecked",
                case.display()
            );
        }
    }
    for transcript in case_files("trycmd") {
        assert!(
            transcript.with_extension("out").is_dir(),
            "{} has no .out/ directory, so it would run unsandboxed",
            transcript.display()
        );
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The stores of `store.in/` are the spec's vectors, byte for byte, and the
/// transcript uses those vectors' keys.
#[test]
fn store_fixtures_are_the_spec_vectors() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors");
    let transcript = std::fs::read_to_string(cases_dir().join("store.trycmd")).unwrap();
    for (file, vector) in [
        ("store.in/store.cbor", "ok-width-25"),
        ("store.out/store.cbor", "ok-width-25"),
        ("store.in/truncated.cbor", "fail-store-truncated"),
        ("store.in/version-3.cbor", "fail-version-3"),
        ("store.in/expired.cbor", "fail-expired"),
        ("store.in/other.cbor", "fail-record-unknown"),
    ] {
        let json = std::fs::read_to_string(vectors.join(format!("{vector}.json"))).unwrap();
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let bytes = std::fs::read(cases_dir().join(file)).unwrap();
        assert_eq!(
            bytes,
            unhex(json["store"].as_str().unwrap()),
            "{file} is not the store of {vector}"
        );
        for key in ["user_key", "pass_key"] {
            assert!(
                transcript.contains(json[key].as_str().unwrap()),
                "store.trycmd does not use the {key} of {vector}"
            );
        }
    }
}
