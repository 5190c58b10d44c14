//! Key texts are typed, pasted and passed on command lines: any bytes may
//! arrive. Parsing must never panic; a key that parses must print back to
//! the same text (less the ASCII whitespace parsing trims), at the length the
//! grammar gives for its width and kind; and a pair that parses belongs to
//! one account, or one launch record.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::{Key, KeyKind, Keys};
use secrecy::ExposeSecret;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = text.parse::<Key>() {
        let printed = key.to_secret_text();
        let printed = printed.expose_secret();
        assert_eq!(
            printed,
            text.trim_matches(|c: char| c.is_ascii_whitespace())
        );
        // otp1- (otpl1- for a launch key) f - 32 hex id - 2W hex pad -
        // 64 hex MAC key - 8 hex CRC
        let prefix = match key.kind() {
            KeyKind::Account => "otp1-".len(),
            KeyKind::Launch => "otpl1-".len(),
        };
        assert_eq!(printed.len(), prefix + 109 + 2 * key.width());
    }
    // The two halves: split at the first newline, else in the middle.
    let (user, pass) = match text.split_once('\n') {
        Some(split) => split,
        None => {
            let mut mid = text.len() / 2;
            while !text.is_char_boundary(mid) {
                mid -= 1;
            }
            text.split_at(mid)
        }
    };
    if let Ok(keys) = Keys::parse(user, pass) {
        assert_eq!(keys.user().record_id(), keys.pass().record_id());
        assert_eq!(keys.user().kind(), keys.pass().kind());
        assert_eq!(keys.user().field(), otp_core::Field::Username);
        assert_eq!(keys.pass().field(), otp_core::Field::Password);
    }
});
