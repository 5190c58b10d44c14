//! The store survives crashes, concurrent writers and hostile files.
//!
//! Every test drives the `otp-link` binary as separate processes on a store
//! in a temporary directory, the way administrators and hosts do:
//!
//! - writers killed with SIGKILL at random (seeded) moments never leave a
//!   store that does not parse, and never lose an account whose keys were
//!   printed;
//! - concurrent writers lose nothing, and readers of accounts nobody touches
//!   never fail while writers work, nor while a writer holds the lock;
//! - empty, truncated, random, deeply nested, lying-length, future-version,
//!   oversized and non-regular files each give one clean `otp-link: ` line
//!   naming the path and the documented exit code, never a panic or a hang,
//!   and a failed write leaves the store byte for byte as it was;
//! - readers refuse a store others can access or own (exit 9, `chmod 600`),
//!   files and directories are created private, symbolic links are followed
//!   and kept, a busy lock times out writers (exit 10) but not readers, and
//!   `recover` makes itself non-dumpable before it decrypts.
//!
//! Randomness is seeded (ChaCha8), so a failure reproduces; no assertion
//! depends on how long anything takes. Unix only: the mechanism under test
//! (modes, owners, flock, rename, SIGKILL, /proc) is.

#![cfg(unix)]

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use otp_core::vectors::parse_store;
use otp_core::{Credentials, Store};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use otp_link_tests::harness::*;

// ------------------------------------------------------------ fault injection

/// What became of one writer process.
struct Finished {
    names: Vec<String>,
    killed: bool,
    /// It had the temporary file open as the kill was sent: it was killed
    /// holding the lock, while writing, syncing or renaming the new store.
    mid_write: bool,
    issued: Vec<Issued>,
}

/// True when process `pid` has `path` open (Linux /proc; false elsewhere).
fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// When a writer is SIGKILLed.
#[derive(Clone, Copy, Debug)]
enum Kill {
    Never,
    /// After this long from its start.
    After(Duration),
    /// This long after it has opened the temporary file: holding the lock,
    /// writing, syncing or renaming the new store.
    InWrite(Duration),
}

/// Runs one writer and SIGKILLs it as `kill` says.
fn run_writer(store: &Path, names: Vec<String>, kill: Kill) -> Finished {
    let (command, input) = if names.len() == 1 {
        secure_command(store, &names[0])
    } else {
        batch_command(store, &names)
    };
    let batch = names.len() > 1;
    let tmp = sibling(store, "tmp");
    let mut child = spawn(command, &input);
    let mut mid_write = false;
    match kill {
        Kill::Never => {}
        Kill::After(delay) => {
            thread::sleep(delay);
            mid_write = has_open(child.id(), &tmp);
            // Fails only when the child is already reaped, which it is not.
            let _ = child.kill();
        }
        Kill::InWrite(delay) => {
            // Watch its open files until the temporary file shows up; a
            // writer that finishes between two looks is not killed.
            while child.try_wait().expect("try_wait").is_none() {
                if has_open(child.id(), &tmp) {
                    mid_write = true;
                    thread::sleep(delay);
                    let _ = child.kill();
                    break;
                }
                thread::sleep(Duration::from_micros(50));
            }
        }
    }
    let out = child.wait_with_output().expect("waiting for a writer");
    let killed = out.status.signal() == Some(9);
    let issued = if batch {
        batch_keys(&out.stdout)
    } else {
        text_keys(&out.stdout)
            .map(|(user_key, pass_key)| Issued {
                name: names[0].clone(),
                username: username_of(&names[0]),
                password: password_of(&names[0]),
                user_key,
                pass_key,
            })
            .into_iter()
            .collect()
    };
    if !killed {
        assert_ok(&out, &format!("writer {names:?}"));
        assert_eq!(issued.len(), names.len(), "writer {names:?} printed keys");
    }
    Finished {
        names,
        killed,
        mid_write: killed && mid_write,
        issued,
    }
}

