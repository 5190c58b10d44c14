//! Accounts that expire, through the binary: the expiry options of the
//! writers, exit 12 for every reader after the not-after time, rotate and
//! replace as the way to extend an account, `prune`, `list`'s expiry
//! columns and `--expiring-within`, and a store written by the previous
//! release (format version 1) still opening.
//!
//! An account that has already expired is taken from the spec's
//! `fail-expired` vector (it expired on 2026-11-25), since no writer seals
//! one; one test waits two seconds for an account of its own to expire.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use otp_link_tests::harness::*;
use serde_json::Value;

/// The accounts `list --format json` shows, as JSON.
fn listed(store: &Path, extra: &[&str]) -> Vec<Value> {
    let mut command = otp(store);
    command.args(["list", "--format", "json"]).args(extra);
    let out = run(command, "");
    assert_ok(&out, "list");
    let listing: Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    listing["accounts"]
        .as_array()
        .expect("list JSON's accounts")
        .clone()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The store format version of the file at `store`.
fn version(store: &Path) -> u8 {
    let bytes = fs::read(store).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"\x67version")
        .expect("a version entry");
    bytes[at + 8]
}

/// An RFC 3339 time as `list` prints it, in seconds.
fn seconds(text: &str) -> u64 {
    let (date, time) = text.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<u64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant), a second implementation for tests.
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days as u64 * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}

#[test]
fn secure_account_expires_in_a_duration_and_list_shows_when() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let plain = secure(&store, "plain");
    assert_eq!(version(&store), 1);
    let (mut command, input) = secure_command(&store, "temp");
    command.args(["--expires-in", "90d"]);
    let before = now();
    let out = run(command, &input);
    assert_ok(&out, "secure-account --expires-in 90d");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    assert_eq!(version(&store), 2);
    let temp = Issued {
        name: "temp".into(),
        username: username_of("temp"),
        password: password_of("temp"),
        user_key,
        pass_key,
    };
    assert_recovers(&store, &temp);
    assert_recovers(&store, &plain);
    let rows = listed(&store, &[]);
    assert_eq!(rows[0]["not_after"], Value::Null);
    assert_eq!(rows[0]["expired"], false);
    let not_after = seconds(rows[1]["not_after"].as_str().unwrap());
    assert!(
        (before + 90 * 86_400..=now() + 90 * 86_400).contains(&not_after),
        "{not_after}"
    );
    assert_eq!(rows[1]["expired"], false);
    assert_eq!(
        rows[1]["record_id"].as_str().unwrap(),
        &temp.user_key[7..39]
    );
    // A monitoring job's view: what expires within a horizon.
    let soon: Vec<Value> = listed(&store, &["--expiring-within", "91d"]);
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0]["account"], "temp");
    assert!(listed(&store, &["--expiring-within", "89d"]).is_empty());
    let mut command = otp(&store);
    command.args(["list", "--expiring-within", "100d"]);
    let out = run(command, "");
    assert_ok(&out, "list --expiring-within");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("ACCOUNT "), "{text}");
    assert!(text.contains("EXPIRES"), "{text}");
    assert!(
        text.contains(rows[1]["not_after"].as_str().unwrap()),
        "{text}"
    );
    assert!(!text.contains("plain"), "{text}");
    // --not-after, with an offset.
    let (mut command, input) = secure_command(&store, "dated");
    command.args(["--not-after", "2099-06-01T02:00:00+02:00"]);
    assert_ok(&run(command, &input), "--not-after");
    let rows = listed(&store, &[]);
    assert_eq!(rows[2]["not_after"], "2099-06-01T00:00:00Z");
}

#[test]
fn an_expired_account_fails_recover_exec_and_verify_with_exit_12_naming_the_date_and_the_fix() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let v = spec_vector("fail-expired");
    write_vector_store(&store, &v);
    let marker = dir.path().join("ran");
    let commands: Vec<(&str, Vec<String>)> = vec![
        ("recover", vec!["recover".into()]),
        ("verify", vec!["verify".into()]),
        (
            "exec",
            vec![
                "exec".into(),
                v.user_key.clone(),
                v.pass_key.clone(),
                "--".into(),
                "sh".into(),
                "-c".into(),
                format!("touch '{}'", marker.display()),
            ],
        ),
    ];
    for (what, args) in commands {
        let mut command = otp(&store);
        command.args(&args);
        if what != "exec" {
            command.args([&v.user_key, &v.pass_key]);
        }
        let out = run(command, "");
        let line = assert_fails_hiding(&out, 12, what, &["c-user", "c-pass"]);
        assert!(
            line.contains("account 'contractor' expired at 2026-11-25T23:40:00Z"),
            "{what}: {line}"
        );
        assert!(line.contains("(the clock reads 20"), "{what}: {line}");
        assert!(
            line.contains("otp-link rotate --expires-in DURATION"),
            "{what}: {line}"
        );
        assert!(
            line.contains("secure-account --replace --expires-in DURATION"),
            "{what}: {line}"
        );
    }
    assert!(
        !marker.exists(),
        "exec ran the program for an expired account"
    );
    // The account beside it never expires and still opens.
    let w25 = spec_vector("ok-width-25");
    let mut command = otp(&store);
    command.args(["recover", &w25.user_key, &w25.pass_key]);
    let out = run(command, "");
    assert_ok(&out, "the account that does not expire");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "scott\ntiger\n");
}

