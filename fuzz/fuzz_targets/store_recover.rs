//! `recover` reads the store through a window that starts at 256 KiB and
//! grows, and must find exactly what reading the store whole finds: the
//! same account, or the same error, message included, whatever the window
//! size. This drives that reader (`otp_core::vectors::recover_from_bytes_at`,
//! the scan `Store::recover` runs, over bytes in memory) with windows of 1
//! to 256 bytes, so that every refill and growth path is reached by inputs
//! a fuzzer can mutate, and compares each result with the one-window read.
//!
//! Input: a byte for the window size (1 + its value), a byte whose low bit
//! says where the wanted record id comes from, a byte for the keys' width
//! (3 + its value mod 99), 16 bytes of record id, then the store. With the
//! bit set the id is instead the 16 bytes after the first `0x50` (the head
//! of a 16-byte byte string) in the store, so that it is often one the
//! store holds. The keys carry zero pads and MAC keys: opening fails unless
//! the fuzzer builds a matching record, and that failure must be the same
//! at every window size too. The clock is fixed (`NOW`), so that an
//! expired account's error, which names the time, is the same on both
//! reads.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::vectors::{key_text, parse_store, recover_from_bytes_at};
use otp_core::{Error, Field, Keys};

/// The clock of every read: 2027-01-15T08:00:00Z.
const NOW: u64 = 1_800_000_000;

fn outcome(result: Result<(String, otp_core::Credentials), Error>) -> String {
    match result {
        Ok((name, c)) => format!("ok {name:?} {:?} {:?}", c.username(), c.password()),
        Err(e) => format!("error {e:?}: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[window, mode, width], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let Some((given, store)) = rest.split_first_chunk::<16>() else {
        return;
    };
    // The 16 bytes after the first head of a 16-byte byte string.
    let in_store = || -> Option<[u8; 16]> {
        let at = store.iter().position(|&b| b == 0x50)?;
        store.get(at + 1..at + 17)?.try_into().ok()
    };
    let record_id = match mode & 1 {
        1 => in_store().unwrap_or(*given),
        _ => *given,
    };
    let width = 3 + usize::from(width) % 99;
    let pad = vec![0; width];
    let keys = Keys::parse(
        &key_text(record_id, Field::Username, &pad, [0; 32]),
        &key_text(record_id, Field::Password, &pad, [0; 32]),
    )
    .expect("keys of one record id and width");

    let whole = recover_from_bytes_at(store, store.len() + 1, &keys, NOW);
    let whole_refuses_the_store = matches!(
        whole,
        Err(Error::StoreCorrupt { .. } | Error::UnsupportedVersion { .. })
    );
    let whole = outcome(whole);
    let windowed = outcome(recover_from_bytes_at(
        store,
        1 + usize::from(window),
        &keys,
        NOW,
    ));
    assert_eq!(windowed, whole, "window {}", 1 + usize::from(window));

    // recover decodes one record, list every one: a store list reads is
    // one recover reads, and one recover refuses is one list refuses.
    if whole_refuses_the_store {
        assert!(
            parse_store(store).is_err(),
            "recover refused a store list reads: {whole}"
        );
    }
});
