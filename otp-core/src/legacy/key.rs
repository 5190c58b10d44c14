//! Keys of Secure-Python-Link: parsing them, and opening a stored value
//! with one.

use std::fmt;
use std::str::FromStr;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

/// The 72 characters a Secure-Python-Link key is made of: `a-z`, `A-Z`,
/// `0-9` and `!$%&*+=?#@`.
pub const LEGACY_KEY_ALPHABET: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&*+=?#@";

/// The length of a Secure-Python-Link key, of a frame and of a stored
/// value: 25 characters.
pub const LEGACY_KEY_LEN: usize = 25;

/// The longest value a Secure-Python-Link frame holds: 23 UTF-8 bytes
/// (the frame's last two characters are the value's length).
pub const LEGACY_MAX_VALUE_LEN: usize = LEGACY_KEY_LEN - 2;

/// The special characters of the key alphabet.
const KEY_SPECIALS: &[u8] = b"!$%&*+=?#@";

fn in_key_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || KEY_SPECIALS.contains(&b)
}

/// A key of Secure-Python-Link: 25 characters of [`LEGACY_KEY_ALPHABET`].
///
/// Parse one with [`str::parse`]. The key is wiped from memory when
/// dropped; `Debug` prints `LegacyKey([redacted])`, and there is no
/// `Clone` or `Display`.
pub struct LegacyKey([u8; LEGACY_KEY_LEN]);

impl FromStr for LegacyKey {
    type Err = Error;

    /// Checks that `text` is exactly 25 characters of the key alphabet.
    /// Errors are [`Error::MalformedLegacyKey`] and never repeat the key.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bytes = text.as_bytes();
        let reason = if bytes.iter().any(|b| b.is_ascii_whitespace()) {
            Some("it holds a space, tab or line break")
        } else if !bytes.iter().all(|&b| in_key_alphabet(b)) {
            Some("it holds a character outside a-z, A-Z, 0-9 and !$%&*+=?#@")
        } else if bytes.len() < LEGACY_KEY_LEN {
            Some("it is shorter than 25 characters")
        } else if bytes.len() > LEGACY_KEY_LEN {
            Some("it is longer than 25 characters")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::MalformedLegacyKey { reason });
        }
        let mut key = LegacyKey([0; LEGACY_KEY_LEN]);
        key.0.copy_from_slice(bytes);
        Ok(key)
    }
}

impl fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacyKey([redacted])")
    }
}

impl Drop for LegacyKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for LegacyKey {}

