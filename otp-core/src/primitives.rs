//! The vocabulary that keys and sealing share: which field a value is, the
//! record id that ties an account's two keys together, a key's secret pad
//! material, the frame widths, and the operating system's randomness.
//!
//! A leaf module: it imports only [`Error`], so [`crate::key`] (key texts)
//! and [`crate::seal`] (framing, pads, tags) both build on it without
//! importing each other.

use std::fmt;

use zeroize::Zeroizing;

use crate::Error;

/// Smallest frame width: two length digits and room for one byte.
pub const MIN_WIDTH: usize = 3;
/// Largest frame width: two decimal digits express at most 99 bytes.
pub const MAX_WIDTH: usize = 101;
/// Frame width used when none is chosen: values up to 62 bytes.
pub const DEFAULT_WIDTH: usize = 64;

/// Length of a Poly1305 one-time key (`r || s`).
pub(crate) const MAC_KEY_LEN: usize = 32;
/// Length of a record id in bytes.
pub(crate) const RECORD_ID_LEN: usize = 16;

/// Which of an account's two values a key opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The username.
    Username,
    /// The password.
    Password,
}

impl Field {
    /// `"username"` or `"password"`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::Password => "password",
        }
    }

    /// The letter in the key text and the byte in the authenticated message.
    pub(crate) fn tag_byte(self) -> u8 {
        match self {
            Field::Username => b'u',
            Field::Password => b'p',
        }
    }
}

/// The random 128-bit id that ties two keys to one account of a store.
///
/// Not a secret: it is printed in key texts and in `Debug`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordId([u8; RECORD_ID_LEN]);

impl RecordId {
    pub(crate) const fn from_bytes(bytes: [u8; RECORD_ID_LEN]) -> Self {
        RecordId(bytes)
    }

    pub(crate) fn random() -> Result<Self, Error> {
        let mut id = [0u8; RECORD_ID_LEN];
        fill_random(&mut id)?;
        Ok(RecordId(id))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; RECORD_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

/// The secret half of one sealed value: its pad and one-time MAC key.
pub(crate) struct PadMaterial {
    pub(crate) pad: Zeroizing<Vec<u8>>,
    pub(crate) mac_key: Zeroizing<[u8; MAC_KEY_LEN]>,
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Entropy)
}
