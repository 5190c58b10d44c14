//! End to end with a real database: an administrator secures a PostgreSQL
//! role's credentials with `otp-link secure-account`; a host starts a child
//! with only the two keys; the child recovers the credentials and logs in.
//!
//! The server is `otp_link_tests::postgres::Server`, a throw-away one of the
//! test's own (initdb into a temporary directory, scram-sha-256 for every
//! connection, a free loopback port, connections logged to a file); the
//! test checks, through the server's log, that every run with a wrong,
//! swapped or rotated-away key failed before any connection: the authorized
//! logins of the role are exactly the successful runs. The Python child's
//! run against the same kind of server is in tests/tests/python.rs.
//!
//! Without PostgreSQL's server binaries (`initdb`, `pg_ctl` on PATH or under
//! `/usr/lib/postgresql/*/bin`) the test fails when `CI` is set, and otherwise
//! says loudly on stderr that it did not run.

#![cfg(unix)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use otp_link_tests::postgres::{
    check, expect_failure, keys_of, otp_link, pg_bins_or_skip, run, secure, text, Login, Server,
    DATABASE, NOTE, QUERY, ROLE,
};

fn pg_child_binary() -> PathBuf {
    otp_link_tests::example_bin("otp-link-tests", "pg_child")
}

// ---------------------------------------------------------------- the test

/// The host: starts the child with only the keys on its command line; the
/// environment says where the store and the server are, never who to be.
fn run_pg_child(server: &Server, store: &Path, user_key: &str, pass_key: &str) -> Output {
    let mut child = Command::new(pg_child_binary());
    child
        .arg(user_key)
        .arg(pass_key)
        .env_clear()
        .env("OTP_LINK_STORE", store)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", server.port.to_string())
        .env("PGDATABASE", DATABASE)
        .env("PG_CHILD_QUERY", QUERY);
    run(&mut child)
}

/// `otp-link exec --user-var PGUSER --pass-var PGPASSWORD KEYS -- psql ...`.
fn run_exec_psql(server: &Server, store: &Path, user_key: &str, pass_key: &str) -> Output {
    let mut exec = otp_link(store);
    exec.args(["exec", "--user-var", "PGUSER", "--pass-var", "PGPASSWORD"])
        .arg(user_key)
        .arg(pass_key)
        .arg("--")
        .arg(&server.bins.psql)
        .args(["-X", "-w", "-h", "127.0.0.1", "-p"])
        .arg(server.port.to_string())
        .args(["-d", DATABASE, "-tAc"])
        .arg("SELECT current_user || ' ' || note FROM otp_probe WHERE id = 1")
        .env_clear()
        .env("PATH", env::var_os("PATH").unwrap_or_default())
        .env("PGPASSFILE", server.dir.path().join("no-pgpass"));
    run(&mut exec)
}

#[test]
fn host_starts_a_child_that_logs_in_to_postgresql() {
    let started = Instant::now();
    let Some(bins) = pg_bins_or_skip("tests/tests/postgres.rs") else {
        return;
    };
    // Build (or find) our binaries before the server runs.
    let otp_link_bin = otp_link_tests::otp_link_bin();
    let pg_child_bin = pg_child_binary();
    eprintln!(
        "postgres test: {} and {}, with {}",
        otp_link_bin.display(),
        pg_child_bin.display(),
        bins.initdb.display()
    );

    let server = Server::start(bins);
    eprintln!(
        "postgres test: server up on 127.0.0.1:{} as {} after {:?}",
        server.port,
        server
            .user
            .as_ref()
            .map_or("this user", |u| u.name.as_str()),
        started.elapsed()
    );

    // The administrator: a login role with a random password, and a table
    // with a known row it may read.
    let Login { password, .. } = server.create_login();

    // ... secures the role's credentials with otp-link and hands out the keys.
    let stores = tempfile::tempdir().expect("store directory");
    let store = stores.path().join("store.cbor");
    let (user_key, pass_key) = secure(&store, "db-app", ROLE, &password);
    let (other_user_key, other_pass_key) = secure(&store, "db-other", "someone", "else");
    let elsewhere = stores.path().join("elsewhere.cbor");
    let (far_user_key, far_pass_key) = secure(&elsewhere, "db-app", ROLE, &password);

    let mut successes = 0;
    let check_log = |successes: usize, after: &str| server.assert_logins(successes, after);
    let no_secrets = |what: &str, output: &Output| {
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !text(stream).contains(&password),
                "{what} printed the password"
            );
        }
    };

    // The host starts the child with the two keys; it logs in and reads.
    let output = run_pg_child(&server, &store, &user_key, &pass_key);
    no_secrets("pg_child", &output);
    let output = check("pg_child with the right keys", output);
    assert_eq!(text(&output.stdout), format!("{NOTE}\n"));
    assert!(
        !text(&output.stdout).contains(ROLE),
        "pg_child printed the username"
    );
    successes += 1;
    check_log(successes, "pg_child with the right keys");

    // The same through otp-link exec and psql, PGUSER and PGPASSWORD.
    let output = run_exec_psql(&server, &store, &user_key, &pass_key);
    no_secrets("otp-link exec psql", &output);
    let output = check("otp-link exec -- psql", output);
    assert_eq!(text(&output.stdout), format!("{ROLE} {NOTE}\n"));
    successes += 1;
    check_log(successes, "otp-link exec -- psql");

    // Wrong keys fail before any connection, with otp-link's exit codes.
    let failures: [(&str, &str, &str, i32); 4] = [
        (
            "a password key of another account",
            &user_key,
            &other_pass_key,
            3,
        ),
        ("swapped keys", &pass_key, &user_key, 3),
        ("a malformed key", &user_key, "not-a-key", 3),
        (
            "the keys of an account in another store",
            &far_user_key,
            &far_pass_key,
            5,
        ),
    ];
    for (what, first, second, code) in failures {
        let output = run_pg_child(&server, &store, first, second);
        no_secrets(what, &output);
        expect_failure(what, &output, code, "pg_child: ");
        check_log(successes, what);
    }
    // The other account's own keys do open it: they were valid keys.
    let output = check(
        "otp-link verify",
        run(otp_link(&store).args(["verify", &other_user_key, &other_pass_key])),
    );
    assert_eq!(text(&output.stdout).trim(), "db-other");

    // Rotation: the old keys stop working, the new ones log in.
    let (new_user_key, new_pass_key) = keys_of(
        "otp-link rotate",
        run(otp_link(&store).args(["rotate", &user_key, &pass_key])),
    );
    let output = run_pg_child(&server, &store, &user_key, &pass_key);
    no_secrets("rotated-away keys", &output);
    expect_failure("pg_child with rotated-away keys", &output, 4, "pg_child: ");
    check_log(successes, "pg_child with rotated-away keys");
    let output = run_exec_psql(&server, &store, &user_key, &pass_key);
    no_secrets("exec with rotated-away keys", &output);
    expect_failure(
        "otp-link exec with rotated-away keys",
        &output,
        4,
        "otp-link: ",
    );
    check_log(successes, "otp-link exec with rotated-away keys");

    let output = check(
        "pg_child with the rotated keys",
        run_pg_child(&server, &store, &new_user_key, &new_pass_key),
    );
    assert_eq!(text(&output.stdout), format!("{NOTE}\n"));
    successes += 1;
    check_log(successes, "pg_child with the rotated keys");

    server.assert_no_failed_login(&password);
    drop(server);
    eprintln!(
        "postgres test: {successes} logins, 6 refused runs, {:?} in all",
        started.elapsed()
    );
}