/// XORs `stored` with `key` and takes the value out of the frame, or
/// `None` when the frame shows that the key does not fit.
pub(super) fn open_value(stored: &[u8; LEGACY_KEY_LEN], key: &LegacyKey) -> Option<String> {
    let mut frame = Zeroizing::new([0u8; LEGACY_KEY_LEN]);
    for (f, (s, k)) in frame.iter_mut().zip(stored.iter().zip(key.0.iter())) {
        *f = s ^ k;
    }
    let (tens, ones) = (frame[LEGACY_KEY_LEN - 2], frame[LEGACY_KEY_LEN - 1]);
    if !tens.is_ascii_digit() || !ones.is_ascii_digit() {
        return None;
    }
    let len = usize::from(tens - b'0') * 10 + usize::from(ones - b'0');
    if len > LEGACY_MAX_VALUE_LEN {
        return None;
    }
    std::str::from_utf8(&frame[..len]).ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::writer::*;
    use crate::Credentials;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    // -----------------------------------------------------------------
    // Parsing
    // -----------------------------------------------------------------

    #[test]
    fn alphabet_is_72_distinct_characters() {
        let a = LEGACY_KEY_ALPHABET.as_bytes();
        assert_eq!(a.len(), 72);
        let mut sorted = a.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 72);
        for b in 0..=255u8 {
            assert_eq!(in_key_alphabet(b), a.contains(&b), "byte {b}");
        }
    }

    #[test]
    fn keys_with_every_special_character_parse() {
        for k in [
            SPECIAL_KEY,
            "!$%&*+=?#@!$%&*+=?#@!$%&*",
            "aaaaaaaaaaaaaaaaaaaaaaaaa",
            "ZZZZZZZZZZZZZZZZZZZZZZZZ9",
        ] {
            let parsed = key(k);
            assert_eq!(&parsed.0, k.as_bytes());
        }
    }

    #[test]
    fn malformed_keys_are_rejected_without_repeating_them() {
        let cases: &[(&str, &str)] = &[
            ("", "shorter"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9", "shorter"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9ZZ", "longer"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9Z\n", "line break"),
            (" a$b!c&d*e?f#g@h%i+j=kLm9", "space"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9'", "outside"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9\"", "outside"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9^", "outside"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9-", "outside"),
            ("a$b!c&d*e?f#g@h%i+j=kLm9é", "outside"),
            ("a$b!c&d*e?f#g@h%i+j=kLmé", "outside"),
        ];
        for (text, expected) in cases {
            let err = text.parse::<LegacyKey>().unwrap_err();
            let Error::MalformedLegacyKey { reason } = err else {
                panic!("{text:?} gave {err:?}");
            };
            assert!(reason.contains(expected), "{text:?}: {reason}");
            let shown = Error::MalformedLegacyKey { reason }.to_string();
            assert!(!shown.contains("kLm9"), "{shown}");
        }
    }

    #[test]
    fn key_debug_is_redacted() {
        let k = key(SPECIAL_KEY);
        assert_eq!(format!("{k:?}"), "LegacyKey([redacted])");
    }

    // -----------------------------------------------------------------
    // Wrong keys
    // -----------------------------------------------------------------

    /// A stored value whose frame, opened with `key`, ends in `tail`.
    fn stored_with_tail(key: &str, tail: &[u8; 2]) -> [u8; LEGACY_KEY_LEN] {
        let mut frame = *b"aaaaaaaaaaaaaaaaaaaaaaa00";
        frame[23..].copy_from_slice(tail);
        let mut out = [0u8; LEGACY_KEY_LEN];
        for (o, (f, k)) in out.iter_mut().zip(frame.iter().zip(key.as_bytes())) {
            *o = f ^ k;
        }
        out
    }

    fn assert_rejected(result: Result<Credentials, Error>, expected_field: &str) {
        match result {
            Err(Error::LegacyKeyRejected { path: p, field }) => {
                assert_eq!(p, path());
                assert_eq!(field, expected_field);
            }
            other => panic!("expected {expected_field} rejected, got {other:?}"),
        }
    }

    #[test]
    fn frames_that_do_not_end_in_a_length_are_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let (uk, pk) = (random_key_text(&mut rng), SPECIAL_KEY);
        let good = encrypt("pw", pk, &mut rng);
        for tail in [b"2a", b"a2", b"-1", b" 5", b"24", b"99", b"30"] {
            let bad = stored_with_tail(&uk, tail);
            for (name, write) in writers() {
                assert_rejected(recover(&write(&[bad, good]), &uk, pk), "username");
                assert_rejected(recover(&write(&[good, bad]), pk, &uk), "password");
                let _ = name;
            }
        }
        // 23 is the largest length.
        let edge = stored_with_tail(&uk, b"23");
        let c = recover(&proto_bin(&[edge, good], 3), &uk, pk).unwrap();
        assert_eq!(c.username(), "a".repeat(23));
        assert_eq!(c.password(), "pw");
    }

    #[test]
    fn values_that_are_not_utf8_are_rejected() {
        let k = SPECIAL_KEY;
        let mut frame = *b"\xc3aaaaaaaaaaaaaaaaaaaaaa01";
        let mut bad = [0u8; LEGACY_KEY_LEN];
        for (o, (f, k)) in bad.iter_mut().zip(frame.iter().zip(k.as_bytes())) {
            *o = f ^ k;
        }
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let good = encrypt("ok", k, &mut rng);
        assert_rejected(recover(&proto4(&[bad, good], 4), k, k), "username");
        assert_rejected(recover(&proto4(&[good, bad], 4), k, k), "password");
        // A complete 2-byte character is fine.
        frame[1] = 0xa9;
        frame[23..].copy_from_slice(b"02");
        for (o, (f, k)) in bad.iter_mut().zip(frame.iter().zip(k.as_bytes())) {
            *o = f ^ k;
        }
        let c = recover(&proto4(&[bad, good], 4), k, k).unwrap();
        assert_eq!(c.username(), "é");
    }

    #[test]
    fn swapped_and_random_wrong_keys_are_mostly_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(13);
        let (mut accepted, mut total) = (0, 0);
        for _ in 0..2000 {
            let (uk, pk) = (random_key_text(&mut rng), random_key_text(&mut rng));
            let ulen = below(&mut rng, 24) as usize;
            let user = random_value(&mut rng, ulen);
            let plen = below(&mut rng, 24) as usize;
            let pass = random_value(&mut rng, plen);
            let stored = [encrypt(&user, &uk, &mut rng), encrypt(&pass, &pk, &mut rng)];
            let bytes = proto4(&stored, 4);
            let wrong = random_key_text(&mut rng);
            for (u, p) in [(&pk, &uk), (&wrong, &pk), (&uk, &wrong)] {
                total += 1;
                match recover(&bytes, u, p) {
                    Ok(_) => accepted += 1,
                    Err(Error::LegacyKeyRejected { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        // Both length digits must come out as digits and claim <= 23:
        // well under 1 % of wrong keys pass that.
        assert!(
            accepted * 100 < total,
            "{accepted} of {total} wrong keys accepted"
        );
    }

    #[test]
    fn typos_before_the_length_are_not_detected() {
        // Documented limitation: no authenticator.
        let mut rng = ChaCha20Rng::seed_from_u64(14);
        let stored = [
            encrypt("alice", SPECIAL_KEY, &mut rng),
            encrypt("pw", SPECIAL_KEY, &mut rng),
        ];
        let typo = SPECIAL_KEY.replacen('a', "b", 1);
        let c = recover(&proto4(&stored, 4), &typo, SPECIAL_KEY).unwrap();
        assert_ne!(c.username(), "alice");
        assert_eq!(c.username().len(), 5);
    }
}
