//! Keys: the secret half of an account, as text safe on any command line.
//!
//! A key carries everything a reader needs besides the store: the format
//! version, the record id that finds the account, the field it opens, the
//! pad and the one-time Poly1305 key. Its text uses only lowercase letters,
//! digits and `-`, which no shell (sh, cmd.exe, PowerShell) treats specially,
//! and ends in a CRC-32 so a mistyped key is caught before the store is
//! read. Grammar: spec/README.md, "Key text".
//!
//! A key is of one of two kinds ([`KeyKind`]): an account's own key
//! (`otp1-`), which works until the account is rotated, and a launch key
//! (`otpl1-`, spec/launch.md), which opens a launch record a limited number
//! of times before a deadline. The prefix tells them apart before anything
//! is read, so a reader that knows only account keys refuses launch keys as
//! keys of another version.

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::primitives::{
    Field, PadMaterial, RecordId, MAC_KEY_LEN, MAX_WIDTH, MIN_WIDTH, RECORD_ID_LEN,
};
use crate::Error;

/// The version tag every account key text starts with.
const KEY_PREFIX: &str = "otp1-";
/// The version tag every launch key text starts with.
const LAUNCH_KEY_PREFIX: &str = "otpl1-";
/// Longest key text: prefix, field, id, widest pad, MAC key, checksum, dashes.
const MAX_KEY_TEXT: usize = LAUNCH_KEY_PREFIX.len()
    + 2
    + 2 * RECORD_ID_LEN
    + 1
    + 2 * MAX_WIDTH
    + 1
    + 2 * MAC_KEY_LEN
    + 1
    + 8;

/// What a key opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// An account of the store (`otp1-`), as long as the account is not
    /// rotated, replaced or removed.
    Account,
    /// A launch record (`otpl1-`, made by [`Store::issue`](crate::Store::issue)):
    /// the same credentials, a limited number of times and until a deadline.
    Launch,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Account => KEY_PREFIX,
            KeyKind::Launch => LAUNCH_KEY_PREFIX,
        }
    }
}

/// One key: opens one field of one account, together with the store.
///
/// Secret. There is no `Display`, `Clone` or `Serialize`; `Debug` shows only
/// the record id and field. The pad and MAC key are wiped on drop. The text
/// form is built by [`Key::to_secret_text`] and parsed with [`FromStr`].
pub struct Key {
    kind: KeyKind,
    field: Field,
    record: RecordId,
    secret: PadMaterial,
}

impl Key {
    pub(crate) fn new(field: Field, record: RecordId, secret: PadMaterial) -> Self {
        Key::of_kind(KeyKind::Account, field, record, secret)
    }

    pub(crate) fn of_kind(
        kind: KeyKind,
        field: Field,
        record: RecordId,
        secret: PadMaterial,
    ) -> Self {
        Key {
            kind,
            field,
            record,
            secret,
        }
    }

    /// Whether this is an account's key or a launch key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The field this key opens.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The record this key belongs to: the account's record id, or for a
    /// launch key the launch record's id.
    pub fn record_id(&self) -> RecordId {
        self.record
    }

    /// The frame width, which is the pad's length.
    pub fn width(&self) -> usize {
        self.secret.pad.len()
    }

    pub(crate) fn secret(&self) -> &PadMaterial {
        &self.secret
    }

    /// The key's text, to hand to a child program, built anew in wiped
    /// memory. This is the secret: print it only where the keys are meant to
    /// go (read it with [`ExposeSecret`](secrecy::ExposeSecret), re-exported
    /// as `otp_core::secrecy`).
    pub fn to_secret_text(&self) -> SecretString {
        let body = Zeroizing::new(format!(
            "{}{}-{}-{}-{}",
            self.kind.prefix(),
            self.field.tag_byte() as char,
            self.record,
            Zeroizing::new(hex::encode(&self.secret.pad[..])).as_str(),
            Zeroizing::new(hex::encode(&self.secret.mac_key[..])).as_str(),
        ));
        let crc = crc32(body.as_bytes());
        SecretString::from(format!("{}-{crc:08x}", body.as_str()))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kind", &self.kind)
            .field("field", &self.field)
            .field("record", &self.record)
            .field("secret", &format_args!("[redacted]"))
            .finish()
    }
}

fn malformed(reason: &'static str) -> Error {
    Error::MalformedKey { reason }
}

impl FromStr for Key {
    type Err = Error;

