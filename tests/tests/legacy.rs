//! Secure-Python-Link account files written by real Python, read with
//! `otp_core::legacy::recover_legacy`. The crafted pickles of every writer
//! and every refusal are otp-core's unit tests; these are the bytes Python
//! itself wrote (see `otp_link_tests::legacy_fixtures`).

use otp_core::legacy::{recover_legacy, LegacyKey};
use otp_core::Error;
use otp_link_tests::legacy_fixtures::{self, Fixture};

#[test]
fn python_written_legacy_fixtures() {
    let key = |text: &str| -> LegacyKey { text.parse().expect("valid legacy key") };
    const SPECIAL_KEY: &str = "a$b!c&d*e?f#g@h%i+j=kLm9Z";
    let dir = legacy_fixtures::dir();
    let (mut ok, mut rejected) = (0, 0);
    for fixture in legacy_fixtures::all() {
        match fixture {
            Fixture::Opens {
                file,
                user_key,
                pass_key,
                username,
                password,
            } => {
                let path = dir.join(&file);
                let c = recover_legacy(&path, &key(&user_key), &key(&pass_key))
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(c.username(), username, "{file}");
                assert_eq!(c.password(), password, "{file}");
                // Swapped keys are caught for these fixtures.
                assert!(recover_legacy(&path, &key(&pass_key), &key(&user_key)).is_err());
                ok += 1;
            }
            Fixture::Refused { file, reason } => {
                let k = key(SPECIAL_KEY);
                match recover_legacy(&dir.join(&file), &k, &k) {
                    Err(Error::LegacyFile { reason: got, .. }) => {
                        assert!(got.contains(&reason), "{file}: {got}")
                    }
                    other => panic!("{file}: {other:?}"),
                }
                rejected += 1;
            }
        }
    }
    assert!(ok >= 6 && rejected >= 2, "{ok} ok, {rejected} rejected");
}
