//! Launch keys end to end: `otp-link issue`, and launch keys spent by
//! `recover` and `exec` as separate processes, the way a host and its
//! children use them.
//!
//! - a pair opens exactly as many times as it was issued for, even when 16
//!   processes race for one use, and readers SIGKILLed at random (seeded)
//!   moments never grant a use more;
//! - spent, expired and revoked (rotate, `--replace`, remove) keys fail with
//!   exit 12 and a message saying which; an edited record with exit 4;
//! - `issue` and `prune` remove dead records, `list` counts live ones, and
//!   neither `issue` nor a spending `recover` rewrites the store or waits
//!   for its lock;
//! - launch files are private, and links planted in the launch directory
//!   are never followed.
//!
//! Unix only: the mechanism under test (modes, rename, SIGKILL) is.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use otp_link_tests::harness::*;

/// Launch keys as `issue` printed them.
#[derive(Clone, Debug)]
struct LaunchPair {
    user_key: String,
    pass_key: String,
}

impl LaunchPair {
    /// The launch record's id, from the key text.
    fn id(&self) -> &str {
        &self.user_key["otpl1-u-".len()..][..32]
    }
}

fn issue_with(store: &Path, account: &Issued, args: &[&str]) -> Output {
    let mut command = otp(store);
    command
        .arg("issue")
        .args(args)
        .args([&account.user_key, &account.pass_key]);
    run(command, "")
}

/// `otp-link issue ARGS` for the account; panics unless it prints a pair.
fn issue(store: &Path, account: &Issued, args: &[&str]) -> LaunchPair {
    let out = issue_with(store, account, args);
    assert_ok(&out, "issue");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "issue printed {text:?}");
    assert!(lines[0].starts_with("otpl1-u-") && lines[1].starts_with("otpl1-p-"));
    assert!(
        out.stderr.is_empty(),
        "issue said {:?}",
        stderr_of_bytes(&out.stderr)
    );
    LaunchPair {
        user_key: lines[0].to_owned(),
        pass_key: lines[1].to_owned(),
    }
}

fn stderr_of_bytes(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn recover_launch(store: &Path, pair: &LaunchPair) -> Output {
    let mut command = otp(store);
    command.args(["recover", &pair.user_key, &pair.pass_key]);
    run(command, "")
}

fn assert_opens(store: &Path, pair: &LaunchPair, account: &Issued) {
    let out = recover_launch(store, pair);
    assert_ok(&out, "recover with launch keys");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n{}\n", account.username, account.password)
    );
}

/// Asserts exit 12 with a message holding each of `says`; returns it.
fn assert_dead(out: &Output, says: &[&str], what: &str) -> String {
    let line = assert_fails(out, 12, what);
    for word in says {
        assert!(line.contains(word), "{what}: {line}");
    }
    assert!(line.contains("issue new launch keys"), "{what}: {line}");
    assert!(!line.contains("otpl1-"), "{what}: {line}");
    line
}

fn launch_dir(store: &Path) -> PathBuf {
    sibling(store, "launch")
}

/// The counts of a launch record's files, `ID.K` (there is one), or
/// `None` when it has none.
fn record_files(store: &Path, pair: &LaunchPair) -> Option<Vec<String>> {
    let prefix = format!("{}.", pair.id());
    let mut counts: Vec<String> = fs::read_dir(launch_dir(store))
        .ok()?
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    counts.sort();
    (!counts.is_empty()).then_some(counts)
}

/// The one record file of a launch record.
fn record_file(store: &Path, pair: &LaunchPair) -> PathBuf {
    let counts = record_files(store, pair).expect("the record's file");
    assert_eq!(counts.len(), 1, "{counts:?}");
    launch_dir(store).join(format!("{}.{}", pair.id(), counts[0]))
}

fn store_with_account() -> (tempfile::TempDir, PathBuf, Issued) {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let account = secure(&store, "db");
    (dir, store, account)
}