    /// Parses a key text. Errors never repeat the text.
    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            return Err(malformed("the key is empty"));
        }
        if text.len() > MAX_KEY_TEXT {
            return Err(malformed("the key is longer than any otp-link key"));
        }
        let kind = if text.starts_with(KEY_PREFIX) {
            KeyKind::Account
        } else if text.starts_with(LAUNCH_KEY_PREFIX) {
            KeyKind::Launch
        } else {
            if text.starts_with("otp") {
                return Err(malformed(
                    "the key has an unknown version tag; upgrade otp-link or use a key made by this version",
                ));
            }
            let lower = text.to_ascii_lowercase();
            if lower.starts_with(KEY_PREFIX) || lower.starts_with(LAUNCH_KEY_PREFIX) {
                return Err(malformed(
                    "the key is in uppercase, and keys are lowercase (a tool changed its case)",
                ));
            }
            return Err(malformed("the key does not start with 'otp1-'"));
        };
        if !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(malformed(
                "the key holds characters other than lowercase letters, digits and '-'",
            ));
        }
        let (body, checksum) = text
            .rsplit_once('-')
            .ok_or_else(|| malformed("the key has no checksum"))?;
        if checksum.len() != 8
            || u32::from_str_radix(checksum, 16).ok() != Some(crc32(body.as_bytes()))
        {
            return Err(malformed(
                "the checksum does not match, so the key was mistyped or cut short",
            ));
        }
        let mut parts = body[kind.prefix().len()..].split('-');
        let (Some(field), Some(record), Some(pad), Some(mac_key), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(malformed("the key does not have five '-'-separated parts"));
        };
        let field = match field {
            "u" => Field::Username,
            "p" => Field::Password,
            _ => return Err(malformed("the field letter is neither 'u' nor 'p'")),
        };
        let mut id = [0u8; RECORD_ID_LEN];
        hex::decode_to_slice(record, &mut id)
            .map_err(|_| malformed("the record id is not 32 hex digits"))?;
        if pad.len() % 2 != 0 || !(MIN_WIDTH..=MAX_WIDTH).contains(&(pad.len() / 2)) {
            return Err(malformed("the pad is not 3 to 101 bytes of hex"));
        }
        let mut pad_bytes = Zeroizing::new(vec![0u8; pad.len() / 2]);
        hex::decode_to_slice(pad, &mut pad_bytes).map_err(|_| malformed("the pad is not hex"))?;
        let mut mac = Zeroizing::new([0u8; MAC_KEY_LEN]);
        hex::decode_to_slice(mac_key, &mut mac[..])
            .map_err(|_| malformed("the authenticator key is not 64 hex digits"))?;
        Ok(Key {
            kind,
            field,
            record: RecordId::from_bytes(id),
            secret: PadMaterial {
                pad: pad_bytes,
                mac_key: mac,
            },
        })
    }
}

/// The two keys of one account: the user key, then the password key.
#[derive(Debug)]
pub struct Keys {
    user: Key,
    pass: Key,
}

impl Keys {
    /// Pairs two keys, checking that the first opens the username and the
    /// second the password of the same account.
    pub fn new(user: Key, pass: Key) -> Result<Self, Error> {
        match (user.field, pass.field) {
            (Field::Username, Field::Password) => {}
            (Field::Password, Field::Username) => return Err(Error::MismatchedKeys {
                reason:
                    "the password key came first; pass the user key first, then the password key",
            }),
            (Field::Username, Field::Username) => {
                return Err(Error::MismatchedKeys {
                    reason: "both keys are user keys; pass the user key, then the password key",
                })
            }
            (Field::Password, Field::Password) => {
                return Err(Error::MismatchedKeys {
                    reason: "both keys are password keys; pass the user key, then the password key",
                })
            }
        }
        if user.kind != pass.kind {
            return Err(Error::MismatchedKeys {
                reason: "one key is a launch key and the other an account's key; pass two keys printed together",
            });
        }
        if user.record != pass.record {
            return Err(Error::MismatchedKeys {
                reason: "the two keys belong to different accounts; pass both keys printed for one account",
            });
        }
        Ok(Keys { user, pass })
    }

    /// Parses and pairs two key texts.
    pub fn parse(user: &str, pass: &str) -> Result<Self, Error> {
        Keys::new(user.parse()?, pass.parse()?)
    }

    /// The key that opens the username.
    pub fn user(&self) -> &Key {
        &self.user
    }

    /// The key that opens the password.
    pub fn pass(&self) -> &Key {
        &self.pass
    }

    /// The record both keys belong to: an account's, or a launch record's.
    pub fn record_id(&self) -> RecordId {
        self.user.record
    }

    /// Whether these are an account's keys or launch keys.
    pub fn kind(&self) -> KeyKind {
        self.user.kind
    }
}

