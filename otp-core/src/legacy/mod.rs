//! Importing accounts from Secure-Python-Link, the Python project that
//! otp-link replaces.
//!
//! An old account is a file holding a Python pickle of
//! `{'list': [enc_user, enc_pass]}` plus two keys of 25 characters that
//! the user kept. [`recover_legacy`] reads such a file and opens both
//! values with their keys, so the credentials can be sealed again in an
//! otp-link store. The format is written down in `spec/legacy.md`.
//!
//! # Why a pickle reader of our own
//!
//! Unpickling runs code: a pickle may import any Python callable and call
//! it (`GLOBAL` + `REDUCE` is `os.system('...')` in two opcodes). The
//! reader here never runs anything. It interprets only the opcodes with
//! which Python 2 and Python 3 write a dict holding a list of two strings,
//! checks every length prefix against the bytes that remain before it
//! allocates, reads at most [`LEGACY_MAX_FILE_BYTES`], and rejects
//! everything else with a reason. Accepted opcodes:
//!
//! - framing: `PROTO` (0..=5, first byte only), `FRAME`, `STOP` (last
//!   byte);
//! - containers: `MARK`, `EMPTY_DICT`, `DICT`, `SETITEM`, `SETITEMS`,
//!   `EMPTY_LIST`, `LIST`, `APPEND`, `APPENDS`;
//! - `str`: `BINUNICODE`, `SHORT_BINUNICODE`, `BINUNICODE8` (UTF-8) and
//!   `UNICODE` (protocol 0, raw-unicode-escape);
//! - byte strings (`str` of Python 2): `STRING` (protocol 0, a quoted
//!   Python repr in `'` or `"` with `\\`, `\'`, `\"`, `\a\b\f\n\r\t\v`,
//!   `\xhh` and octal escapes), `SHORT_BINSTRING`, `BINSTRING`,
//!   `SHORT_BINBYTES`, `BINBYTES`, `BINBYTES8`;
//! - memo: `PUT`, `BINPUT`, `LONG_BINPUT`, `MEMOIZE`, and `GET`, `BINGET`,
//!   `LONG_BINGET` of a string.
//!
//! The text-line arguments of `STRING`, `PUT` and `GET` may end in `\r\n`
//! (a Python 2 pickle written in text mode on Windows). The pickle must
//! hold exactly `{'list': [a, b]}`; `a` and `b` must be 25 characters in
//! U+0000..=U+00FF (or 25 bytes), read as latin-1 bytes.
//!
//! # What a wrong key looks like
//!
//! The old format has no authenticator. A value's frame ends in its length
//! as two decimal digits, so a wrong key is noticed only when those two
//! characters do not come out as digits, when they claim more than 23
//! bytes, or when the recovered bytes are not valid UTF-8. Anything else
//! goes unnoticed: a key with a typo among its first 23 characters opens
//! an ASCII value to a wrong value (or, in the padding, to the right one)
//! without any error. otp-link's own keys do not have this weakness: every
//! account carries a Poly1305 tag.
//!
//! # The `legacy` feature
//!
//! This module and [`Store::import_legacy`](crate::Store::import_legacy)
//! exist only with otp-core's cargo feature `legacy`. It is off by default,
//! so a child program that only recovers otp-link credentials compiles no
//! pickle reader; `otp-cli` turns it on for `otp-link import-legacy`, and a
//! program in transition that reads old files itself asks for it:
//!
//! ```toml
//! otp-core = { version = "0.1", features = ["legacy"] }
//! ```
//!
//! The error variants of these functions, [`Error::LegacyFile`],
//! [`Error::MalformedLegacyKey`] and [`Error::LegacyKeyRejected`], stay in
//! [`Error`] with or without the feature. They are plain data (a path, a
//! reason, a field name) and cost nothing to keep, whereas making them
//! conditional would put `cfg` arms into `Display` and into
//! [`Error::exit_code`], the one place that maps errors to exit codes. As
//! `Error` is `#[non_exhaustive]`, code that matches on it is unaffected
//! either way.
//!
//! # Layout
//!
//! - this module: the public entry points, and reading a file within
//!   [`LEGACY_MAX_FILE_BYTES`];
//! - `key`: [`LegacyKey`], its alphabet and length, and opening a stored
//!   value with a key;
//! - `pickle`: the bounded unpickler, the file size limit and the shape of
//!   an account file;
//! - `escape`: Python's escape codecs for the protocol 0 string arguments;
//! - `writer` (tests only): a writer of the old format for the unit tests.
//!
//! Outside the tests, `key` and `escape` import nothing else of the module,
//! `pickle` imports them, and this module imports `key` and `pickle`: no
//! module imports the one that imports it.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use crate::{Credentials, Error};

