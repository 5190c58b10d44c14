//! The audit trail (`OTP_LINK_AUDIT`, `--audit`), read back: every field
//! of a record present and right, failures with their exit codes, an
//! attempt before every change and its outcome after, no key, pad or value
//! anywhere in the log, the file's rules (0600, no links, no file of
//! others), fail-closed before anything is released, and whole lines from
//! processes writing at once.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use otp_link_tests::harness::*;
use serde_json::Value;

/// `otp-link --store STORE` writing its audit records to `log` through
/// the environment.
fn audited(store: &Path, log: &Path) -> Command {
    let mut command = otp(store);
    command.env("OTP_LINK_AUDIT", log);
    command
}

/// Every record of the log, each line parsed on its own.
fn records(log: &Path) -> Vec<Value> {
    let text = fs::read_to_string(log).expect("the audit log");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a cut line: {text:?}"
    );
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

const FIELDS: [&str; 15] = [
    "time",
    "event",
    "outcome",
    "exit_code",
    "account",
    "record_id",
    "store",
    "program",
    "uid",
    "euid",
    "pid",
    "ppid",
    "parent_exe",
    "host",
    "error",
];

/// The record has exactly the documented fields, in order.
fn assert_fields(record: &Value) {
    let keys: Vec<&str> = record
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = FIELDS.to_vec();
    sorted.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, sorted, "{record}");
}

fn record_id(key: &str) -> &str {
    &key[7..39]
}

fn uid() -> u64 {
    use std::os::unix::fs::MetadataExt;
    u64::from(fs::metadata("/proc/self").unwrap().uid())
}

#[test]
fn every_field_of_a_recover_record_is_present_and_right() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let db = secure(&store, "db");
    let mut command = audited(&store, &log);
    command
        .args(["recover", &db.user_key, &db.pass_key])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, "recover");
    assert_eq!(mode(&log), 0o600);
    let all = records(&log);
    assert_eq!(all.len(), 1, "{all:?}");
    let r = &all[0];
    assert_fields(r);
    assert_eq!(r["event"], "recover");
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["account"], "db");
    assert_eq!(r["record_id"], record_id(&db.user_key));
    assert_eq!(r["store"], store.to_str().unwrap());
    assert_eq!(r["program"], Value::Null);
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["uid"], uid());
    assert_eq!(r["euid"], uid());
    assert_eq!(r["pid"], pid);
    assert_eq!(r["ppid"], std::process::id());
    assert_eq!(
        r["parent_exe"],
        std::env::current_exe().unwrap().to_str().unwrap()
    );
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(r["host"], host.trim());
    // RFC 3339 UTC with microseconds, within a minute of now.
    let time = r["time"].as_str().unwrap();
    assert_eq!(time.len(), "2026-12-02T10:11:12.123456Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    let date = String::from_utf8(
        Command::new("date")
            .args(["-u", "+%Y-%m-%dT%H:%M"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(&time[..10], &date[..10], "{time} vs {date}");
    // --audit names the log as well; records are appended.
    let mut command = otp(&store);
    command
        .arg("--audit")
        .arg(&log)
        .args(["verify", &db.user_key, &db.pass_key]);
    assert_ok(&run(command, ""), "verify --audit");
    let all = records(&log);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["event"], "verify");
    assert_eq!(all[1]["account"], "db");
}

#[test]
fn failures_are_logged_with_their_exit_codes() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let db = secure(&store, "db");
    let other = secure(&dir.path().join("other.cbor"), "other");
    let expired_store = dir.path().join("expired.cbor");
    let expired = spec_vector("fail-expired");
    write_vector_store(&expired_store, &expired);
    // Rotated away, db's first keys fail authentication.
    let mut command = otp(&store);
    command.args(["rotate", &db.user_key, &db.pass_key]);
    let out = run(command, "");
    assert_ok(&out, "rotate");
    let (user_key, _) = text_keys(&out.stdout).unwrap();
    let cases: Vec<(&Path, Vec<&str>, i32, Option<&str>)> = vec![
        (&store, vec!["recover", &db.user_key, &db.pass_key], 4, None),
        (
            &store,
            vec!["recover", &other.user_key, &other.pass_key],
            5,
            None,
        ),
        (&store, vec!["recover", "otp1-u-00", "otp1-p-00"], 3, None),
        (
            &expired_store,
            vec!["recover", &expired.user_key, &expired.pass_key],
            12,
            Some("contractor"),
        ),
        (&store, vec!["remove", "nope"], 5, Some("nope")),
        (&store, vec!["verify", &user_key, &db.pass_key], 4, None),
    ];
    for (i, (store, args, code, account)) in cases.iter().enumerate() {
        let mut command = audited(store, &log);
        command.args(args);
        assert_fails(&run(command, ""), *code, &args.join(" "));
        let all = records(&log);
        assert_eq!(all.len(), i + 1, "one record for {args:?}");
        let r = &all[i];
        assert_fields(r);
        assert_eq!(r["event"], args[0], "{r}");
        assert_eq!(r["outcome"], "failure", "{r}");
        assert_eq!(r["exit_code"], *code, "{r}");
        assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
        if let Some(account) = account {
            assert_eq!(r["account"], *account, "{r}");
        }
    }
    let all = records(&log);
    // The record id is known from keys that parse, whether or not they open.
    assert_eq!(all[0]["record_id"], record_id(&db.user_key));
    assert_eq!(all[1]["record_id"], record_id(&other.user_key));
    assert_eq!(all[2]["record_id"], Value::Null);
}