#[test]
fn killed_writers_never_corrupt_the_store_or_lose_printed_keys() {
    const ROUNDS: usize = 8;
    const WRITERS: usize = 26;
    const BALLAST: usize = 2000;
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    // Ballast: a store of some hundreds of KiB takes each writer long enough
    // to read, copy and fsync that kills land in the middle of writes too,
    // not only before and after.
    let ballast: Vec<(String, Credentials)> = (0..BALLAST)
        .map(|i| {
            (
                format!("ballast{i}"),
                Credentials::new("u".into(), "p".into()),
            )
        })
        .collect();
    Store::at(&store)
        .secure_batch(ballast.iter().map(|(n, c)| (n.as_str(), c)), 25)
        .and_then(otp_core::Pending::commit)
        .expect("ballast");
    let mut rng = ChaCha8Rng::seed_from_u64(0x0770_11c4_0001);
    let mut issued: Vec<Issued> = Vec::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let (mut writes, mut killed, mut mid_write) = (0, 0, 0);
    // The accounts of killed writers that were not written.
    let mut killed_names: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        // Concurrent writers, every fourth a batch of three accounts. Half
        // of them are killed: most after a log-uniform delay of 0 to 262 ms
        // (before they start, while they wait for the lock, while they read
        // and seal, or after they finish), some 0 to 2 ms after they have
        // opened the temporary file (while they write, sync or rename it).
        let plans: Vec<(Vec<String>, Kill)> = (0..WRITERS)
            .map(|i| {
                let names: Vec<String> = if i % 4 == 3 {
                    (0..3).map(|k| format!("r{round}-w{i}-b{k}")).collect()
                } else {
                    vec![format!("r{round}-w{i}")]
                };
                let kind = rng.next_u32() % 10;
                let micros = |rng: &mut ChaCha8Rng, bits: u32| {
                    u64::from(rng.next_u32()) % (1 << (rng.next_u32() % bits))
                };
                let kill = match kind {
                    0..=4 => Kill::Never,
                    5..=7 => Kill::After(Duration::from_micros(micros(&mut rng, 19))),
                    _ => Kill::InWrite(Duration::from_micros(micros(&mut rng, 12))),
                };
                (names, kill)
            })
            .collect();
        let finished: Vec<Finished> = thread::scope(|scope| {
            let handles: Vec<_> = plans
                .into_iter()
                .map(|(names, kill)| {
                    let store = &store;
                    scope.spawn(move || run_writer(store, names, kill))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("writer thread"))
                .collect()
        });
        for f in &finished {
            writes += 1;
            killed += usize::from(f.killed);
            mid_write += usize::from(f.mid_write);
            started.extend(f.names.iter().cloned());
        }

        // The store parses, as a whole, after every round.
        let bytes = fs::read(&store).expect("a store exists after the first round");
        let count = parse_store(&bytes)
            .unwrap_or_else(|e| panic!("round {round}: the store does not parse: {e}"));
        // `list` works and shows every account whose keys were printed, and
        // nothing that no writer asked for.
        let mut listed: BTreeSet<String> = list_names(&store).into_iter().collect();
        assert_eq!(
            listed.len(),
            count,
            "round {round}: list shows every account"
        );
        for account in &issued {
            assert!(
                listed.contains(&account.name),
                "round {round}: {} lost after its keys were printed",
                account.name
            );
        }
        // A writer's accounts are in the store only once its keys were
        // printed in full: keys go out before the rename that commits them.
        // A writer killed before that leaves nothing, and its printed keys
        // (if any) open nothing: the account can be secured again.
        for f in finished {
            let present: Vec<&String> = f.names.iter().filter(|n| listed.contains(*n)).collect();
            if !present.is_empty() {
                assert_eq!(present.len(), f.names.len(), "round {round}: half a batch");
                assert_eq!(
                    f.issued.len(),
                    f.names.len(),
                    "round {round}: {:?} written without its keys printed",
                    f.names
                );
                issued.extend(f.issued);
            } else {
                assert!(
                    f.killed,
                    "round {round}: {:?} exited 0 but is missing",
                    f.names
                );
                killed_names.extend(f.names);
            }
        }
        for i in 0..BALLAST {
            assert!(
                listed.remove(&format!("ballast{i}")),
                "round {round}: ballast lost"
            );
        }
        assert!(
            listed.is_subset(&started),
            "round {round}: accounts nobody secured"
        );
        // A temporary file a killed writer left behind is private.
        let tmp = sibling(&store, "tmp");
        if tmp.exists() {
            assert_eq!(mode(&tmp), 0o600, "round {round}: leftover temporary file");
        }
    }
    let listed: BTreeSet<String> = list_names(&store).into_iter().collect();
    assert_eq!(parse_store(&fs::read(&store).unwrap()), Ok(listed.len()));
    eprintln!(
        "{writes} writer processes, {killed} killed by SIGKILL ({mid_write} while writing the \
         temporary file; {} accounts of killed writers were not written), {} accounts with \
         printed keys",
        killed_names.len(),
        issued.len()
    );
    assert!(writes >= 200);
    assert!(killed > 0, "no writer was killed: the test tested nothing");
    // Every account whose keys were printed recovers with them, after all
    // the rounds of kills that followed its write.
    assert_all_recover(&store, &issued);
}

// ---------------------------------------------------------------- concurrency