/// CRC-32 as in IEEE 802.3, zlib and PNG (reflected polynomial 0xEDB88320,
/// initial value and final XOR 0xFFFFFFFF). Bitwise: keys are short.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn sample(field: Field, width: usize) -> Key {
        Key::new(
            field,
            RecordId::from_bytes([0xab; 16]),
            PadMaterial {
                pad: Zeroizing::new((0..width as u8).collect()),
                mac_key: Zeroizing::new([0x5c; 32]),
            },
        )
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn key_text_round_trips_and_uses_only_shell_safe_characters() {
        for width in [3, 25, 64, 101] {
            let key = sample(Field::Password, width);
            let text = key.to_secret_text();
            let text = text.expose_secret();
            assert!(text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert!(text.len() <= MAX_KEY_TEXT);
            let back: Key = text.parse().unwrap();
            assert_eq!(back.field(), Field::Password);
            assert_eq!(back.width(), width);
            assert_eq!(back.to_secret_text().expose_secret(), text);
        }
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let text = sample(Field::Username, 25).to_secret_text();
        let text = text.expose_secret();
        let alphabet = b"0123456789abcdef-otpu";
        for i in 0..text.len() {
            for &c in alphabet {
                if text.as_bytes()[i] == c {
                    continue;
                }
                let mut bad = text.as_bytes().to_vec();
                bad[i] = c;
                let bad = String::from_utf8(bad).unwrap();
                assert!(
                    matches!(bad.parse::<Key>(), Err(Error::MalformedKey { .. })),
                    "change at {i} to {} was accepted",
                    c as char
                );
            }
        }
    }

    #[test]
    fn truncated_keys_are_malformed() {
        let text = sample(Field::Username, 64).to_secret_text();
        let text = text.expose_secret();
        for len in 0..text.len() {
            assert!(matches!(
                text[..len].parse::<Key>(),
                Err(Error::MalformedKey { .. })
            ));
        }
    }

    /// Each way a key text can be wrong has its own reason (a reason is
    /// static text, so it never repeats the key).
    #[test]
    fn malformed_key_errors_say_what_is_wrong() {
        let text = sample(Field::Username, 64).to_secret_text();
        let good = text.expose_secret().to_string();
        let mut last_changed = good.clone();
        last_changed.pop();
        last_changed.push(if good.ends_with('0') { '1' } else { '0' });
        for (bad, expected) in [
            (String::new(), "empty"),
            ("x".repeat(400), "longer"),
            (good.replacen("otp1-", "otp9-", 1), "unknown version"),
            (good.to_uppercase(), "uppercase"),
            (
                good.replacen("otp1-", "key1-", 1),
                "does not start with 'otp1-'",
            ),
            (good.replacen('a', "Z", 1), "lowercase"),
            (last_changed, "checksum"),
        ] {
            let err = bad.parse::<Key>().unwrap_err();
            let Error::MalformedKey { reason } = err else {
                panic!("{bad:?}: {err:?}");
            };
            assert!(reason.contains(expected), "{bad:?}: {reason}");
        }
    }

    #[test]
    fn launch_keys_round_trip_under_their_own_prefix_and_pair_only_with_their_kind() {
        let launch = |field| {
            let key = sample(field, 101);
            Key::of_kind(KeyKind::Launch, field, key.record, key.secret)
        };
        let text = launch(Field::Username).to_secret_text();
        let text = text.expose_secret();
        assert!(text.starts_with("otpl1-u-"), "{text}");
        assert_eq!(text.len(), MAX_KEY_TEXT);
        let back: Key = text.parse().unwrap();
        assert_eq!(back.kind(), KeyKind::Launch);
        assert_eq!(back.to_secret_text().expose_secret(), text);
        // The checksum covers the prefix: an account key cannot be made a
        // launch key, or the other way round, by editing it.
        let relabelled = text.replacen("otpl1-", "otp1-", 1);
        assert!(matches!(
            relabelled.parse::<Key>(),
            Err(Error::MalformedKey { reason }) if reason.contains("checksum")
        ));
        assert!(Keys::new(launch(Field::Username), launch(Field::Password)).is_ok());
        assert!(matches!(
            Keys::new(launch(Field::Username), sample(Field::Password, 25)),
            Err(Error::MismatchedKeys { reason }) if reason.contains("launch key")
        ));
        assert!(matches!(
            text.to_uppercase().parse::<Key>(),
            Err(Error::MalformedKey { reason }) if reason.contains("uppercase")
        ));
    }

    #[test]
    fn debug_hides_the_pad() {
        let key = sample(Field::Username, 25);
        let shown = format!("{key:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains("000102"), "{shown}");
    }

    #[test]
    fn keys_refuse_wrong_order_and_mixed_accounts() {
        let user = || sample(Field::Username, 25);
        let pass = || sample(Field::Password, 25);
        assert!(Keys::new(user(), pass()).is_ok());
        for (a, b) in [(pass(), user()), (user(), user()), (pass(), pass())] {
            assert!(matches!(Keys::new(a, b), Err(Error::MismatchedKeys { .. })));
        }
        let other = Key::new(
            Field::Password,
            RecordId::from_bytes([1; 16]),
            PadMaterial {
                pad: Zeroizing::new(vec![0; 25]),
                mac_key: Zeroizing::new([0; 32]),
            },
        );
        assert!(matches!(
            Keys::new(user(), other),
            Err(Error::MismatchedKeys { .. })
        ));
    }
}
