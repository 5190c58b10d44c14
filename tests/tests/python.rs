//! The Python package `otp_link` (otp-py/), under `cargo test`: its pytest
//! suites, its stubs, and a Python child logging in to PostgreSQL. This is
//! the one runner of the Python tests.
//!
//! The virtual environment and the wheel come from
//! `otp_link_tests::python` (installed by `pip install ./otp-py`, cached
//! under the target directory). pytest runs over the whole of otp-py/tests
//! with `OTP_LINK_BIN` naming the `otp-link` binary the other suites test and
//! `OTP_LINK_REQUIRE_NATIVE=1`, so the native tests cannot quietly skip and
//! every comparison of the pure reader with the native module runs (any
//! disagreement fails). Then it runs the pure reader's and compat's tests
//! (test_pure.py, test_compat.py) once more with the native module absent:
//! the same interpreter with `PYTHONPATH=otp-py/python`, whose `otp_link`
//! (the checkout's, which has no `_native`) comes before the installed one,
//! and `OTP_LINK_REQUIRE_PURE=1`, under which they check that `otp_link`
//! is the pure reader. `python -m mypy.stubtest otp_link` checks the
//! hand-written stubs against the installed module (and the package's
//! pure-Python modules, their own stubs, against themselves). The
//! PostgreSQL test reuses the server of
//! tests/tests/postgres.rs (`otp_link_tests::postgres`) and runs
//! otp-py/examples/pg_child.py with only the two keys on its command line.
//!
//! Without Python 3.9+ with venv (or, for the last test, PostgreSQL) each
//! test says loudly that it did not run and passes, except under `CI=true`,
//! where it fails.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use otp_link_tests::harness::{run_with, text};
use otp_link_tests::python::{repo, venv_or_skip, Venv};

/// How long pytest or stubtest may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn report(what: &str, output: &Output) {
    eprintln!(
        "--- {what} ({})\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Runs pytest in `venv` over `paths` (under otp-py/tests) with the
/// binary in `OTP_LINK_BIN` and `env` besides, and fails unless it passed
/// and ran at least one test.
fn pytest(venv: &Venv, what: &str, paths: &[&str], env: &[(&str, &OsStr)]) {
    let scratch = tempfile::tempdir().expect("scratch directory");
    let mut pytest = venv.command();
    pytest
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs"])
        .arg("--basetemp")
        .arg(scratch.path().join("pytest"))
        .args(paths.iter().map(|p| repo().join("otp-py/tests").join(p)))
        .current_dir(scratch.path())
        .env("OTP_LINK_BIN", otp_link_tests::otp_link_bin());
    for (name, value) in env {
        pytest.env(name, value);
    }
    let output = run_with(&mut pytest, "", SUITE_TIMEOUT);
    report(what, &output);
    assert!(output.status.success(), "{what} failed");
    let stdout = text(&output.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.contains(" passed"), "{what} ran no test: {summary}");
}

#[test]
fn pytest_passes_over_otp_py_tests() {
    let Some(venv) = venv_or_skip("tests/tests/python.rs (pytest)") else {
        return;
    };
    pytest(
        venv,
        "pytest otp-py/tests",
        &[""],
        &[("OTP_LINK_REQUIRE_NATIVE", OsStr::new("1"))],
    );
}

/// Issue 19's "the same through the pure implementation when the native
/// module is absent", and issue 18's fallback: `import otp_link` without
/// `_native` is the pure reader, and compat works over it.
#[test]
fn the_pure_reader_and_compat_pass_without_the_native_module() {
    let Some(venv) = venv_or_skip("tests/tests/python.rs (pure)") else {
        return;
    };
    let package = repo().join("otp-py/python");
    assert!(
        !std::fs::read_dir(package.join("otp_link"))
            .expect("otp-py/python/otp_link")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("_native")),
        "a built _native sits in otp-py/python/otp_link (maturin develop?): remove it, or this run is not without the native module"
    );
    pytest(
        venv,
        "pytest test_pure.py test_compat.py without the native module",
        &["test_pure.py", "test_compat.py"],
        &[
            ("PYTHONPATH", package.as_os_str()),
            ("OTP_LINK_REQUIRE_PURE", OsStr::new("1")),
        ],
    );
}

/// The one stub, `__init__.pyi`, types both implementations: stubtest
/// passes against the installed package (native) and against the
/// checkout's, which has no `_native` (pure). The package's pure-Python
/// modules (pure, legacy_pure, compat) are their own stubs, so mypy checks
/// their code as well.
#[test]
fn the_stubs_match_the_module() {
    let Some(venv) = venv_or_skip("tests/tests/python.rs (stubtest)") else {
        return;
    };
    let package = repo().join("otp-py/python");
    for (what, pythonpath) in [("native", None), ("pure", Some(package.as_os_str()))] {
        let scratch = tempfile::tempdir().expect("scratch directory");
        let mut stubtest = venv.command();
        stubtest
            .args(["-m", "mypy.stubtest", "otp_link"])
            .current_dir(scratch.path())
            .env("MYPY_CACHE_DIR", scratch.path().join("mypy-cache"));
        if let Some(path) = pythonpath {
            stubtest.env("PYTHONPATH", path);
        }
        let output = run_with(&mut stubtest, "", SUITE_TIMEOUT);
        report(
            &format!("python -m mypy.stubtest otp_link ({what})"),
            &output,
        );
        assert!(
            output.status.success(),
            "stubtest found differences ({what})"
        );
    }
}