#[test]
fn a_change_is_logged_as_an_attempt_before_and_its_outcome_after() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let (mut command, input) = secure_command(&store, "db");
    command.env("OTP_LINK_AUDIT", &log);
    let out = run(command, &input);
    assert_ok(&out, "secure-account");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    let mut command = audited(&store, &log);
    command.args(["rotate", &user_key, &pass_key]);
    assert_ok(&run(command, ""), "rotate");
    let (mut command, _) = batch_command(&store, &["b1".into(), "b2".into()]);
    command.env("OTP_LINK_AUDIT", &log);
    let (_, input) = batch_command(&store, &["b1".into(), "b2".into()]);
    let out = run(command, &input);
    assert_ok(&out, "batch");
    let mut command = audited(&store, &log);
    command.args(["remove", "b1"]);
    assert_ok(&run(command, ""), "remove");
    let mut command = audited(&store, &log);
    command.arg("prune");
    assert_ok(&run(command, ""), "prune");
    let all = records(&log);
    let summary: Vec<(String, String, Value, Value)> = all
        .iter()
        .map(|r| {
            assert_fields(r);
            (
                r["event"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
                r["account"].clone(),
                r["exit_code"].clone(),
            )
        })
        .collect();
    let row = |e: &str, o: &str, a: Option<&str>, x: Option<u64>| {
        (
            e.to_owned(),
            o.to_owned(),
            a.map_or(Value::Null, Value::from),
            x.map_or(Value::Null, Value::from),
        )
    };
    assert_eq!(
        summary,
        vec![
            row("secure-account", "attempt", Some("db"), None),
            row("secure-account", "success", Some("db"), Some(0)),
            row("rotate", "attempt", Some("db"), None),
            row("rotate", "success", Some("db"), Some(0)),
            row("secure-batch", "attempt", Some("b1"), None),
            row("secure-batch", "attempt", Some("b2"), None),
            row("secure-batch", "success", Some("b1"), Some(0)),
            row("secure-batch", "success", Some("b2"), Some(0)),
            row("remove", "attempt", Some("b1"), None),
            row("remove", "success", Some("b1"), Some(0)),
            row("prune", "success", None, Some(0)),
        ]
    );
    // Every record of one account carries its record id.
    assert_eq!(all[0]["record_id"], record_id(&user_key));
    assert_eq!(all[3]["record_id"], record_id(&user_key));
    assert!(all[4]["record_id"].is_string());
}

#[test]
fn prune_logs_each_account_it_removes() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let v = spec_vector("fail-expired");
    write_vector_store(&store, &v);
    let mut command = audited(&store, &log);
    command.arg("prune");
    assert_ok(&run(command, ""), "prune");
    let all = records(&log);
    assert_eq!(all.len(), 2);
    for (r, outcome) in all.iter().zip(["attempt", "success"]) {
        assert_eq!(r["event"], "prune");
        assert_eq!(r["outcome"], outcome);
        assert_eq!(r["account"], "contractor");
        assert_eq!(r["record_id"], v.record_id);
    }
}

