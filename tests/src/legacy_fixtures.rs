//! The Secure-Python-Link account files that real Python wrote
//! (`tests/fixtures/legacy/make_fixtures.py`), as `fixtures.txt` lists them:
//! tab-separated lines `ok FILE USER_KEY PASS_KEY USERNAME PASSWORD` (all
//! but FILE in hex) or `reject FILE REASON_SUBSTRING`. One reader of that
//! list for every suite that uses the files.

use std::path::{Path, PathBuf};

/// A fixture file and what reading it must give.
pub enum Fixture {
    /// The keys open it and give these values.
    Opens {
        /// The file, under [`dir`].
        file: String,
        /// The old user key.
        user_key: String,
        /// The old password key.
        pass_key: String,
        /// The username it holds.
        username: String,
        /// The password it holds.
        password: String,
    },
    /// Reading it is refused with a reason containing `reason`.
    Refused {
        /// The file, under [`dir`].
        file: String,
        /// A part of the refusal's reason.
        reason: String,
    },
}

/// The directory of the fixture files.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/legacy")
}

/// Every fixture `fixtures.txt` lists, in its order.
pub fn all() -> Vec<Fixture> {
    let list = std::fs::read_to_string(dir().join("fixtures.txt")).expect("fixtures.txt");
    let text = |h: &str| String::from_utf8(hex::decode(h).expect("hex")).expect("UTF-8");
    list.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(
            |line| match line.split('\t').collect::<Vec<_>>().as_slice() {
                ["ok", file, uk, pk, user, pass] => Fixture::Opens {
                    file: (*file).into(),
                    user_key: text(uk),
                    pass_key: text(pk),
                    username: text(user),
                    password: text(pass),
                },
                ["reject", file, reason] => Fixture::Refused {
                    file: (*file).into(),
                    reason: (*reason).into(),
                },
                _ => panic!("bad fixtures.txt line {line:?}"),
            },
        )
        .collect()
}

/// The fixtures the keys open, as `(file, user key, pass key, username,
/// password)`.
pub fn opening() -> Vec<(String, String, String, String, String)> {
    all()
        .into_iter()
        .filter_map(|f| match f {
            Fixture::Opens {
                file,
                user_key,
                pass_key,
                username,
                password,
            } => Some((file, user_key, pass_key, username, password)),
            Fixture::Refused { .. } => None,
        })
        .collect()
}