mod escape;
mod key;
mod pickle;
#[cfg(test)]
mod writer;

pub use key::{LegacyKey, LEGACY_KEY_ALPHABET, LEGACY_KEY_LEN, LEGACY_MAX_VALUE_LEN};
pub use pickle::LEGACY_MAX_FILE_BYTES;

use key::open_value;
use pickle::{parse_account_file, too_large_reason};

/// Reads the Secure-Python-Link account file at `path` and opens its
/// username with `user_key` and its password with `pass_key`.
///
/// # Errors
///
/// - [`Error::Io`] (action `"reading"`) when the file cannot be opened or
///   read, for instance because it does not exist;
/// - [`Error::LegacyFile`] when it is larger than
///   [`LEGACY_MAX_FILE_BYTES`] or is not an account file (see
///   [`recover_legacy_bytes`]);
/// - [`Error::LegacyKeyRejected`] when a key does not fit its value.
///
/// A wrong key is caught only sometimes: see the [module
/// documentation](self).
pub fn recover_legacy(
    path: &Path,
    user_key: &LegacyKey,
    pass_key: &LegacyKey,
) -> Result<Credentials, Error> {
    let bytes = read_limited(path)?;
    recover_legacy_bytes(&bytes, path, user_key, pass_key)
}

/// Opens an account file that is already in memory, as [`recover_legacy`]
/// does; `path_for_errors` only names the file in errors.
///
/// # Errors
///
/// - [`Error::LegacyFile`] when `file_bytes` is empty, larger than
///   [`LEGACY_MAX_FILE_BYTES`], not a pickle, a pickle with any opcode
///   other than those listed in the [module documentation](self), or a
///   pickle of anything but a dict whose only key `'list'` holds exactly
///   two strings of 25 characters each in U+0000..=U+00FF (or of 25
///   bytes);
/// - [`Error::LegacyKeyRejected`] with `field` `"username"` or
///   `"password"` when the frame opened with that key does not end in two
///   digits, claims a value longer than 23 bytes, or yields a value that
///   is not valid UTF-8.
pub fn recover_legacy_bytes(
    file_bytes: &[u8],
    path_for_errors: &Path,
    user_key: &LegacyKey,
    pass_key: &LegacyKey,
) -> Result<Credentials, Error> {
    let [stored_user, stored_pass] =
        parse_account_file(file_bytes).map_err(|reason| Error::LegacyFile {
            path: path_for_errors.to_path_buf(),
            reason,
        })?;
    let rejected = |field| Error::LegacyKeyRejected {
        path: path_for_errors.to_path_buf(),
        field,
    };
    let mut username =
        Zeroizing::new(open_value(&stored_user, user_key).ok_or_else(|| rejected("username"))?);
    let mut password =
        Zeroizing::new(open_value(&stored_pass, pass_key).ok_or_else(|| rejected("password"))?);
    Ok(Credentials::new(
        std::mem::take(&mut *username),
        std::mem::take(&mut *password),
    ))
}