#[test]
fn eight_concurrent_writers_of_25_accounts_lose_nothing() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let issued: Vec<Issued> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|writer| {
                let store = &store;
                scope.spawn(move || {
                    (0..25)
                        .map(|i| secure(store, &format!("writer{writer}-account{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer thread"))
            .collect()
    });
    assert_eq!(issued.len(), 200);
    assert_eq!(parse_store(&fs::read(&store).unwrap()), Ok(200));
    let listed: BTreeSet<String> = list_names(&store).into_iter().collect();
    let expected: BTreeSet<String> = issued.iter().map(|a| a.name.clone()).collect();
    assert_eq!(listed, expected, "accounts lost or invented");
    assert_all_recover(&store, &issued);
}

#[test]
fn readers_of_untouched_accounts_never_fail_while_writers_work() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let steady: Vec<Issued> = (0..3)
        .map(|i| secure(&store, &format!("steady{i}")))
        .collect();
    let writing = AtomicBool::new(true);
    let reads = AtomicUsize::new(0);
    thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (store, steady, writing, reads) = (&store, &steady, &writing, &reads);
                scope.spawn(move || {
                    // At least a few rounds, however fast the writers are.
                    let mut rounds = 0;
                    while writing.load(Ordering::SeqCst) || rounds < 3 {
                        for account in steady {
                            assert_recovers(store, account);
                            reads.fetch_add(1, Ordering::SeqCst);
                        }
                        let names = list_names(store);
                        assert!(steady.iter().all(|a| names.contains(&a.name)));
                        rounds += 1;
                    }
                })
            })
            .collect();
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let store = &store;
                scope.spawn(move || {
                    // Secure, rotate, replace and remove this writer's own
                    // accounts: every kind of write, none touching `steady`.
                    let mut mine: Vec<Issued> = Vec::new();
                    for i in 0..12 {
                        mine.push(secure(store, &format!("busy{writer}-{i}")));
                        match i % 4 {
                            1 => {
                                let account = mine.last_mut().unwrap();
                                let mut command = otp(store);
                                command.args(["rotate", &account.user_key, &account.pass_key]);
                                let out = run(command, "");
                                assert_ok(&out, "rotate");
                                let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
                                (account.user_key, account.pass_key) = (user_key, pass_key);
                            }
                            2 => {
                                let account = mine.last_mut().unwrap();
                                let (mut command, input) = secure_command(store, &account.name);
                                command.arg("--replace");
                                let out = run(command, &input);
                                assert_ok(&out, "secure-account --replace");
                                let (user_key, pass_key) = text_keys(&out.stdout).unwrap();
                                (account.user_key, account.pass_key) = (user_key, pass_key);
                            }
                            3 => {
                                let gone = mine.pop().unwrap();
                                let mut command = otp(store);
                                command.args(["remove", &gone.name]);
                                assert_ok(&run(command, ""), "remove");
                            }
                            _ => {}
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut busy = Vec::new();
        for w in writers {
            busy.extend(w.join().expect("writer thread"));
        }
        writing.store(false, Ordering::SeqCst);
        for r in readers {
            r.join().expect("reader thread");
        }
        assert_all_recover(&store, &busy);
        assert_eq!(parse_store(&fs::read(&store).unwrap()), Ok(3 + busy.len()));
    });
    eprintln!(
        "{} recoveries of untouched accounts during the writes",
        reads.load(Ordering::SeqCst)
    );
}

// -------------------------------------------------------------- hostile files

/// A CBOR head: major type and argument, in the shortest encoding.
fn head(major: u8, n: u64) -> Vec<u8> {
    let mt = major << 5;
    match n {
        0..=23 => vec![mt | n as u8],
        24..=0xff => vec![mt | 24, n as u8],
        0x100..=0xffff => [&[mt | 25][..], &(n as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[mt | 26][..], &(n as u32).to_be_bytes()].concat(),
        _ => [&[mt | 27][..], &n.to_be_bytes()].concat(),
    }
}

fn tstr(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}

fn bstr(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}

/// The top-level map up to the version, with `entries` entries claimed.
fn prelude(entries: u64, tag: &str, version: u64) -> Vec<u8> {
    [
        head(5, entries),
        tstr("format"),
        tstr(tag),
        tstr("version"),
        head(0, version),
    ]
    .concat()
}

/// A valid prelude and the `"accounts"` key: an array head comes next.
fn before_accounts() -> Vec<u8> {
    [prelude(3, "otp-link store", 1), tstr("accounts")].concat()
}

/// The record id of every account entry in the hostile corpus.
const HOSTILE_ID: [u8; 16] = [7; 16];

/// One account entry up to its record: the record byte string comes next.
fn before_record() -> Vec<u8> {
    [
        before_accounts(),
        head(4, 1),
        head(4, 3),
        bstr(&HOSTILE_ID),
        tstr("db"),
    ]
    .concat()
}

/// Inside a record byte string up to the username's sealed array.
fn record_before_username(width: u64) -> Vec<u8> {
    [
        head(5, 5),
        tstr("width"),
        head(0, width),
        tstr("created"),
        head(0, 1_795_633_662),
        tstr("rotated"),
        vec![0xf6],
        tstr("username"),
    ]
    .concat()
}

/// A head whose length claims `n` but whose content is missing.
fn lying(major: u8, n: u64) -> Vec<u8> {
    head(major, n)
}

/// Files that are not stores, each with its label. Every one must be refused
/// with exit 8 ("corrupt or of an unsupported version").
fn hostile_corpus() -> Vec<(String, Vec<u8>)> {
    const GIB4: u64 = 0xffff_ffff;
    const HUGE: u64 = u64::MAX;
    let mut corpus: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("one zero byte".into(), vec![0]),
        (
            "JSON".into(),
            br#"{"format":"otp-link store","version":1}"#.to_vec(),
        ),
        (
            "arrays nested 10,000 deep".into(),
            [vec![0x81; 10_000], vec![0]].concat(),
        ),
        (
            "maps nested 10,000 deep as keys".into(),
            [vec![0xa1; 10_000], vec![0, 0]].concat(),
        ),
        (
            "maps nested 10,000 deep as values".into(),
            [[0xa1, 0x00].repeat(10_000), vec![0]].concat(),
        ),
        (
            "tags nested 10,000 deep".into(),
            [vec![0xc6; 10_000], vec![0]].concat(),
        ),
        (
            "indefinite-length items nested 10,000 deep".into(),
            [vec![0x9f; 10_000], vec![0xff; 10_000]].concat(),
        ),
        (
            "arrays nested 10,000 deep as an account entry".into(),
            [before_accounts(), head(4, 1), vec![0x81; 10_000], vec![0]].concat(),
        ),
        (
            "arrays nested 10,000 deep as an account record".into(),
            [
                before_record(),
                bstr(&[vec![0x81; 10_000], vec![0]].concat()),
            ]
            .concat(),
        ),
        (
            "wrong format tag".into(),
            [
                prelude(3, "otp-link stash", 1),
                tstr("accounts"),
                head(4, 0),
            ]
            .concat(),
        ),
        ("no format tag".into(), [head(5, 0)].concat()),
        (
            "version 3".into(),
            [
                prelude(3, "otp-link store", 3),
                tstr("accounts"),
                head(4, 0),
            ]
            .concat(),
        ),
        (
            "version u64::MAX".into(),
            prelude(2, "otp-link store", u64::MAX),
        ),
        (
            "version 0".into(),
            [
                prelude(3, "otp-link store", 0),
                tstr("accounts"),
                head(4, 0),
            ]
            .concat(),
        ),
        (
            "a fourth top-level entry".into(),
            [
                prelude(4, "otp-link store", 1),
                tstr("accounts"),
                head(4, 0),
                tstr("extra"),
                vec![0xf6],
            ]
            .concat(),
        ),
        (
            "trailing byte".into(),
            [before_accounts(), head(4, 0), vec![0]].concat(),
        ),
    ];
    // Heads of each sized type (bstr, tstr, array, map) claiming 4 GiB (1a)
    // and 2^64 - 1 (1b) with nothing behind them: at the top level, as the
    // accounts array, as an account entry, and in each field of an entry and
    // of a record.
    for (major, kind) in [(2u8, "bstr"), (3, "tstr"), (4, "array"), (5, "map")] {
        for n in [GIB4, HUGE] {
            corpus.push((format!("top-level {kind} of {n} items"), lying(major, n)));
            corpus.push((
                format!("accounts as a {kind} of {n} items"),
                [before_accounts(), lying(major, n)].concat(),
            ));
            corpus.push((
                format!("an account entry as a {kind} of {n} items"),
                [before_accounts(), head(4, 1), lying(major, n)].concat(),
            ));
            corpus.push((
                format!("an account record as a {kind} of {n} items"),
                [before_record(), lying(major, n)].concat(),
            ));
            corpus.push((
                format!("a record map as a {kind} of {n} items"),
                [before_record(), bstr(&lying(major, n))].concat(),
            ));
            corpus.push((
                format!("a sealed username as a {kind} of {n} items"),
                [
                    before_record(),
                    bstr(&[record_before_username(25), lying(major, n)].concat()),
                ]
                .concat(),
            ));
        }
    }
    for n in [GIB4, HUGE] {
        corpus.push((
            format!("a record id claiming {n} bytes"),
            [before_accounts(), head(4, 1), head(4, 3), lying(2, n)].concat(),
        ));
        corpus.push((
            format!("an account name claiming {n} bytes"),
            [
                before_accounts(),
                head(4, 1),
                head(4, 3),
                bstr(&HOSTILE_ID),
                lying(3, n),
            ]
            .concat(),
        ));
        corpus.push((
            format!("a ciphertext claiming {n} bytes"),
            [
                before_record(),
                bstr(&[record_before_username(25), head(4, 2), lying(2, n)].concat()),
            ]
            .concat(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x0770_11c4_0004);
    for len in [1usize, 2, 16, 100, 1000, 4096, 70_000] {
        let mut bytes = vec![0; len];
        rng.fill_bytes(&mut bytes);
        corpus.push((format!("{len} random bytes"), bytes));
    }
    corpus
}

#[test]
fn every_truncation_of_a_store_is_refused() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let keys = library_store(&store, 3);
    let bytes = fs::read(&store).unwrap();
    assert_eq!(parse_store(&bytes), Ok(3));
    // Through the decoder, at every byte offset.
    for cut in 0..bytes.len() {
        assert!(
            parse_store(&bytes[..cut]).is_err(),
            "a store cut at byte {cut} of {} parsed",
            bytes.len()
        );
    }
    // Through the binary, at a representative subset of offsets.
    let mut rng = ChaCha8Rng::seed_from_u64(0x0770_11c4_0005);
    let len = bytes.len();
    let mut cuts = vec![0, 1, 2, 10, len / 3, len / 2, len - 17, len - 1];
    cuts.extend((0..6).map(|_| rng.next_u32() as usize % len));
    let (user, pass) = &keys[2];
    for cut in cuts {
        let cut_store = dir.path().join(format!("cut-{cut}.cbor"));
        write_private(&cut_store, &bytes[..cut]);
        let what = |cmd: &str| format!("{cmd} on a store cut at {cut}");
        let mut command = otp(&cut_store);
        command.args(["recover", user, pass]);
        assert_fails_naming(&run(command, ""), 8, &cut_store, &what("recover"));
        let mut command = otp(&cut_store);
        command.arg("list");
        assert_fails_naming(&run(command, ""), 8, &cut_store, &what("list"));
        let (command, input) = secure_command(&cut_store, "new");
        assert_fails_naming(
            &run(command, &input),
            8,
            &cut_store,
            &what("secure-account"),
        );
        assert_eq!(
            fs::read(&cut_store).unwrap(),
            &bytes[..cut],
            "{}",
            what("write")
        );
    }
}

/// Readers scan the store through a window (256 KiB) rather than whole, and
/// must still check it to its end: an account found in the first window is
/// not returned from a store that is cut short, or has bytes after its end,
/// further on.
#[test]
fn a_store_larger_than_the_read_window_is_checked_to_its_end() {
    const WINDOW: usize = 256 * 1024;
    let dir = tempdir();
    let path = dir.path().join("store.cbor");
    let accounts: Vec<(String, Credentials)> = (0..4000)
        .map(|i| {
            let name = format!("bulk{i}");
            let credentials = Credentials::new(username_of(&name), password_of(&name));
            (name, credentials)
        })
        .collect();
    let keys = Store::at(&path)
        .secure_batch(accounts.iter().map(|(n, c)| (n.as_str(), c)), 25)
        .and_then(otp_core::Pending::commit)
        .expect("secure_batch");
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 2 * WINDOW, "{} bytes", bytes.len());
    assert_eq!(parse_store(&bytes), Ok(4000));
    let issued = |i: usize| {
        let (user_key, pass_key) = key_texts(&keys[i]);
        Issued {
            name: accounts[i].0.clone(),
            username: username_of(&accounts[i].0),
            password: password_of(&accounts[i].0),
            user_key,
            pass_key,
        }
    };
    let (first, last) = (issued(0), issued(3999));
    assert_recovers(&path, &first);
    assert_recovers(&path, &last);
    let len = bytes.len();
    let mut damaged: Vec<(String, Vec<u8>)> = [WINDOW - 1, WINDOW, WINDOW + 1, len / 2, len - 1]
        .into_iter()
        .map(|cut| (format!("cut at {cut}"), bytes[..cut].to_vec()))
        .collect();
    damaged.push(("a trailing byte".into(), [&bytes[..], &[0]].concat()));
    for (what, content) in damaged {
        let store = dir.path().join("damaged.cbor");
        write_private(&store, &content);
        assert!(parse_store(&content).is_err(), "{what}");
        for account in [&first, &last] {
            let out = recover(&store, account);
            let what = format!("recover {} from a store {what}", account.name);
            assert_fails_naming(&out, 8, &store, &what);
        }
    }
}

/// Well-formed keys of the record id every hostile entry has, so readers
/// decode its record and writers that need it reach it.
fn hostile_keys() -> (String, String) {
    use otp_core::vectors::key_text;
    use otp_core::Field;
    (
        key_text(HOSTILE_ID, Field::Username, &[1; 25], [2; 32]),
        key_text(HOSTILE_ID, Field::Password, &[3; 25], [4; 32]),
    )
}

#[test]
fn hostile_files_get_one_clean_line_and_exit_8() {
    let dir = tempdir();
    let (user, pass) = hostile_keys();
    // The encoders above write the schema: completed, the prefixes parse.
    let sealed = |w: usize| [head(4, 2), bstr(&vec![5; w]), bstr(&[6; 16])].concat();
    let record = [
        record_before_username(25),
        sealed(25),
        tstr("password"),
        sealed(25),
    ]
    .concat();
    assert_eq!(
        parse_store(&[before_record(), bstr(&record)].concat()),
        Ok(1)
    );
    let corpus = hostile_corpus();
    for (label, bytes) in &corpus {
        assert!(parse_store(bytes).is_err(), "the decoder accepted {label}");
    }
    // Each file through the binary, four at once: two readers, and two
    // writers that must decode the account "db" with the hostile record.
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((label, bytes)) = corpus.get(i) else {
                    break;
                };
                let store = dir.path().join(format!("hostile-{i}.cbor"));
                write_private(&store, bytes);
                let mut command = otp(&store);
                command.args(["recover", &user, &pass]);
                let what = format!("recover: {label}");
                let line = assert_fails_naming(&run(command, ""), 8, &store, &what);
                if label.starts_with("version") {
                    assert!(line.contains("format version"), "{what}: {line}");
                }
                let mut command = otp(&store);
                command.arg("list");
                assert_fails_naming(&run(command, ""), 8, &store, &format!("list: {label}"));
                let mut command = otp(&store);
                command.args(["rotate", &user, &pass]);
                let what = format!("rotate: {label}");
                assert_fails_naming(&run(command, ""), 8, &store, &what);
                let (mut command, input) = secure_command(&store, "db");
                command.arg("--replace");
                let what = format!("secure-account --replace: {label}");
                assert_fails_naming(&run(command, &input), 8, &store, &what);
                assert_eq!(&fs::read(&store).unwrap(), bytes, "{label}: changed");
                assert!(!sibling(&store, "tmp").exists(), "{label}: temporary file");
            });
        }
    });
}