/// The Rust library's `otp_core::recover`, as a child program calls it,
/// enforces expiry too: the example child exits with the library's code,
/// 12.
#[test]
fn the_library_recover_refuses_an_expired_account_with_exit_12() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let v = spec_vector("fail-expired");
    write_vector_store(&store, &v);
    let child = otp_link_tests::example_bin("otp-core", "child");
    let out = run_with(
        std::process::Command::new(&child)
            .env("OTP_LINK_STORE", &store)
            .env_remove("OTP_LINK_AUDIT")
            .args([&v.user_key, &v.pass_key]),
        "",
        HANG,
    );
    assert_eq!(out.status.code(), Some(12), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("expired at 2026-11-25T23:40:00Z"));
    assert!(out.stdout.is_empty());
}

#[test]
fn import_legacy_takes_an_expiry() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let (file, old_user, old_pass, username, password) =
        otp_link_tests::legacy_fixtures::opening().remove(0);
    let mut command = otp(&store);
    command
        .arg("import-legacy")
        .arg(otp_link_tests::legacy_fixtures::dir().join(&file))
        .args([&old_user, &old_pass, "--account", "imported"])
        .args(["--not-after", "2099-12-31T23:59:59Z"]);
    let out = run(command, "");
    assert_ok(&out, "import-legacy --not-after");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    assert_recovers(
        &store,
        &Issued {
            name: "imported".into(),
            username,
            password,
            user_key,
            pass_key,
        },
    );
    assert_eq!(listed(&store, &[])[0]["not_after"], "2099-12-31T23:59:59Z");
    assert_eq!(version(&store), 2);
    // In the past: refused, and no store is written.
    let other = dir.path().join("other.cbor");
    let mut command = otp(&other);
    command
        .arg("import-legacy")
        .arg(otp_link_tests::legacy_fixtures::dir().join(&file))
        .args([&old_user, &old_pass, "--account", "late"])
        .args(["--not-after", "2000-01-01T00:00:00Z"]);
    assert_fails(&run(command, ""), 11, "import-legacy into the past");
    assert!(!other.exists());
}

/// Regression guard for the clock itself: an account secured for one
/// second opens, and two seconds later fails with exit 12.
#[test]
fn an_account_stops_opening_when_its_time_has_passed() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let (mut command, input) = secure_command(&store, "brief");
    command.args(["--expires-in", "1s"]);
    let out = run(command, &input);
    assert_ok(&out, "secure-account --expires-in 1s");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    thread::sleep(Duration::from_millis(2100));
    let mut command = otp(&store);
    command.args(["recover", &user_key, &pass_key]);
    assert_fails(&run(command, ""), 12, "recover after expiry");
}