#[cfg(unix)]
mod postgres {
    use super::*;
    use otp_link_tests::postgres::{
        check, expect_failure, otp_link, pg_bins_or_skip, run, secure, Login, Server, DATABASE,
        NOTE, QUERY, ROLE,
    };

    /// The host: starts the Python child with only the keys on its command
    /// line; the environment says where the store and the server are.
    fn run_python_child(
        python: &Path,
        server: &Server,
        store: &Path,
        user_key: &str,
        pass_key: &str,
    ) -> Output {
        let mut child = Command::new(python);
        child
            .arg(repo().join("otp-py/examples/pg_child.py"))
            .arg(user_key)
            .arg(pass_key)
            .env_clear()
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("OTP_LINK_STORE", store)
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", server.port.to_string())
            .env("PGDATABASE", DATABASE)
            .env("PG_CHILD_QUERY", QUERY)
            .env("PGPASSFILE", server.dir.path().join("no-pgpass"));
        run(&mut child)
    }

    #[test]
    fn a_python_child_logs_in_to_postgresql() {
        let Some(venv) = venv_or_skip("tests/tests/python.rs (PostgreSQL)") else {
            return;
        };
        let Some(bins) = pg_bins_or_skip("tests/tests/python.rs (PostgreSQL)") else {
            return;
        };
        otp_link_tests::otp_link_bin();
        let python = venv.python();
        let server = Server::start(bins);
        let Login { password, .. } = server.create_login();

        let stores = tempfile::tempdir().expect("store directory");
        let store = stores.path().join("store.cbor");
        let (user_key, pass_key) = secure(&store, "db-app", ROLE, &password);
        let (_, other_pass_key) = secure(&store, "db-other", "someone", "else");
        let elsewhere = stores.path().join("elsewhere.cbor");
        let (far_user_key, far_pass_key) = secure(&elsewhere, "db-app", ROLE, &password);
        let child = |store: &Path, first: &str, second: &str| {
            let output = run_python_child(&python, &server, store, first, second);
            for stream in [&output.stdout, &output.stderr] {
                assert!(
                    !text(stream).contains(&password),
                    "the child printed the password"
                );
            }
            output
        };

        let mut successes = 0;
        let output = check(
            "pg_child.py with the right keys",
            child(&store, &user_key, &pass_key),
        );
        assert_eq!(text(&output.stdout), format!("{NOTE}\n"));
        successes += 1;
        server.assert_logins(successes, "pg_child.py with the right keys");

        // Wrong keys fail before any connection, with otp-link's exit codes.
        let insecure = stores.path().join("insecure.cbor");
        std::fs::copy(&store, &insecure).expect("copying the store");
        otp_link_tests::harness::set_mode(&insecure, 0o644);
        let failures: [(&str, &Path, &str, &str, i32); 6] = [
            (
                "a password key of another account",
                &store,
                &user_key,
                &other_pass_key,
                3,
            ),
            ("swapped keys", &store, &pass_key, &user_key, 3),
            ("a malformed key", &store, &user_key, "not-a-key", 3),
            (
                "the keys of an account in another store",
                &store,
                &far_user_key,
                &far_pass_key,
                5,
            ),
            (
                "a store others may read",
                &insecure,
                &user_key,
                &pass_key,
                9,
            ),
            (
                "a missing store",
                &stores.path().join("missing.cbor"),
                &user_key,
                &pass_key,
                7,
            ),
        ];
        for (what, store, first, second, code) in failures {
            let output = child(store, first, second);
            expect_failure(what, &output, code, "pg_child.py: ");
            assert_eq!(
                text(&output.stderr).lines().count(),
                1,
                "{what}: not one line"
            );
            server.assert_logins(successes, what);
        }

        // Rotation: the old keys stop working (4), the new ones log in.
        let rotated = check(
            "otp-link rotate",
            run(otp_link(&store).args(["rotate", &user_key, &pass_key])),
        );
        let rotated = text(&rotated.stdout);
        let [new_user_key, new_pass_key] = rotated.split_whitespace().collect::<Vec<_>>()[..]
        else {
            panic!("rotate printed {rotated:?}");
        };
        let output = child(&store, &user_key, &pass_key);
        expect_failure("rotated-away keys", &output, 4, "pg_child.py: ");
        server.assert_logins(successes, "rotated-away keys");
        let output = check(
            "pg_child.py with the rotated keys",
            child(&store, new_user_key, new_pass_key),
        );
        assert_eq!(text(&output.stdout), format!("{NOTE}\n"));
        successes += 1;
        server.assert_logins(successes, "pg_child.py with the rotated keys");
        server.assert_no_failed_login(&password);
    }
}