#[test]
fn a_store_over_64_mib_is_refused_without_reading_it() {
    let dir = tempdir();
    let keys = library_store(&dir.path().join("keys.cbor"), 1);
    let (user, pass) = &keys[0];
    let store = dir.path().join("huge.cbor");
    let limit = 64 * 1024 * 1024;
    // Sparse: 64 MiB + 1 of zeros without writing them.
    let file = File::create(&store).unwrap();
    file.set_len(limit + 1).unwrap();
    drop(file);
    set_mode(&store, 0o600);
    let mut command = otp(&store);
    command.args(["recover", user, pass]);
    let line = assert_fails_naming(&run(command, ""), 8, &store, "recover of 64 MiB + 1");
    assert!(line.contains("64 MiB"), "{line}");
    let mut command = otp(&store);
    command.arg("list");
    assert_fails_naming(&run(command, ""), 8, &store, "list of 64 MiB + 1");
    // A writer reads oversized stores (to shrink them), and sees that this
    // one is no store at all before it creates anything beside it.
    let (command, input) = secure_command(&store, "new");
    let line = assert_fails_naming(&run(command, &input), 8, &store, "write to 64 MiB + 1");
    assert!(line.contains("not an otp-link store"), "{line}");
    assert!(
        !sibling(&store, "lock").exists(),
        "lock created beside a non-store"
    );
    assert_eq!(fs::metadata(&store).unwrap().len(), limit + 1);
    // At exactly the limit the file is read, and refused for what it holds.
    fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap()
        .set_len(limit)
        .unwrap();
    let mut command = otp(&store);
    command.arg("list");
    let line = assert_fails_naming(&run(command, ""), 8, &store, "list of 64 MiB");
    assert!(!line.contains("64 MiB"), "{line}");
}