#[test]
fn a_launch_pair_opens_once_then_says_it_is_used_up() {
    let (_dir, store, account) = store_with_account();
    let pair = issue(&store, &account, &[]);
    assert_eq!(record_files(&store, &pair), Some(vec!["0".into()]));
    assert_opens(&store, &pair, &account);
    assert_eq!(record_files(&store, &pair), Some(vec!["1".into()]));
    let out = recover_launch(&store, &pair);
    assert_dead(&out, &["used up", "one use"], "second recover");
    // exec spends a use as recover does, and starts nothing when none is left.
    let pair = issue(&store, &account, &[]);
    let mut exec = otp(&store);
    exec.args(["exec", &pair.user_key, &pair.pass_key, "--", "sh", "-c"])
        .arg("printf '%s %s' \"$OTP_LINK_USERNAME\" \"$OTP_LINK_PASSWORD\"");
    let out = run(exec, "");
    assert_ok(&out, "exec with launch keys");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{} {}", account.username, account.password)
    );
    let mut again = otp(&store);
    again.args(["exec", &pair.user_key, &pair.pass_key, "--", "touch"]);
    let marker = store.with_file_name("started");
    again.arg(&marker);
    assert_dead(&run(again, ""), &["used up"], "exec of a spent pair");
    assert!(!marker.exists(), "exec started the program");
    // The account's own keys are untouched by all this.
    assert_recovers(&store, &account);
}

#[test]
fn uses_n_opens_exactly_n_times_and_verify_spends_none() {
    let (_dir, store, account) = store_with_account();
    let pair = issue(&store, &account, &["--uses", "3", "--ttl", "5m"]);
    for _ in 0..5 {
        let mut verify = otp(&store);
        verify.args(["verify", &pair.user_key, &pair.pass_key]);
        let out = run(verify, "");
        assert_ok(&out, "verify");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "db\n");
    }
    for _ in 0..3 {
        assert_opens(&store, &pair, &account);
    }
    assert_dead(
        &recover_launch(&store, &pair),
        &["all 3 uses"],
        "fourth recover",
    );
    let mut verify = otp(&store);
    verify.args(["verify", &pair.user_key, &pair.pass_key]);
    assert_dead(&run(verify, ""), &["used up"], "verify once spent");
}

#[test]
fn expired_launch_keys_say_when_they_expired() {
    let (_dir, store, account) = store_with_account();
    let pair = issue(&store, &account, &["--ttl", "1s", "--uses", "5"]);
    // `--ttl 1s` opens until the end of the second it was issued in.
    thread::sleep(Duration::from_millis(1100));
    let line = assert_dead(&recover_launch(&store, &pair), &["expired at"], "expired");
    assert!(line.contains("the clock reads"), "{line}");
    assert_eq!(record_files(&store, &pair), Some(vec!["0".into()]));
}