#[test]
fn exec_logs_the_program_path_before_the_program_runs() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let copy = dir.path().join("copy.log");
    let db = secure(&store, "db");
    let script = format!(
        "cat '{}' > '{}'; echo \"$OTP_LINK_PASSWORD\" > /dev/null",
        log.display(),
        copy.display()
    );
    let mut command = audited(&store, &log);
    command.args([
        "exec",
        &db.user_key,
        &db.pass_key,
        "--",
        "sh",
        "-c",
        &script,
        "secret-arg",
    ]);
    assert_ok(&run(command, ""), "exec");
    // The program found its own record already in the log.
    let all = records(&copy);
    assert_eq!(all.len(), 1);
    let r = &all[0];
    assert_fields(r);
    assert_eq!(r["event"], "exec");
    assert_eq!(r["outcome"], "success");
    let program = r["program"].as_str().unwrap();
    assert!(
        program.ends_with("/sh") && Path::new(program).is_absolute(),
        "{program}"
    );
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("secret-arg") && !text.contains("cat "),
        "{text}"
    );
    // A program that cannot run: its failure follows, exit 127.
    let mut command = audited(&store, &log);
    command.args([
        "exec",
        &db.user_key,
        &db.pass_key,
        "--",
        "no-such-program-here",
    ]);
    assert_fails(&run(command, ""), 127, "exec of a missing program");
    let all = records(&log);
    assert_eq!(all.len(), 3);
    assert_eq!(all[1]["outcome"], "success");
    assert_eq!(all[2]["outcome"], "failure");
    assert_eq!(all[2]["exit_code"], 127);
    assert_eq!(all[2]["program"], "no-such-program-here");
}

/// Runs every audited command, successes and failures, then searches the
/// log for every key text, every 12-character piece of a key's pad and MAC
/// key, and every value: none may appear.
#[test]
fn no_key_pad_or_value_appears_anywhere_in_the_log() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let mut keys: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let (mut command, input) = secure_command(&store, "db");
    command
        .env("OTP_LINK_AUDIT", &log)
        .args(["--expires-in", "1d"]);
    let out = run(command, &input);
    assert_ok(&out, "secure");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    keys.extend([user_key.clone(), pass_key.clone()]);
    values.extend([username_of("db"), password_of("db")]);
    let names: Vec<String> = (0..3).map(|i| format!("batch{i}")).collect();
    let (mut command, input) = batch_command(&store, &names);
    command.env("OTP_LINK_AUDIT", &log);
    let out = run(command, &input);
    assert_ok(&out, "batch");
    for issued in batch_keys(&out.stdout) {
        keys.extend([issued.user_key.clone(), issued.pass_key.clone()]);
        values.extend([issued.username.clone(), issued.password.clone()]);
    }
    let runs: Vec<Vec<String>> = vec![
        vec!["recover".into(), user_key.clone(), pass_key.clone()],
        vec![
            "recover".into(),
            "--format".into(),
            "shell".into(),
            user_key.clone(),
            pass_key.clone(),
        ],
        vec!["verify".into(), user_key.clone(), pass_key.clone()],
        vec![
            "exec".into(),
            user_key.clone(),
            pass_key.clone(),
            "--".into(),
            "true".into(),
        ],
        vec!["recover".into(), pass_key.clone(), user_key.clone()],
        vec!["recover".into(), keys[2].clone(), pass_key.clone()],
    ];
    for args in &runs {
        let mut command = audited(&store, &log);
        command.args(args);
        let _ = run(command, "");
    }
    let mut command = audited(&store, &log);
    command.args(["rotate", &user_key, &pass_key]);
    let out = run(command, "");
    assert_ok(&out, "rotate");
    let (u2, p2) = text_keys(&out.stdout).unwrap();
    keys.extend([u2, p2]);
    let mut command = audited(&store, &log);
    command.env("APP_KEYS", format!("{} {}", keys[2], keys[3]));
    command.args(["recover", "--keys-env", "APP_KEYS"]);
    assert_ok(&run(command, ""), "--keys-env");
    let mut command = audited(&store, &log);
    command.args(["recover", "-", "-"]);
    assert_ok(
        &run(command, &format!("{}\n{}\n", keys[4], keys[5])),
        "keys on stdin",
    );
    let text = fs::read_to_string(&log).unwrap();
    assert!(records(&log).len() >= 15, "{text}");
    for key in &keys {
        assert!(!text.contains(key.as_str()), "a key in the log");
        // The pad and the MAC key, piece by piece.
        let parts: Vec<&str> = key.split('-').collect();
        for secret in [parts[3], parts[4]] {
            for piece in secret.as_bytes().chunks(12).filter(|c| c.len() == 12) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(
                    !text.contains(piece),
                    "a piece of a pad or MAC key: {piece}"
                );
            }
        }
    }
    for value in &values {
        assert!(
            !text.contains(value.as_str()),
            "a value in the log: {value}"
        );
    }
    assert!(!text.contains("otp1-"), "{text}");
}