#[test]
fn a_directory_in_place_of_the_store_is_refused() {
    let dir = tempdir();
    let keys = library_store(&dir.path().join("keys.cbor"), 1);
    let (user, pass) = &keys[0];
    let store = dir.path().join("store.cbor");
    fs::create_dir(&store).unwrap();
    for args in [
        vec!["recover", user, pass],
        vec!["verify", user, pass],
        vec!["list"],
        vec!["remove", "a0"],
    ] {
        let mut command = otp(&store);
        command.args(&args);
        let line = assert_fails_naming(&run(command, ""), 8, &store, &args.join(" "));
        assert!(line.contains("not a regular file"), "{line}");
    }
    let (command, input) = secure_command(&store, "new");
    assert_fails_naming(&run(command, &input), 8, &store, "secure-account");
    assert!(fs::metadata(&store).unwrap().is_dir());
    assert_eq!(fs::read_dir(&store).unwrap().count(), 0);
}

/// Regression: opening a FIFO to read blocks until someone writes to it, so
/// `recover`, `list` and every writer (holding the writers' lock, so every
/// later writer timed out too) hung forever on a FIFO in place of the store.
/// Fixed by opening the store with O_NONBLOCK and refusing, after fstat,
/// anything but a regular file.
#[test]
fn a_fifo_or_device_in_place_of_the_store_is_refused_without_hanging() {
    let dir = tempdir();
    let keys = library_store(&dir.path().join("keys.cbor"), 1);
    let (user, pass) = &keys[0];
    // A symbolic link to a character device that never ends.
    let zero = dir.path().join("zero.cbor");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let mut stores = vec![zero];
    // A FIFO nobody writes to.
    let fifo = dir.path().join("fifo.cbor");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        set_mode(&fifo, 0o600);
        stores.push(fifo);
    } else {
        eprintln!("mkfifo is not available: the FIFO case did not run");
        assert!(std::env::var_os("CI").is_none(), "CI has coreutils' mkfifo");
    }
    for store in &stores {
        for args in [vec!["recover", user, pass], vec!["list"]] {
            let mut command = otp(store);
            command.args(&args);
            let line = assert_fails_naming(&run(command, ""), 8, store, &args.join(" "));
            assert!(line.contains("not a regular file"), "{line}");
        }
        // A writer names the file it would replace: the link's target.
        let target = fs::canonicalize(store).unwrap();
        for _ in 0..2 {
            let (mut command, input) = secure_command(store, "new");
            command.env("OTP_LINK_LOCK_TIMEOUT_MS", "200");
            let line = assert_fails_naming(&run(command, &input), 8, &target, "secure-account");
            assert!(line.contains("not a regular file"), "{line}");
        }
        let kind = fs::symlink_metadata(store).unwrap().file_type();
        assert!(!kind.is_file() && !kind.is_dir(), "replaced by a store");
    }
}