#[test]
fn rotate_or_replace_with_a_new_expiry_extends_an_expired_account() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let v = spec_vector("fail-expired");
    write_vector_store(&store, &v);
    let before = fs::read(&store).unwrap();
    // Keeping an expiry that has passed would issue keys that open nothing.
    let mut command = otp(&store);
    command.args(["rotate", &v.user_key, &v.pass_key]);
    let line = assert_fails(&run(command, ""), 11, "rotate keeping a past expiry");
    assert!(line.contains("is not in the future"), "{line}");
    assert!(line.contains("--expires-in"), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(fs::read(&store).unwrap(), before);
    // A new expiry: new keys that open it, the old ones fail.
    let mut command = otp(&store);
    command.args([
        "rotate",
        "--expires-in",
        "30d",
        "--format",
        "json",
        &v.user_key,
        &v.pass_key,
    ]);
    let out = run(command, "");
    assert_ok(&out, "rotate --expires-in 30d");
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rotated = Issued {
        name: "contractor".into(),
        username: "c-user".into(),
        password: "c-pass".into(),
        user_key: keys["user_key"].as_str().unwrap().into(),
        pass_key: keys["pass_key"].as_str().unwrap().into(),
    };
    assert_recovers(&store, &rotated);
    let mut command = otp(&store);
    command.args(["recover", &v.user_key, &v.pass_key]);
    assert_fails(&run(command, ""), 4, "the keys rotated away");
    // --no-expiry removes it, and the store is version 1 again.
    let mut command = otp(&store);
    command.args([
        "rotate",
        "--no-expiry",
        &rotated.user_key,
        &rotated.pass_key,
    ]);
    let out = run(command, "");
    assert_ok(&out, "rotate --no-expiry");
    assert_eq!(version(&store), 1);
    assert_eq!(listed(&store, &[])[1]["not_after"], Value::Null);
    // Replace by name, with a new expiry.
    write_vector_store(&store, &v);
    let mut command = otp(&store);
    command.args([
        "secure-account",
        "contractor",
        "--replace",
        "--not-after",
        "2099-01-01T00:00:00Z",
    ]);
    let out = run(command, "new-user\nnew-pass\n");
    assert_ok(&out, "secure-account --replace --not-after");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    let mut command = otp(&store);
    command.args(["recover", &user_key, &pass_key]);
    let out = run(command, "");
    assert_ok(&out, "the replaced account");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "new-user\nnew-pass\n");
}

#[test]
fn an_expiry_in_the_past_or_unreadable_is_refused_and_nothing_changes() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    secure(&store, "db");
    let before = fs::read(&store).unwrap();
    let (mut command, input) = secure_command(&store, "late");
    command.args(["--not-after", "2020-01-01T00:00:00Z"]);
    let line = assert_fails(&run(command, &input), 11, "--not-after in the past");
    assert!(
        line.contains("the expiry 2020-01-01T00:00:00Z is not in the future"),
        "{line}"
    );
    for (flag, value) in [
        ("--expires-in", "90x"),
        ("--expires-in", "-1d"),
        ("--expires-in", "0s"),
        ("--not-after", "2027-03-01"),
        ("--not-after", "soon"),
    ] {
        let (mut command, input) = secure_command(&store, "bad");
        command.arg(format!("{flag}={value}"));
        let line = assert_fails(&run(command, &input), 2, &format!("{flag} {value}"));
        assert!(line.contains(flag), "{line}");
    }
    let (mut command, input) = secure_command(&store, "both");
    command.args(["--expires-in", "1d", "--not-after", "2099-01-01T00:00:00Z"]);
    assert_fails(&run(command, &input), 2, "both options");
    assert_eq!(fs::read(&store).unwrap(), before);
}

#[test]
fn batch_lines_may_carry_a_not_after_over_the_options() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let line = |name: &str, not_after: Option<&str>| {
        let mut v = serde_json::json!({
            "account": name,
            "username": username_of(name),
            "password": password_of(name),
        });
        if let Some(t) = not_after {
            v["not_after"] = t.into();
        }
        format!("{v}\n")
    };
    let mut command = otp(&store);
    command.args(["secure-account", "--batch", "--expires-in", "1d"]);
    let input = [
        line("dated", Some("2099-01-01T00:00:00Z")),
        line("default", None),
    ]
    .concat();
    let out = run(command, &input);
    assert_ok(&out, "batch");
    let issued = batch_keys(&out.stdout);
    assert_eq!(issued.len(), 2);
    assert_all_recover(&store, &issued);
    let rows = listed(&store, &[]);
    assert_eq!(rows[0]["not_after"], "2099-01-01T00:00:00Z");
    let default = seconds(rows[1]["not_after"].as_str().unwrap());
    assert!(default.abs_diff(now() + 86_400) < 60, "{default}");
    // A bad line names itself; nothing is secured.
    let before = fs::read(&store).unwrap();
    for (bad, code, says) in [
        (
            line("x", Some("tomorrow")),
            2,
            "line 2 of the batch: its not_after",
        ),
        (
            line("x", Some("2001-01-01T00:00:00Z")),
            11,
            "line 2 of the batch: the expiry 2001-01-01T00:00:00Z",
        ),
    ] {
        let mut command = otp(&store);
        command.args(["secure-account", "--batch"]);
        let out = run(command, &[line("ok", None), bad].concat());
        let message = assert_fails(&out, code, says);
        assert!(message.contains(says), "{message}");
        assert_eq!(fs::read(&store).unwrap(), before);
    }
}

