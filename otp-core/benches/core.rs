//! Library benchmarks: `cargo bench -p otp-core` (a few minutes in all).
//!
//! Only the public API is used. Every store is a real file in a temporary
//! directory, because that is what the library works on: `recover` reads and
//! scans the whole file on each call, and every write fsyncs the new file and
//! its directory. Whole-process numbers (what a host actually waits for) come
//! from `bench/run.sh`; these isolate the library's share.
//!
//! Groups:
//! - `keys/parse`: parsing the two key texts (`Keys::parse`).
//! - `recover/N`: `Store::recover` from a store of N accounts (read, check,
//!   scan every entry head, decode and open one record).
//! - `accounts/N`: `Store::accounts`, which reads the file and decodes every
//!   record (what `otp-link list` costs).
//! - `secure_batch/N`: sealing N accounts into a fresh store in one write
//!   (seal + encode + write + fsync): the cost of sealing, per account, is
//!   its slope.
//! - `secure_account/into_N`: sealing one account into a store of N accounts
//!   (load + check + seal + encode + save + fsync), the store copied fresh
//!   before each iteration (the copy is not timed).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use otp_core::{Credentials, Keys, Store, DEFAULT_WIDTH};
use secrecy::ExposeSecret;

/// Store sizes for the read benchmarks.
const SIZES: [usize; 4] = [1, 1_000, 10_000, 100_000];

fn credentials(i: usize) -> Credentials {
    Credentials::new(format!("user{i}"), format!("password-{i}-xyz"))
}

/// Writes a store of `n` accounts at `path` in one batch and returns the keys
/// of its last account (a reader scans every entry whichever it wants).
fn make_store(path: &Path, n: usize) -> Keys {
    let accounts: Vec<(String, Credentials)> = (0..n)
        .map(|i| (format!("account-{i:06}"), credentials(i)))
        .collect();
    let mut keys = Store::at(path)
        .secure_batch(
            accounts.iter().map(|(name, c)| (name.as_str(), c)),
            DEFAULT_WIDTH,
        )
        .and_then(otp_core::Pending::commit)
        .expect("writing a benchmark store");
    keys.pop().expect("at least one account")
}

/// The two key texts of a `Keys`, as a host would pass them.
fn key_texts(keys: &Keys) -> (String, String) {
    let user = keys.user().to_secret_text();
    let pass = keys.pass().to_secret_text();
    (
        user.expose_secret().to_owned(),
        pass.expose_secret().to_owned(),
    )
}

fn bench_keys(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let keys = make_store(&dir.path().join("store.cbor"), 1);
    let (user, pass) = key_texts(&keys);
    c.bench_function("keys/parse", |b| {
        b.iter(|| Keys::parse(black_box(&user), black_box(&pass)).expect("valid keys"))
    });
}

fn bench_reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let stores: Vec<(usize, Store, Keys, u64)> = SIZES
        .iter()
        .map(|&n| {
            let path = dir.path().join(format!("store-{n}.cbor"));
            let keys = make_store(&path, n);
            let size = std::fs::metadata(&path).expect("store metadata").len();
            (n, Store::at(path), keys, size)
        })
        .collect();

    let mut group = c.benchmark_group("recover");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (n, store, keys, size) in &stores {
        group.throughput(Throughput::Bytes(*size));
        group.bench_function(n.to_string(), |b| {
            b.iter(|| store.recover(black_box(keys)).expect("recover"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("accounts");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    for (n, store, _, size) in &stores {
        group.throughput(Throughput::Bytes(*size));
        group.bench_function(n.to_string(), |b| {
            b.iter(|| store.accounts().expect("accounts"))
        });
    }
    group.finish();
}

/// `path` with no store at it (the previous iteration's is removed, so that
/// the disk does not fill with copies of 24 MiB stores).
fn no_store_at(path: &Path) -> PathBuf {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("removing {}: {e}", path.display()),
    }
    path.to_owned()
}

fn bench_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");

    let mut group = c.benchmark_group("secure_batch");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    for n in SIZES {
        let accounts: Vec<(String, Credentials)> = (0..n)
            .map(|i| (format!("account-{i:06}"), credentials(i)))
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || Store::at(no_store_at(&dir.path().join(format!("batch-{n}.cbor")))),
                |store| {
                    store
                        .secure_batch(
                            accounts.iter().map(|(name, c)| (name.as_str(), c)),
                            DEFAULT_WIDTH,
                        )
                        .and_then(otp_core::Pending::commit)
                        .expect("secure_batch")
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    let new = credentials(1);
    let mut group = c.benchmark_group("secure_account");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    for n in SIZES {
        let template = dir.path().join(format!("template-{n}.cbor"));
        make_store(&template, n);
        group.throughput(Throughput::Bytes(
            std::fs::metadata(&template)
                .expect("template metadata")
                .len(),
        ));
        group.bench_function(format!("into_{n}"), |b| {
            b.iter_batched(
                || {
                    // A fresh copy per iteration (fs::copy keeps mode 0600).
                    let path = no_store_at(&dir.path().join(format!("into-{n}.cbor")));
                    std::fs::copy(&template, &path).expect("copying the template store");
                    Store::at(path)
                },
                |store| {
                    store
                        .secure_account("new-account", &new, DEFAULT_WIDTH)
                        .and_then(otp_core::Pending::commit)
                        .expect("secure_account");
                    store
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_keys, bench_reads, bench_writes);
criterion_main!(benches);