/// `otp-link` with an audit log that cannot be written: exit 10, nothing on
/// stdout (no credential, no key), and for exec the program not run.
fn assert_refused(store: &Path, log: &Path, db: &Issued, says: &str) {
    let marker = store.with_file_name("ran");
    for args in [
        vec!["recover", &db.user_key, &db.pass_key],
        vec!["verify", &db.user_key, &db.pass_key],
        vec!["rotate", &db.user_key, &db.pass_key],
        vec!["remove", &db.name],
        vec!["prune"],
    ] {
        let before = fs::read(store).unwrap();
        let mut command = audited(store, log);
        command.args(&args);
        let line = assert_fails_hiding(
            &run(command, ""),
            10,
            args[0],
            &[&db.username, &db.password],
        );
        assert!(
            line.contains(&format!("audit log {}", log.display())),
            "{line}"
        );
        assert!(line.contains(says), "{line}");
        assert!(line.contains("nothing was released or changed"), "{line}");
        assert_eq!(
            fs::read(store).unwrap(),
            before,
            "{args:?} changed the store"
        );
    }
    let touch = format!("touch '{}'", marker.display());
    let mut command = audited(store, log);
    command.args(["exec", &db.user_key, &db.pass_key, "--", "sh", "-c", &touch]);
    assert_fails(&run(command, ""), 10, "exec");
    assert!(!marker.exists(), "exec ran the program without its record");
    let (mut command, input) = secure_command(store, "new");
    command.env("OTP_LINK_AUDIT", log);
    assert_fails(&run(command, &input), 10, "secure-account");
    assert!(!list_names(store).contains(&"new".to_owned()));
}

#[test]
fn an_audit_log_that_cannot_be_written_stops_the_command_before_anything_is_released() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let db = secure(&store, "db");
    let target = dir.path().join("target.log");
    fs::write(&target, "").unwrap();
    set_mode(&target, 0o600);
    // A symbolic link is never followed, and what it points to is not
    // touched.
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_refused(&store, &link, &db, "is a symbolic link");
    assert_eq!(fs::read(&target).unwrap(), b"");
    // A directory that does not exist, a directory, a device.
    assert_refused(
        &store,
        &dir.path().join("no/such/dir.log"),
        &db,
        "its directory does not exist",
    );
    assert_refused(&store, dir.path(), &db, "is a directory");
    assert_refused(&store, Path::new("/dev/null"), &db, "not a regular file");
    // A second name of another file of ours (here the store itself): the
    // records would corrupt it.
    let alias = dir.path().join("alias.log");
    fs::hard_link(&store, &alias).unwrap();
    assert_refused(&store, &alias, &db, "has 2 names (hard links)");
    fs::remove_file(&alias).unwrap();
    // Writable by group or others: records could be forged or erased.
    let shared = dir.path().join("shared.log");
    fs::write(&shared, "").unwrap();
    for mode in [0o620, 0o602, 0o666] {
        set_mode(&shared, mode);
        assert_refused(&store, &shared, &db, "may be written by group or others");
    }
    // Readable by a log shipper's group is fine: the log holds no secret.
    set_mode(&shared, 0o640);
    let mut command = audited(&store, &shared);
    command.args(["verify", &db.user_key, &db.pass_key]);
    assert_ok(&run(command, ""), "a 0640 log");
    assert_eq!(records(&shared).len(), 1);
    // An empty OTP_LINK_AUDIT is no log.
    let mut command = otp(&store);
    command
        .env("OTP_LINK_AUDIT", "")
        .args(["verify", &db.user_key, &db.pass_key]);
    assert_ok(&run(command, ""), "OTP_LINK_AUDIT empty");
}

#[test]
fn an_audit_log_of_another_user_is_refused() {
    if !root_or_skip("to give the log to another user") {
        return;
    }
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let db = secure(&store, "db");
    let log = dir.path().join("theirs.log");
    fs::write(&log, "").unwrap();
    set_mode(&log, 0o600);
    std::os::unix::fs::chown(&log, Some(NOBODY), Some(NOBODY)).unwrap();
    assert_refused(&store, &log, &db, "is owned by user id 65534");
}

/// A log on a full disk: it opens, the write fails, and recover prints no
/// credential (exit 10).
#[test]
fn a_full_disk_under_the_audit_log_fails_closed() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let db = secure(&store, "db");
    let Some(mounted) = Mounted::small_tmpfs(dir.path(), "16k") else {
        return;
    };
    let mount = mounted.path();
    let log = mount.join("audit.log");
    fs::write(&log, "").unwrap();
    set_mode(&log, 0o600);
    let _ = fs::write(mount.join("filler"), vec![0u8; 64 * 1024]);
    let mut command = audited(&store, &log);
    command.args(["recover", &db.user_key, &db.pass_key]);
    let line = assert_fails_hiding(&run(command, ""), 10, "recover", &[&db.password]);
    assert!(line.contains("cannot be written"), "{line}");
}