#[test]
fn prune_removes_the_expired_accounts_and_says_which() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let v = spec_vector("fail-expired");
    write_vector_store(&store, &v);
    assert_eq!(version(&store), 2);
    let mut command = otp(&store);
    command.arg("prune");
    let out = run(command, "");
    assert_ok(&out, "prune");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "removed account 'contractor', expired 2026-11-25T23:40:00Z\n"
    );
    let names: Vec<String> = list_names(&store);
    assert_eq!(names, ["legacy-width"]);
    // Its ciphertexts are gone: the store is the plain one, version 1.
    assert_eq!(fs::read(&store).unwrap(), hex_store("ok-width-25"));
    let mut command = otp(&store);
    command.args(["recover", &v.user_key, &v.pass_key]);
    assert_fails(&run(command, ""), 5, "a pruned account");
    // Nothing left to prune: said so, and the file is not rewritten.
    let before = fs::metadata(&store).unwrap();
    let mut command = otp(&store);
    command.arg("prune");
    let out = run(command, "");
    assert_ok(&out, "prune again");
    assert!(out.stdout.is_empty());
    assert!(stderr_of(&out).contains("no account has expired; nothing was removed"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&store).unwrap().ino(), before.ino());
}

/// Regression: `prune > /dev/full` removed the expired accounts and then
/// failed (exit 10) to say which: a failed command that had changed the
/// store. The report is written first, as keys are, and a report that
/// cannot be written removes nothing.
#[test]
fn a_prune_whose_report_cannot_be_written_removes_nothing() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let v = spec_vector("fail-expired");
    write_vector_store(&store, &v);
    let before = fs::read(&store).unwrap();
    let mut command = otp(&store);
    command
        .arg("prune")
        .stdin(std::process::Stdio::null())
        .stdout(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        );
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("no account was removed: the store is as it was"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(fs::read(&store).unwrap(), before);
    assert!(!dir.path().join("store.cbor.tmp").exists());
}

fn hex_store(vector: &str) -> Vec<u8> {
    hex::decode(spec_vector(vector).store).unwrap()
}

/// A failed prune (here: the lock held by another writer) leaves the store
/// as it was.
#[test]
fn a_failed_prune_leaves_the_store_as_it_was() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    write_vector_store(&store, &spec_vector("fail-expired"));
    let before = fs::read(&store).unwrap();
    let lock = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(sibling(&store, "lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut command = otp(&store);
    command.arg("prune").env("OTP_LINK_LOCK_TIMEOUT_MS", "100");
    let line = assert_fails(&run(command, ""), 10, "prune with the lock held");
    assert!(line.contains("lock"), "{line}");
    assert_eq!(fs::read(&store).unwrap(), before);
    assert!(!sibling(&store, "tmp").exists());
    let mut command = otp(&store);
    command
        .arg("prune")
        .arg("--store")
        .arg(dir.path().join("missing.cbor"));
    assert_fails(&run(command, ""), 7, "prune of a missing store");
}

/// `tests/fixtures/store-0.1.0.json`: a store written by release 0.1.0
/// (format version 1) and the keys it printed. It opens, and writers keep
/// its accounts verbatim, as version 1 until an account expires.
#[test]
fn a_store_written_by_release_0_1_0_still_opens() {
    let fixture: Value = serde_json::from_str(
        &fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/store-0.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let bytes = hex::decode(fixture["store"].as_str().unwrap()).unwrap();
    let accounts: Vec<Issued> = fixture["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| Issued {
            name: a["account"].as_str().unwrap().into(),
            username: a["username"].as_str().unwrap().into(),
            password: a["password"].as_str().unwrap().into(),
            user_key: a["user_key"].as_str().unwrap().into(),
            pass_key: a["pass_key"].as_str().unwrap().into(),
        })
        .collect();
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    write_private(&store, &bytes);
    assert_eq!(version(&store), 1);
    assert_all_recover(&store, &accounts);
    for account in &accounts {
        let mut command = otp(&store);
        command.args(["verify", &account.user_key, &account.pass_key]);
        assert_ok(&run(command, ""), "verify");
    }
    let rows = listed(&store, &[]);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["not_after"].is_null()));
    // A new plain account: still version 1, the old entries verbatim.
    secure(&store, "new-plain");
    assert_eq!(version(&store), 1);
    let after = fs::read(&store).unwrap();
    let old_accounts = &bytes[bytes.windows(9).position(|w| w == b"\x68accounts").unwrap() + 10..];
    assert!(
        after.windows(old_accounts.len()).any(|w| w == old_accounts),
        "old entries not kept verbatim"
    );
    // An expiring account makes it version 2; the old keys still open.
    let (mut command, input) = secure_command(&store, "new-expiring");
    command.args(["--expires-in", "1d"]);
    assert_ok(&run(command, &input), "an expiring account");
    assert_eq!(version(&store), 2);
    assert_all_recover(&store, &accounts);
}