/// Starts `count` readers of one pair that all wait on stdin for the
/// keys, then hands them the keys at once: they race from the same instant.
fn race(store: &Path, pair: &LaunchPair, count: usize) -> Vec<Output> {
    let children: Vec<_> = (0..count)
        .map(|_| {
            let mut command = otp(store);
            command
                .args(["recover", "-", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            command.spawn().expect("starting a reader")
        })
        .collect();
    let keys = format!("{}\n{}\n", pair.user_key, pair.pass_key);
    let mut stdins: Vec<_> = Vec::new();
    let mut waiting = Vec::new();
    for mut child in children {
        stdins.push(child.stdin.take().expect("stdin"));
        waiting.push(child);
    }
    for stdin in &mut stdins {
        use std::io::Write;
        stdin
            .write_all(keys.as_bytes())
            .expect("handing over the keys");
    }
    drop(stdins);
    waiting
        .into_iter()
        .map(|child| child.wait_with_output().expect("a reader"))
        .collect()
}

#[test]
fn sixteen_processes_racing_for_one_use_exactly_one_wins() {
    let (_dir, store, account) = store_with_account();
    for (round, uses) in [1, 1, 1, 1, 1, 1, 5, 15].into_iter().enumerate() {
        let pair = issue(&store, &account, &["--uses", &uses.to_string()]);
        let outputs = race(&store, &pair, 16);
        let won: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
        assert_eq!(won.len(), uses, "round {round}: {} of 16 won", won.len());
        for out in &won {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{}\n{}\n", account.username, account.password)
            );
        }
        for out in outputs.iter().filter(|o| !o.status.success()) {
            assert_dead(out, &["used up"], &format!("round {round}: a loser"));
        }
        assert_eq!(record_files(&store, &pair), Some(vec![uses.to_string()]));
    }
}

/// SIGKILLed at any moment, a reader may take its use with it, but never
/// gives one more: the credentials printed, by the killed and the living,
/// are never more than the uses the record has spent, and never more than
/// its limit.
#[test]
fn readers_killed_at_random_moments_never_grant_an_extra_use() {
    const ROUNDS: usize = 24;
    const READERS: usize = 8;
    const USES: usize = 3;
    let (_dir, store, account) = store_with_account();
    let expected = format!("{}\n{}\n", account.username, account.password);
    let mut rng = ChaCha8Rng::seed_from_u64(0x0770_1a0c_0001);
    let (mut granted_total, mut lost_total, mut killed_total) = (0, 0, 0);
    for round in 0..ROUNDS {
        let pair = issue(
            &store,
            &account,
            &["--uses", &USES.to_string(), "--ttl", "5m"],
        );
        let delays: Vec<Option<Duration>> = (0..READERS)
            .map(|_| {
                // Half are killed, after 0 to 16 ms (log-uniform): before
                // they start, while they read the store, verify, rename, or
                // print. Every other round, all are killed the moment the
                // first rename shows instead.
                (rng.next_u32() % 2 == 0).then(|| {
                    Duration::from_micros(u64::from(rng.next_u32()) % (1 << (rng.next_u32() % 15)))
                })
            })
            .collect();
        let outputs: Vec<Output> = if round % 2 == 0 {
            killed_at_random(&store, &pair, &delays)
        } else {
            killed_at_a_rename(&store, &pair, READERS)
        };
        let killed = outputs
            .iter()
            .filter(|o| o.status.signal() == Some(9))
            .count();
        // Whoever printed the credentials was granted a use, killed or not.
        let mut granted = outputs
            .iter()
            .filter(|o| String::from_utf8_lossy(&o.stdout) == expected)
            .count();
        for out in outputs.iter().filter(|o| o.status.code().is_some()) {
            if !out.status.success() {
                assert_dead(out, &["used up"], &format!("round {round}: a reader"));
            }
        }
        // Then spend what is left, one by one.
        loop {
            let out = recover_launch(&store, &pair);
            if !out.status.success() {
                assert_dead(
                    &out,
                    &["used up"],
                    &format!("round {round}: the last reader"),
                );
                break;
            }
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
            granted += 1;
        }
        assert_eq!(
            record_files(&store, &pair),
            Some(vec![USES.to_string()]),
            "round {round}: every use spent"
        );
        assert!(
            granted <= USES,
            "round {round}: {granted} uses granted of {USES}"
        );
        granted_total += granted;
        lost_total += USES - granted;
        killed_total += killed;
    }
    eprintln!(
        "{ROUNDS} rounds of {READERS} readers: {killed_total} killed, {granted_total} uses granted, {lost_total} lost with killed readers"
    );
    assert!(killed_total > 0, "no reader was killed");
    // Lost uses are those of readers killed between their rename and their
    // print, the window the kills at a rename aim at (they rarely hit it:
    // it is a few microseconds).
}

fn reader(store: &Path, pair: &LaunchPair) -> std::process::Child {
    let mut command = otp(store);
    command
        .args(["recover", &pair.user_key, &pair.pass_key])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("a reader")
}

/// Readers of one pair, each SIGKILLed after its delay, if it has one.
fn killed_at_random(store: &Path, pair: &LaunchPair, delays: &[Option<Duration>]) -> Vec<Output> {
    thread::scope(|scope| {
        let handles: Vec<_> = delays
            .iter()
            .map(|&delay| {
                scope.spawn(move || {
                    let mut child = reader(store, pair);
                    if let Some(delay) = delay {
                        thread::sleep(delay);
                        let _ = child.kill();
                    }
                    child.wait_with_output().expect("a reader")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Readers of one pair, all SIGKILLed the moment the first rename of its
/// record file shows: the winner between its rename and its print, the
/// others wherever they are.
fn killed_at_a_rename(store: &Path, pair: &LaunchPair, count: usize) -> Vec<Output> {
    let before = record_files(store, pair);
    let mut children: Vec<_> = (0..count).map(|_| reader(store, pair)).collect();
    let start = std::time::Instant::now();
    while record_files(store, pair) == before && start.elapsed() < HANG {
        thread::yield_now();
    }
    for child in &mut children {
        let _ = child.kill();
    }
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("a reader"))
        .collect()
}

#[test]
fn an_edited_use_limit_or_not_after_fails_authentication() {
    let (_dir, store, account) = store_with_account();
    // A spent record, its limit raised to gain a use.
    let pair = issue(&store, &account, &[]);
    assert_opens(&store, &pair, &account);
    let file = record_file(&store, &pair);
    let bytes = fs::read(&file).unwrap();
    let edited = replace_once(&bytes, b"\x64uses\x01", b"\x64uses\x02");
    write_private(&file, &edited);
    let out = recover_launch(&store, &pair);
    assert_fails(&out, 4, "uses edited");
    assert!(stderr_of(&out).contains("authentication failed"));
    assert_eq!(fs::read(&file).unwrap(), edited, "a use was spent");
    // An expired record, its not_after moved a day on.
    let pair = issue(&store, &account, &["--ttl", "1s"]);
    thread::sleep(Duration::from_millis(1100));
    let file = record_file(&store, &pair);
    let bytes = fs::read(&file).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| &w[..11] == b"\x69not_after\x1a")
        .expect("not_after")
        + 11;
    let not_after = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut edited = bytes.clone();
    edited[at..at + 4].copy_from_slice(&(not_after + 86_400).to_be_bytes());
    write_private(&file, &edited);
    assert_fails(&recover_launch(&store, &pair), 4, "not_after edited");
}

fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the bytes to replace");
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

#[test]
fn rotate_replace_and_remove_revoke_outstanding_launch_keys() {
    let (_dir, store, account) = store_with_account();
    // rotate
    let pair = issue(&store, &account, &["--uses", "2"]);
    assert_opens(&store, &pair, &account);
    let mut rotate = otp(&store);
    rotate.args(["rotate", &account.user_key, &account.pass_key]);
    let out = run(rotate, "");
    assert_ok(&out, "rotate");
    let account = with_new_keys(account, &out);
    assert_dead(
        &recover_launch(&store, &pair),
        &["revoked", "'db'", "rotated"],
        "after rotate",
    );
    // --replace
    let pair = issue(&store, &account, &[]);
    let (mut replace, input) = secure_command(&store, "db");
    replace.arg("--replace");
    let out = run(replace, &input);
    assert_ok(&out, "replace");
    let account = with_new_keys(account, &out);
    assert_dead(
        &recover_launch(&store, &pair),
        &["revoked"],
        "after replace",
    );
    // remove
    let pair = issue(&store, &account, &[]);
    let mut remove = otp(&store);
    remove.args(["remove", "db"]);
    assert_ok(&run(remove, ""), "remove");
    assert_dead(&recover_launch(&store, &pair), &["revoked"], "after remove");
}

/// The account with the keys a rotate or a replace printed.
fn with_new_keys(account: Issued, out: &Output) -> Issued {
    let (user_key, pass_key) = text_keys(&out.stdout).expect("new keys");
    Issued {
        user_key,
        pass_key,
        ..account
    }
}

/// What `otp-link prune` printed on stdout.
fn prune(store: &Path) -> String {
    let mut command = otp(store);
    command.arg("prune");
    let out = run(command, "");
    assert_ok(&out, "prune");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn issue_removes_spent_and_expired_records_and_prune_every_dead_one() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let (a, b) = (secure(&store, "a"), secure(&store, "b"));
    let spent = issue(&store, &a, &[]);
    assert_opens(&store, &spent, &a);
    let expired = issue(&store, &a, &["--ttl", "1s"]);
    let revoked = issue(&store, &b, &[]);
    let live = issue(&store, &a, &["--uses", "2"]);
    thread::sleep(Duration::from_millis(1100));
    let mut rotate = otp(&store);
    rotate.args(["rotate", &b.user_key, &b.pass_key]);
    let out = run(rotate, "");
    assert_ok(&out, "rotate b");
    let b = with_new_keys(b, &out);
    // issue removes the spent and the expired record, not the revoked one
    // (it does not read the whole store to tell).
    let fresh = issue(&store, &b, &["--ttl", "5m"]);
    for (pair, left) in [
        (&spent, false),
        (&expired, false),
        (&revoked, true),
        (&live, true),
        (&fresh, true),
    ] {
        assert_eq!(record_files(&store, pair).is_some(), left, "{pair:?}");
    }
    assert_eq!(prune(&store), "removed 1 dead launch record\n");
    assert!(record_files(&store, &revoked).is_none());
    assert_opens(&store, &live, &a);
    assert_opens(&store, &fresh, &b);
    assert_opens(&store, &live, &a);
    assert_eq!(prune(&store), "removed 2 dead launch records\n");
    let left: Vec<_> = fs::read_dir(launch_dir(&store)).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let mut again = otp(&store);
    again.arg("prune");
    let out = run(again, "");
    assert_ok(&out, "prune with nothing dead");
    assert!(out.stdout.is_empty());
    assert!(
        stderr_of(&out).contains("nothing was removed"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn launch_files_are_private_and_the_store_is_never_rewritten() {
    let (_dir, store, account) = store_with_account();
    let before = fs::metadata(&store).unwrap();
    let bytes = fs::read(&store).unwrap();
    // Whatever the umask.
    let pair = {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("umask 000; exec \"$0\" --store \"$1\" issue \"$2\" \"$3\"")
            .arg(otp_link())
            .arg(&store)
            .args([&account.user_key, &account.pass_key]);
        let out = run(command, "");
        assert_ok(&out, "issue under umask 000");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        LaunchPair {
            user_key: lines.next().unwrap().into(),
            pass_key: lines.next().unwrap().into(),
        }
    };
    assert_eq!(mode(&launch_dir(&store)), 0o700);
    assert_eq!(mode(&record_file(&store, &pair)), 0o600);
    assert_opens(&store, &pair, &account);
    assert_eq!(mode(&record_file(&store, &pair)), 0o600);
    let after = fs::metadata(&store).unwrap();
    assert_eq!(fs::read(&store).unwrap(), bytes);
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec()),
        (before.ino(), before.mtime(), before.mtime_nsec()),
        "the store was rewritten"
    );
    assert!(!sibling(&store, "tmp").exists());
}

/// Neither issuing nor spending waits for the writers' lock: with a writer
/// holding it, both work at once.
#[test]
fn issue_and_spend_take_no_lock() {
    let (_dir, store, account) = store_with_account();
    let lock = fs::File::options()
        .read(true)
        .write(true)
        .open(sibling(&store, "lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut command = otp(&store);
    command.env("OTP_LINK_LOCK_TIMEOUT_MS", "0").args([
        "issue",
        &account.user_key,
        &account.pass_key,
    ]);
    let out = run(command, "");
    assert_ok(&out, "issue while the lock is held");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let pair = LaunchPair {
        user_key: lines.next().unwrap().into(),
        pass_key: lines.next().unwrap().into(),
    };
    assert_opens(&store, &pair, &account);
    drop(lock);
}

#[test]
fn keys_that_cannot_be_printed_leave_no_live_record() {
    let (_dir, store, account) = store_with_account();
    for target in ["/dev/full", "/dev/null"] {
        let mut command = otp(&store);
        command
            .args(["issue", &account.user_key, &account.pass_key])
            .stdout(fs::File::options().write(true).open(target).unwrap());
        let out = command.output().unwrap();
        let code = if target == "/dev/full" { 10 } else { 2 };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{target}: {}",
            stderr_of(&out)
        );
        let left: Vec<_> = fs::read_dir(launch_dir(&store))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{target}: {left:?}");
    }
}

#[test]
fn list_counts_outstanding_launch_records() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let (a, b) = (secure(&store, "a"), secure(&store, "b"));
    let first = issue(&store, &a, &[]);
    let _second = issue(&store, &a, &["--uses", "4"]);
    let _third = issue(&store, &b, &[]);
    assert_opens(&store, &first, &a);
    let mut list = otp(&store);
    list.args(["list", "--format", "json"]);
    let out = run(list, "");
    assert_ok(&out, "list");
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let counts: Vec<(String, u64)> = listing["accounts"]
        .as_array()
        .expect("list JSON's accounts")
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_owned(),
                r["launch_records"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("a".into(), 1), ("b".into(), 1)]);
    let mut list = otp(&store);
    list.arg("list");
    let out = run(list, "");
    let text = String::from_utf8(out.stdout).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    let column = header
        .iter()
        .position(|&h| h == "LAUNCH")
        .expect("a LAUNCH column");
    for (line, count) in text.lines().skip(1).zip(["1", "1"]) {
        assert_eq!(line.split_whitespace().nth(column), Some(count), "{text}");
    }
    assert!(!text.contains("otpl1-"), "{text}");
}

#[test]
fn launch_keys_are_refused_where_an_accounts_own_keys_are_needed() {
    let (_dir, store, account) = store_with_account();
    let pair = issue(&store, &account, &[]);
    for command in ["rotate", "issue"] {
        let mut c = otp(&store);
        c.args([command, &pair.user_key, &pair.pass_key]);
        let line = assert_fails(&run(c, ""), 3, command);
        assert!(line.contains("these are launch keys"), "{line}");
    }
    let mut mixed = otp(&store);
    mixed.args(["recover", &pair.user_key, &account.pass_key]);
    let line = assert_fails(&run(mixed, ""), 3, "a mixed pair");
    assert!(line.contains("launch key"), "{line}");
    // Nothing was spent.
    assert_opens(&store, &pair, &account);
}

#[test]
fn issue_reads_keys_like_recover_and_checks_its_limits() {
    let (_dir, store, account) = store_with_account();
    let mut from_stdin = otp(&store);
    from_stdin.args(["issue", "-", "-", "--format", "json", "--uses", "2"]);
    let out = run(
        from_stdin,
        &format!("{}\n{}\n", account.user_key, account.pass_key),
    );
    assert_ok(&out, "issue - -");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["account"], "db");
    assert_eq!(json["uses"], 2);
    assert!(json["not_after"].as_str().unwrap().ends_with('Z'));
    let pair = LaunchPair {
        user_key: json["user_key"].as_str().unwrap().into(),
        pass_key: json["pass_key"].as_str().unwrap().into(),
    };
    assert_opens(&store, &pair, &account);
    let mut from_env = otp(&store);
    from_env
        .env(
            "HOST_KEYS",
            format!("{} {}", account.user_key, account.pass_key),
        )
        .args(["issue", "--keys-env", "HOST_KEYS"]);
    assert_ok(&run(from_env, ""), "issue --keys-env");
    for (args, says) in [
        (["--ttl", "60"], "is not a duration"),
        (["--ttl", "8d"], "at most 7d"),
        (["--ttl", "0s"], "not a positive duration"),
        (["--uses", "0"], "1..=1000000"),
        (["--uses", "1000001"], "1..=1000000"),
    ] {
        let out = issue_with(&store, &account, &args);
        let line = assert_fails_hiding(&out, 2, &format!("{args:?}"), &[&account.pass_key]);
        assert!(line.contains(says), "{args:?}: {line}");
    }
}

#[test]
fn a_launch_directory_others_may_write_is_refused() {
    let (_dir, store, account) = store_with_account();
    let pair = issue(&store, &account, &[]);
    set_mode(&launch_dir(&store), 0o770);
    let line = assert_fails(&recover_launch(&store, &pair), 9, "group-writable");
    assert!(line.contains("chmod 700"), "{line}");
    set_mode(&launch_dir(&store), 0o700);
    set_mode(&record_file(&store, &pair), 0o644);
    let line = assert_fails(&recover_launch(&store, &pair), 9, "readable record");
    assert!(line.contains("chmod 600"), "{line}");
    set_mode(&record_file(&store, &pair), 0o600);
    set_mode(&launch_dir(&store), 0o755);
    assert_fails(&issue_with(&store, &account, &[]), 9, "issue into 0755");
    set_mode(&launch_dir(&store), 0o700);
    assert_opens(&store, &pair, &account);
}

/// A symbolic link planted where otp-link opens a launch directory or
/// record is refused (exit 9) and never followed: what it points to stays
/// as it was. One planted under a name of a record is never followed, nor
/// removed, by the clean-up.
#[test]
fn planted_links_in_the_launch_directory_are_never_followed() {
    let (dir, store, account) = store_with_account();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    set_mode(&elsewhere, 0o700);
    let snapshot = |path: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut all = Vec::new();
        let mut stack = vec![path.to_owned()];
        while let Some(p) = stack.pop() {
            for e in fs::read_dir(&p).unwrap() {
                let e = e.unwrap().path();
                if e.is_dir() {
                    stack.push(e.clone());
                    all.push((e, Vec::new()));
                } else {
                    all.push((e.clone(), fs::read(&e).unwrap()));
                }
            }
        }
        all.sort();
        all
    };

    // The record file `ID.0` is a link to a (real) record elsewhere.
    let pair = issue(&store, &account, &[]);
    let file = record_file(&store, &pair);
    fs::rename(&file, elsewhere.join("0")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("0"), &file).unwrap();
    let before = snapshot(&elsewhere);
    let line = assert_fails(&recover_launch(&store, &pair), 9, "record file a link");
    assert!(line.contains("symbolic link"), "{line}");
    assert_eq!(snapshot(&elsewhere), before);

    // Links named as records and as a pending record, to a record
    // elsewhere: issue and prune leave them, and what they point to, alone.
    let record_link = launch_dir(&store).join(format!("{}.0", "ab".repeat(16)));
    let pending_link = launch_dir(&store).join(format!("{}.new", "cd".repeat(16)));
    for link in [&record_link, &pending_link] {
        std::os::unix::fs::symlink(elsewhere.join("0"), link).unwrap();
    }
    let before = snapshot(&elsewhere);
    let _ = issue(&store, &account, &[]);
    prune(&store);
    for link in [&record_link, &pending_link] {
        assert!(fs::symlink_metadata(link).unwrap().is_symlink());
    }
    assert_eq!(snapshot(&elsewhere), before);

    // STORE.launch itself is a link to a directory elsewhere.
    let pair = issue(&store, &account, &[]);
    let real = store.with_file_name("launch-moved");
    fs::rename(launch_dir(&store), &real).unwrap();
    let target = dir.path().join("target");
    fs::create_dir(&target).unwrap();
    set_mode(&target, 0o700);
    std::os::unix::fs::symlink(&target, launch_dir(&store)).unwrap();
    assert_fails(&recover_launch(&store, &pair), 9, "launch directory a link");
    assert_fails(&issue_with(&store, &account, &[]), 9, "issue into a link");
    let mut list = otp(&store);
    list.arg("list");
    assert_fails(&run(list, ""), 9, "list through a link");
    assert_eq!(
        fs::read_dir(&target).unwrap().count(),
        0,
        "files created through the link"
    );
}

/// Root issuing launch keys for another user's store gives the launch files
/// to that user, who spends them.
#[test]
fn root_issues_launch_records_that_the_stores_owner_can_spend() {
    if !root_or_skip("to issue launch keys for another user's store") {
        return;
    }
    let dir = tempdir();
    let nobody = AsNobody::new(dir.path());
    let home = nobody.home(dir.path(), "home", 0o700);
    let store = home.join("store.cbor");
    let mut secure = nobody.otp(&store);
    secure.args(["secure-account", "db"]);
    let out = run(secure, "u\np\n");
    assert_ok(&out, "secure as nobody");
    let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
    let account = Issued {
        name: "db".into(),
        username: "u".into(),
        password: "p".into(),
        user_key,
        pass_key,
    };
    let pair = issue(&store, &account, &[]);
    for path in [launch_dir(&store), record_file(&store, &pair)] {
        let m = fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", path.display());
    }
    let mut recover = nobody.otp(&store);
    recover.args(["recover", &pair.user_key, &pair.pass_key]);
    let out = run(recover, "");
    assert_ok(&out, "recover as nobody");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "u\np\n");
}

/// The host script of README.md's "One-time launch keys" runs as printed:
/// each job's child gets launch keys that open the credentials once, the
/// account's keys never appear on a command line, and when no launch keys
/// can be issued the job is not started and the run fails.
#[test]
fn the_readmes_host_script_starts_each_child_with_a_fresh_pair() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
        .expect("README.md");
    let section = &readme[readme.find("## One-time launch keys").expect("the section")..];
    let start = section.find("```sh\n#!/bin/sh\n").expect("the host script") + "```sh\n".len();
    let script = &section[start..start + section[start..].find("\n```").unwrap() + 1];
    let (dir, store, account) = store_with_account();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let run_jobs = bin.join("run-jobs");
    fs::write(&run_jobs, script).unwrap();
    set_mode(&run_jobs, 0o755);
    std::os::unix::fs::symlink(otp_link(), bin.join("otp-link")).unwrap();
    // The child: spends its pair through exec, and records what it got and
    // the arguments it was started with.
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let child = bin.join("report-child");
    fs::write(
        &child,
        "#!/bin/sh\nprintf '%s\\n' \"$*\" > \"$OUT/$3.args\"\nexec otp-link exec --user-var U --pass-var P \"$1\" \"$2\" -- sh -c 'printf \"%s %s\" \"$U\" \"$P\" > \"$OUT/$0.creds\"' \"$3\"\n",
    )
    .unwrap();
    set_mode(&child, 0o755);
    let keys_file = dir.path().join("reports-db.keys");
    write_private(
        &keys_file,
        format!("{}\n{}\n", account.user_key, account.pass_key).as_bytes(),
    );
    let script_run = |jobs: &[&str]| {
        let mut command = Command::new(&run_jobs);
        command
            .args(jobs)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("OTP_LINK_STORE", &store)
            .env("ACCOUNT_KEYS", &keys_file)
            .env("OUT", &out_dir)
            .env_remove("OTP_LINK_AUDIT");
        run(command, "")
    };
    let out = script_run(&["daily", "weekly", "monthly"]);
    assert_ok(&out, "run-jobs");
    for job in ["daily", "weekly", "monthly"] {
        let creds = fs::read_to_string(out_dir.join(format!("{job}.creds"))).unwrap();
        assert_eq!(creds, format!("{} {}", account.username, account.password));
        let args = fs::read_to_string(out_dir.join(format!("{job}.args"))).unwrap();
        assert!(args.starts_with("otpl1-u-"), "{job}: {args}");
        assert!(!args.contains(&account.user_key[..40]), "{job}: {args}");
        // The pair the child got is spent.
        let words: Vec<&str> = args.split_whitespace().collect();
        let pair = LaunchPair {
            user_key: words[0].into(),
            pass_key: words[1].into(),
        };
        assert_dead(&recover_launch(&store, &pair), &["used up"], job);
    }
    // Account keys that open nothing: the host says so, starts nothing,
    // and fails.
    write_private(&keys_file, b"otp1-u-x\notp1-p-y\n");
    let out = script_run(&["late"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("no launch keys for late"));
    assert!(!out_dir.join("late.args").exists());
}

/// With an audit log, `issue` writes an attempt before the launch record
/// takes effect and a success after, and each recover with launch keys one
/// record: a success, then a failure with exit 12, all naming the account
/// and the launch record's id.
#[test]
fn issue_and_spending_recovers_are_audited() {
    let (dir, store, account) = store_with_account();
    let log = dir.path().join("audit.log");
    let with_log = |args: &[&str]| {
        let mut command = otp(&store);
        command.arg("--audit").arg(&log).args(args);
        run(command, "")
    };
    let out = with_log(&["issue", &account.user_key, &account.pass_key]);
    assert_ok(&out, "audited issue");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let pair = LaunchPair {
        user_key: lines.next().unwrap().into(),
        pass_key: lines.next().unwrap().into(),
    };
    assert_ok(
        &with_log(&["recover", &pair.user_key, &pair.pass_key]),
        "audited recover",
    );
    assert_dead(
        &with_log(&["recover", &pair.user_key, &pair.pass_key]),
        &["used up"],
        "audited second recover",
    );
    let records: Vec<serde_json::Value> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let rows: Vec<(String, String, serde_json::Value)> = records
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
                r["exit_code"].clone(),
            )
        })
        .collect();
    let row = |event: &str, outcome: &str, code: Option<i64>| {
        (
            event.to_owned(),
            outcome.to_owned(),
            code.map_or(serde_json::Value::Null, Into::into),
        )
    };
    assert_eq!(
        rows,
        [
            row("issue", "attempt", None),
            row("issue", "success", Some(0)),
            row("recover", "success", Some(0)),
            row("recover", "failure", Some(12)),
        ]
    );
    assert_eq!(records[0]["account"], "db");
    assert_eq!(records[2]["account"], "db");
    for r in &records[2..] {
        assert_eq!(r["record_id"], pair.id(), "{r}");
    }
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("otpl1-") && !text.contains("otp1-"),
        "{text}"
    );
}

/// A Rust child through `otp_core::recover` (the example child, as a host
/// starts it) spends launch keys as `otp-link recover` does: once, then
/// exit 12.
#[test]
fn the_library_recover_spends_launch_keys() {
    let (_dir, store, account) = store_with_account();
    let pair = issue(&store, &account, &[]);
    let child = otp_link_tests::example_bin("otp-core", "child");
    let start = || {
        let mut command = Command::new(&child);
        command
            .env("OTP_LINK_STORE", &store)
            .env_remove("OTP_LINK_AUDIT")
            .args([&pair.user_key, &pair.pass_key]);
        run(command, "")
    };
    let out = start();
    assert_ok(&out, "the child");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("recovered a "));
    assert_eq!(record_files(&store, &pair), Some(vec!["1".into()]));
    let out = start();
    assert_eq!(out.status.code(), Some(12), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("used up"), "{}", stderr_of(&out));
}