#[test]
fn failed_writes_leave_the_store_byte_for_byte_unchanged() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let db = secure(&store, "db");
    let web = secure(&store, "web");
    // Rotate once, so the first keys are a real account's out-of-date keys.
    let mut command = otp(&store);
    command.args(["rotate", &db.user_key, &db.pass_key]);
    let out = run(command, "");
    assert_ok(&out, "rotate");
    let (new_user, new_pass) = text_keys(&out.stdout).unwrap();
    let before = fs::read(&store).unwrap();
    let metadata = fs::metadata(&store).unwrap();

    let long = "x".repeat(200);
    let cases: Vec<(&str, Vec<&str>, String, i32)> = vec![
        (
            "secure an existing name",
            vec!["secure-account", "db"],
            "u\np\n".into(),
            6,
        ),
        (
            "batch with an existing name",
            vec!["secure-account", "--batch"],
            r#"{"account":"fresh","username":"u","password":"p"}
{"account":"web","username":"u","password":"p"}
"#
            .into(),
            6,
        ),
        (
            "replace an unknown name",
            vec!["secure-account", "--replace", "nobody"],
            "u\np\n".into(),
            5,
        ),
        (
            "a value too long for the width",
            vec!["secure-account", "--width", "10", "short"],
            format!("u\n{long}\n"),
            11,
        ),
        (
            "a name with a control character",
            vec!["secure-account", "a\tb"],
            "u\np\n".into(),
            11,
        ),
        (
            "remove an unknown name",
            vec!["remove", "nobody"],
            String::new(),
            5,
        ),
        (
            "rotate with rotated-away keys",
            vec!["rotate", &db.user_key, &db.pass_key],
            String::new(),
            4,
        ),
        (
            "rotate with keys of two accounts",
            vec!["rotate", &new_user, &web.pass_key],
            String::new(),
            3,
        ),
        (
            "rotate with keys swapped",
            vec!["rotate", &new_pass, &new_user],
            String::new(),
            3,
        ),
    ];
    for (what, args, input, code) in cases {
        let mut command = otp(&store);
        command.args(&args);
        assert_fails(&run(command, &input), code, what);
        assert_eq!(
            fs::read(&store).unwrap(),
            before,
            "{what}: the store changed"
        );
        let now = fs::metadata(&store).unwrap();
        assert_eq!(now.ino(), metadata.ino(), "{what}: the store was replaced");
        assert!(!sibling(&store, "tmp").exists(), "{what}: temporary file");
    }
    // Keys of an account that is not there (another store's).
    let other = dir.path().join("other.cbor");
    let stranger = secure(&other, "stranger");
    let mut command = otp(&store);
    command.args(["rotate", &stranger.user_key, &stranger.pass_key]);
    assert_fails_naming(
        &run(command, ""),
        5,
        &store,
        "rotate with another store's keys",
    );
    assert_eq!(fs::read(&store).unwrap(), before);
    // The store still works.
    assert_recovers(
        &store,
        &Issued {
            user_key: new_user,
            pass_key: new_pass,
            ..db
        },
    );
    assert_recovers(&store, &web);
}

// --------------------------------------------------------------- permissions

#[test]
fn readers_refuse_a_store_other_users_may_access() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let account = secure(&store, "db");
    let readers = |store: &Path| -> Vec<(String, Command)> {
        let keys = [account.user_key.as_str(), account.pass_key.as_str()];
        let mut recover = otp(store);
        recover.arg("recover").args(keys);
        let mut verify = otp(store);
        verify.arg("verify").args(keys);
        let mut exec = otp(store);
        exec.arg("exec")
            .args(keys)
            .args(["--", "sh", "-c", "printf '%s' \"$OTP_LINK_USERNAME\""]);
        vec![
            ("recover".into(), recover),
            ("verify".into(), verify),
            ("exec".into(), exec),
        ]
    };
    for bad in [
        0o640, 0o604, 0o620, 0o602, 0o660, 0o644, 0o606, 0o666, 0o700,
    ] {
        set_mode(&store, bad);
        for (what, command) in readers(&store) {
            let what = format!("{what} with mode {bad:04o}");
            let out = run(command, "");
            // The tests' own user owns the store: as root, a store of root's,
            // which its group may read.
            if !refused_mode(fs::metadata(&store).unwrap().uid(), bad) {
                assert_ok(&out, &what);
                continue;
            }
            let line = assert_fails_naming(&out, 9, &store, &what);
            assert!(line.contains(chmod_fix(&store)), "{what}: {line}");
            assert!(line.contains(&format!("{bad:04o}")), "{what}: {line}");
        }
        // list shows no secret and still works; the store is unchanged.
        assert_eq!(list_names(&store), ["db"]);
        assert_eq!(mode(&store), bad);
    }
    for good in [0o600, 0o400] {
        set_mode(&store, good);
        let outputs: Vec<(String, Output)> = readers(&store)
            .into_iter()
            .map(|(what, command)| (what, run(command, "")))
            .collect();
        for (what, out) in &outputs {
            assert_ok(out, &format!("{what} with mode {good:04o}"));
        }
        assert_eq!(
            String::from_utf8_lossy(&outputs[0].1.stdout),
            format!("{}\n{}\n", account.username, account.password)
        );
        assert_eq!(String::from_utf8_lossy(&outputs[1].1.stdout), "db\n");
        assert_eq!(
            String::from_utf8_lossy(&outputs[2].1.stdout),
            account.username
        );
    }
    // A writer replaces a store it finds too open with a private one.
    set_mode(&store, 0o644);
    let web = secure(&store, "web");
    assert_eq!(mode(&store), 0o600);
    assert_recovers(&store, &web);
}

#[test]
fn a_store_owned_by_another_user_is_refused() {
    if !root_or_skip("to give the store to another user") {
        return;
    }
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let account = secure(&store, "db");
    // Owned by root, the caller: accepted (the normal case).
    assert_recovers(&store, &account);
    if let Err(e) = std::os::unix::fs::chown(&store, Some(NOBODY), Some(NOBODY)) {
        // A user namespace without user 65534.
        eprintln!("skipped: cannot give the store to user {NOBODY}: {e}");
        return;
    }
    assert_eq!(mode(&store), 0o600);
    let keys = [account.user_key.as_str(), account.pass_key.as_str()];
    for sub in ["recover", "verify", "exec"] {
        let mut command = otp(&store);
        command.arg(sub).args(keys);
        if sub == "exec" {
            command.args(["--", "true"]);
        }
        let line = assert_fails_naming(&run(command, ""), 9, &store, sub);
        assert!(line.contains("owned by user id 65534"), "{sub}: {line}");
        // chmod cannot help with another user's store: say chown.
        assert!(line.contains("chown"), "{sub}: {line}");
        assert!(!line.contains("chmod"), "{sub}: {line}");
    }
}