/// Reads at most [`LEGACY_MAX_FILE_BYTES`] (+1, to notice a larger file)
/// from `path`, checking the file's size before reading.
fn read_limited(path: &Path) -> Result<Vec<u8>, Error> {
    let too_large = |len: u64| Error::LegacyFile {
        path: path.to_path_buf(),
        reason: too_large_reason(len),
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io("reading", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("reading", path, e))?;
    if meta.len() > LEGACY_MAX_FILE_BYTES as u64 {
        return Err(too_large(meta.len()));
    }
    // The metadata length is a hint only (the file may grow, or be a
    // special file): the read itself is bounded too.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(LEGACY_MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() > LEGACY_MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::writer::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    // -----------------------------------------------------------------
    // Round trips
    // -----------------------------------------------------------------

    #[test]
    fn every_value_length_round_trips_with_every_writer() {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5ec0_11de);
        let writers = writers();
        for len in 0..=LEGACY_MAX_VALUE_LEN {
            for round in 0..4 {
                let user = random_value(&mut rng, len);
                let pass = random_value(&mut rng, LEGACY_MAX_VALUE_LEN - len);
                assert_eq!(user.len(), len);
                let user_key = if round == 0 {
                    SPECIAL_KEY.to_owned()
                } else {
                    random_key_text(&mut rng)
                };
                let pass_key = random_key_text(&mut rng);
                let stored = [
                    encrypt(&user, &user_key, &mut rng),
                    encrypt(&pass, &pass_key, &mut rng),
                ];
                for (name, write) in &writers {
                    let bytes = write(&stored);
                    assert_eq!(
                        parse_account_file(&bytes).as_ref().ok(),
                        Some(&stored),
                        "{name}"
                    );
                    let c = recover(&bytes, &user_key, &pass_key)
                        .unwrap_or_else(|e| panic!("{name}, len {len}: {e}"));
                    assert_eq!(c.username(), user, "{name}");
                    assert_eq!(c.password(), pass, "{name}");
                }
            }
        }
    }

    #[test]
    fn fixed_values_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let cases = [
            ("", ""),
            ("a", "b"),
            ("alice@example.com", "Tr0ub4dor&3-horse-batt!"),
            ("jörg", "pässwörd€"),
            ("😀😀😀😀😀€", "日本語のパスword!"),
            ("'\"\\\n\r\t\x07\x00", "\x1a\x7f"),
        ];
        for (user, pass) in cases {
            let stored = [
                encrypt(user, SPECIAL_KEY, &mut rng),
                encrypt(pass, "!$%&*+=?#@!$%&*+=?#@!$%&*", &mut rng),
            ];
            for (name, write) in writers() {
                let c = recover(&write(&stored), SPECIAL_KEY, "!$%&*+=?#@!$%&*+=?#@!$%&*")
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!((c.username(), c.password()), (user, pass), "{name}");
            }
        }
    }

    // -----------------------------------------------------------------
    // Files on disk
    // -----------------------------------------------------------------

    #[test]
    fn recover_legacy_reads_files_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(SPECIAL_KEY);

        let missing = dir.path().join("missing.pkl");
        match recover_legacy(&missing, &k, &k) {
            Err(Error::Io { action, path, .. }) => {
                assert_eq!(action, "reading");
                assert_eq!(path, missing);
            }
            other => panic!("{other:?}"),
        }

        let big = dir.path().join("big.pkl");
        std::fs::write(&big, vec![b'.'; LEGACY_MAX_FILE_BYTES + 1]).unwrap();
        match recover_legacy(&big, &k, &k) {
            Err(Error::LegacyFile { path, reason }) => {
                assert_eq!(path, big);
                assert!(reason.contains("65537 bytes"), "{reason}");
            }
            other => panic!("{other:?}"),
        }

        let evil = dir.path().join("evil.pkl");
        std::fs::write(&evil, b"cos\nsystem\n(S'echo hi'\ntR.").unwrap();
        match recover_legacy(&evil, &k, &k) {
            Err(e @ Error::LegacyFile { .. }) => {
                let shown = e.to_string();
                assert!(shown.contains("GLOBAL"), "{shown}");
                assert!(shown.contains("evil.pkl"), "{shown}");
            }
            other => panic!("{other:?}"),
        }

        let good = dir.path().join("good.pkl");
        std::fs::write(&good, proto4(&sample(), 4)).unwrap();
        let c = recover_legacy(&good, &k, &k).unwrap();
        assert_eq!((c.username(), c.password()), ("user", "password"));
        let wrong = key("ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        let e = recover_legacy(&good, &k, &wrong).unwrap_err();
        assert!(
            matches!(
                e,
                Error::LegacyKeyRejected {
                    field: "password",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.to_string().contains("ZZZ"));
    }
}