/// "Never lose a key": the disk fills between a change's attempt record and
/// its success record. The change is in effect and its keys printed, so
/// otp-link warns and exits 0 (the keys work), and the log holds the
/// attempt.
#[test]
fn a_success_record_that_cannot_be_written_after_the_change_only_warns() {
    let dir = tempdir();
    let Some(mounted) = Mounted::small_tmpfs(dir.path(), "16k") else {
        return;
    };
    // The records' lengths, measured on a rehearsal with paths as long.
    let store = dir.path().join("store.cbor");
    let rehearsal = dir.path().join("rehearsal.log");
    let (mut command, input) = secure_command(&store, "db");
    command.env("OTP_LINK_AUDIT", &rehearsal);
    assert_ok(&run(command, &input), "rehearsal");
    fs::remove_file(&store).unwrap();
    let lines: Vec<usize> = fs::read_to_string(&rehearsal)
        .unwrap()
        .lines()
        .map(|l| l.len() + 1)
        .collect();
    let (attempt, success) = (lines[0], lines[1]);
    // A log whose last page has room for the attempt and half the success
    // record, on a file system that is otherwise full.
    let log = mounted.path().join("audit.log");
    let room = attempt + success / 2;
    let filler = format!("{{\"filler\":\"{}\"}}\n", "x".repeat(4096 - room - 14));
    assert_eq!(filler.len() + room, 4096);
    fs::write(&log, &filler).unwrap();
    set_mode(&log, 0o600);
    let _ = fs::write(mounted.path().join("full"), vec![0u8; 64 * 1024]);
    let (mut command, input) = secure_command(&store, "db");
    command.env("OTP_LINK_AUDIT", &log);
    let out = run(command, &input);
    assert_ok(&out, "secure-account whose success record does not fit");
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("warning: the change is in effect and its keys are the account's, but its success record could not be written"),
        "{stderr}"
    );
    let (user_key, pass_key) = text_keys(&out.stdout).expect("the keys were printed");
    let issued = Issued {
        name: "db".into(),
        username: username_of("db"),
        password: password_of("db"),
        user_key,
        pass_key,
    };
    assert_recovers(&store, &issued);
    let text = fs::read_to_string(&log).unwrap();
    let attempt: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(attempt["event"], "secure-account");
    assert_eq!(attempt["outcome"], "attempt");
    assert_eq!(attempt["account"], "db");
}

/// The Rust library's `otp_core::recover`, as a child program calls it,
/// records its use too (the example child, which recovers from
/// `OTP_LINK_STORE`).
#[test]
fn the_library_recover_records_its_use_when_otp_link_audit_is_set() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let db = secure(&store, "db");
    let child = otp_link_tests::example_bin("otp-core", "child");
    let out = run_with(
        Command::new(&child)
            .env("OTP_LINK_STORE", &store)
            .env("OTP_LINK_AUDIT", &log)
            .args([&db.user_key, &db.pass_key]),
        "",
        HANG,
    );
    assert_ok(&out, "child");
    let all = records(&log);
    assert_eq!(all.len(), 1);
    assert_fields(&all[0]);
    assert_eq!(all[0]["event"], "recover");
    assert_eq!(all[0]["account"], "db");
    assert_eq!(all[0]["outcome"], "success");
    // And a log it cannot write stops it before it has the credentials.
    let out = run_with(
        Command::new(&child)
            .env("OTP_LINK_STORE", &store)
            .env("OTP_LINK_AUDIT", dir.path())
            .args([&db.user_key, &db.pass_key]),
        "",
        HANG,
    );
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
}

/// 8 processes × 100 recovers at once give 800 whole, parseable lines: each
/// record is one write(2) on an O_APPEND descriptor.
#[test]
fn eight_processes_of_a_hundred_recovers_give_800_whole_lines() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let log = dir.path().join("audit.log");
    let db = secure(&store, "db");
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..100 {
                    let mut command = audited(&store, &log);
                    command.args(["recover", &db.user_key, &db.pass_key]);
                    assert_ok(&run(command, ""), "recover");
                }
            });
        }
    });
    let all = records(&log);
    assert_eq!(all.len(), 800);
    let pids: HashSet<u64> = all.iter().map(|r| r["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 800, "one record per process");
    for r in &all {
        assert_fields(r);
        assert_eq!(r["outcome"], "success");
        assert_eq!(r["account"], "db");
    }
}