#[test]
fn the_store_its_lock_and_its_directories_are_created_private() {
    let dir = tempdir();
    let store = dir.path().join("a").join("b").join("store.cbor");
    // Under umask 000, so the modes come from otp-link, not from the umask.
    let secure_under_umask_000 = |name: &str| {
        let mut command = Command::new("sh");
        command
            .args(["-c", "umask 000 && exec \"$@\"", "sh"])
            .arg(otp_link())
            .arg("--store")
            .arg(&store)
            .args(["secure-account", name])
            .env_remove("OTP_LINK_STORE");
        run(command, "u\np\n")
    };
    let out = secure_under_umask_000("db");
    assert_ok(&out, "secure-account under umask 000");
    assert_eq!(mode(&dir.path().join("a")), 0o700, "created directory");
    assert_eq!(mode(&dir.path().join("a/b")), 0o700, "created directory");
    assert_eq!(mode(&store), 0o600, "store");
    assert_eq!(mode(&sibling(&store, "lock")), 0o600, "lock file");
    assert!(
        !sibling(&store, "tmp").exists(),
        "temporary file left behind"
    );
    // The store is the renamed temporary file, created 0600 under umask 000
    // too: a second write shows it is a new file, still private.
    let first = fs::metadata(&store).unwrap().ino();
    assert_ok(&secure_under_umask_000("web"), "second write");
    assert_ne!(fs::metadata(&store).unwrap().ino(), first, "not replaced");
    assert_eq!(mode(&store), 0o600);
}

#[test]
fn a_planted_temporary_file_is_replaced_not_reused() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let db = secure(&store, "db");
    let tmp = sibling(&store, "tmp");
    // A world-writable file another process could still hold open.
    fs::write(&tmp, b"planted").unwrap();
    set_mode(&tmp, 0o666);
    let mut planted = File::open(&tmp).unwrap();
    let web = secure(&store, "web");
    assert_eq!(mode(&store), 0o600);
    assert!(!tmp.exists());
    let mut seen = Vec::new();
    planted.read_to_end(&mut seen).unwrap();
    assert_eq!(seen, b"planted", "the planted file was written to");
    // A symbolic link, to make the writer write elsewhere.
    let victim = dir.path().join("victim");
    fs::write(&victim, b"victim").unwrap();
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let api = secure(&store, "api");
    assert_eq!(fs::read(&victim).unwrap(), b"victim");
    assert!(!tmp.exists() && fs::symlink_metadata(&tmp).is_err());
    assert!(!fs::symlink_metadata(&store).unwrap().is_symlink());
    for account in [&db, &web, &api] {
        assert_recovers(&store, account);
    }
}

#[test]
fn a_symlinked_store_is_followed_and_stays_a_link() {
    let dir = tempdir();
    let real_dir = dir.path().join("real");
    fs::create_dir(&real_dir).unwrap();
    let target = real_dir.join("store.cbor");
    let db = secure(&target, "db");
    let link = dir.path().join("link.cbor");
    std::os::unix::fs::symlink("real/store.cbor", &link).unwrap();
    // Readers follow the link, and check the target's mode (a link's own
    // mode is always 0777).
    assert_recovers(&link, &db);
    set_mode(&target, 0o644);
    let mut command = otp(&link);
    command.args(["recover", &db.user_key, &db.pass_key]);
    let line = assert_fails_naming(&run(command, ""), 9, &link, "recover via link to 0644");
    assert!(line.contains(chmod_fix(&target)), "{line}");
    set_mode(&target, 0o600);
    // Writers write through it: the target changes, the link stays a link.
    let web = secure(&link, "web");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("real/store.cbor"));
    assert_eq!(list_names(&target), ["db", "web"]);
    assert_eq!(mode(&target), 0o600);
    // The lock and the temporary file live beside the target.
    assert!(sibling(&target, "lock").exists());
    assert!(!sibling(&link, "lock").exists());
    for sub in ["rotate", "remove"] {
        let mut command = otp(&link);
        if sub == "rotate" {
            command.args(["rotate", &web.user_key, &web.pass_key]);
        } else {
            command.args(["remove", "db"]);
        }
        assert_ok(&run(command, ""), sub);
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink(), "{sub}");
    }
    assert_eq!(list_names(&link), ["web"]);
    // A dangling link: readers report a missing store; a writer fails
    // cleanly and leaves the link alone.
    let dangling = dir.path().join("dangling.cbor");
    std::os::unix::fs::symlink("nowhere/store.cbor", &dangling).unwrap();
    let mut command = otp(&dangling);
    command.args(["recover", &web.user_key, &web.pass_key]);
    assert_fails_naming(
        &run(command, ""),
        7,
        &dangling,
        "recover via a dangling link",
    );
    let (command, input) = secure_command(&dangling, "new");
    let out = run(command, &input);
    assert_fails_naming(&out, 10, &dangling, "secure-account via a dangling link");
    assert!(fs::symlink_metadata(&dangling).unwrap().is_symlink());
    // A loop of links is an I/O error naming the path, not a hang.
    let looping = dir.path().join("loop.cbor");
    std::os::unix::fs::symlink("loop.cbor", &looping).unwrap();
    let mut command = otp(&looping);
    command.arg("list");
    assert_fails_naming(&run(command, ""), 10, &looping, "list via a link loop");
}

#[test]
fn a_held_lock_times_out_writers_but_never_blocks_readers() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let db = secure(&store, "db");
    let before = fs::read(&store).unwrap();
    let lock_path = sibling(&store, "lock");
    let lock = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    // Writers wait 200 ms, then give up with exit 10 and a word about the
    // lock, leaving the store as it was.
    let timed = |mut command: Command| {
        command.env("OTP_LINK_LOCK_TIMEOUT_MS", "200");
        command
    };
    let (command, input) = secure_command(&store, "web");
    let line = assert_fails_naming(&run(timed(command), &input), 10, &lock_path, "secure");
    assert!(line.contains("lock"), "{line}");
    let mut command = otp(&store);
    command.args(["rotate", &db.user_key, &db.pass_key]);
    assert_fails_naming(&run(timed(command), ""), 10, &lock_path, "rotate");
    let mut command = otp(&store);
    command.args(["remove", "db"]);
    assert_fails_naming(&run(timed(command), ""), 10, &lock_path, "remove");
    assert_eq!(fs::read(&store).unwrap(), before);
    // Readers take no lock: they work while it is held.
    assert_recovers(&store, &db);
    assert_eq!(list_names(&store), ["db"]);
    let mut command = otp(&store);
    command.args(["verify", &db.user_key, &db.pass_key]);
    assert_ok(&run(command, ""), "verify while locked");
    // Released, the next writer gets it.
    lock.unlock().unwrap();
    let web = secure(&store, "web");
    assert_recovers(&store, &web);
}

// ---------------------------------------------------------------- dumpable

/// The owner of `/proc/PID/status`: the process's user while it is
/// dumpable, root once it has made itself non-dumpable (the kernel gives a
/// non-dumpable process's /proc files to root, out of its own user's reach).
fn proc_owner(status: &Path) -> Option<u32> {
    fs::metadata(status).ok().map(|m| m.uid())
}

/// Waits until `/proc/PID/status` is owned by `owner`; panics if the child exits
/// first or it takes longer than [`HANG`].
fn wait_for_owner(child: &mut Child, status: &Path, owner: u32, what: &str) {
    let start = Instant::now();
    while proc_owner(status) != Some(owner) {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("otp-link exited ({status}) before {what}");
        }
        assert!(start.elapsed() < HANG, "waited {HANG:?} for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn recover_makes_itself_non_dumpable_before_printing_credentials() {
    if !root_or_skip("to run otp-link as another user") {
        return;
    }
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc");
        return;
    }
    // Run otp-link as `nobody`: a copy of the binary and a store it owns, in
    // a directory it may enter.
    let dir = tempdir();
    let nobody = AsNobody::new(dir.path());
    let store = dir.path().join("store.cbor");
    let account = secure(&store, "db");
    if let Err(e) = std::os::unix::fs::chown(&store, Some(NOBODY), Some(NOBODY)) {
        // A user namespace without user 65534.
        eprintln!("skipped: cannot give the store to user {NOBODY}: {e}");
        return;
    }

    // Its stdout is a socket whose buffers are full, so once otp-link has
    // recovered the credentials it blocks writing them, and can be looked at.
    let (mut reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    writer.set_nonblocking(true).unwrap();
    let mut filled = 0;
    for chunk in [4096, 1] {
        loop {
            match (&writer).write(&vec![b'.'; chunk]) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the socket: {e}"),
            }
        }
    }
    assert!(filled > 0);
    writer.set_nonblocking(false).unwrap();
    let mut child = {
        let mut command = nobody.otp(&store);
        command
            .args(["recover", "-", "-"])
            .stdin(Stdio::piped())
            .stdout(std::os::fd::OwnedFd::from(writer))
            .stderr(Stdio::piped());
        match command.spawn() {
            Ok(child) => child,
            // A container without CAP_SETUID, or a noexec temporary directory.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: cannot run otp-link as user {NOBODY} here: {e}");
                return;
            }
            Err(e) => panic!("cannot start otp-link as user {NOBODY}: {e}"),
        }
    };
    let status = PathBuf::from(format!("/proc/{}/status", child.id()));
    // Already while it waits for its keys on stdin (secrets), otp-link is
    // non-dumpable: the kernel has given its /proc files to root, so no
    // other process of user 65534 can read its memory.
    wait_for_owner(&mut child, &status, 0, "non-dumpable before reading keys");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}\n{}", account.user_key, account.pass_key).unwrap();
    drop(stdin);
    // Blocked on the full socket with the credentials in memory, it is
    // non-dumpable: the kernel has given its /proc files to root.
    wait_for_owner(&mut child, &status, 0, "it became non-dumpable");
    let mut drained = Vec::new();
    reader.read_to_end(&mut drained).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, "recover as nobody");
    let credentials = format!("{}\n{}\n", account.username, account.password);
    assert_eq!(drained.len(), filled + credentials.len());
    assert_eq!(String::from_utf8_lossy(&drained[filled..]), credentials);
}

// --------------------------------------------------------------- regressions

// The fuzz targets (fuzz/README.md) found nothing in their runs so far; an
// input they find goes here, as a test named after what broke. Bugs these
// tests found are below, or named in the test that shows them
// (a_fifo_or_device_in_place_of_the_store_is_refused_without_hanging).

/// Regression: a writer that decodes an account's record (`rotate`,
/// `secure-account --replace`) reported a corrupt record as
/// "store  is corrupt (...)", with an empty path, because the record was
/// decoded away from the store's path.
#[test]
fn rotate_and_replace_name_the_store_when_a_record_is_corrupt() {
    let dir = tempdir();
    let store = dir.path().join("store.cbor");
    let keys = library_store(&store, 1);
    let (user, pass) = &keys[0];
    // Width 25 (0x18 0x19) becomes 200 (0x18 0xc8): the same length, so
    // the store's structure holds and only the record is wrong.
    let mut bytes = fs::read(&store).unwrap();
    let key = [&tstr("width")[..], &[0x18, 0x19]].concat();
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("the width entry");
    bytes[at + key.len() - 1] = 0xc8;
    write_private(&store, &bytes);
    assert!(parse_store(&bytes).unwrap_err().contains("width"));
    let mut rotate = otp(&store);
    rotate.args(["rotate", user, pass]);
    let (mut replace, input) = secure_command(&store, "a0");
    replace.arg("--replace");
    let mut recover = otp(&store);
    recover.args(["recover", user, pass]);
    let mut list = otp(&store);
    list.arg("list");
    for (what, command, input) in [
        ("rotate", rotate, ""),
        ("secure-account --replace", replace, input.as_str()),
        ("recover", recover, ""),
        ("list", list, ""),
    ] {
        let line = assert_fails_naming(&run(command, input), 8, &store, what);
        assert!(line.contains("width"), "{what}: {line}");
    }
    assert_eq!(fs::read(&store).unwrap(), bytes);
}
