//! Deterministic sealing for the specification's test vectors.
//!
//! Only with the `test-vectors` feature. Every function here takes the
//! randomness the real API draws from the operating system — record id,
//! padding, pad, MAC key, times — as arguments, so the checked-in generator
//! can produce the same frames, ciphertexts, tags, key texts and store bytes
//! on every run, and conformance tests can check them byte for byte.
//! Applications never need it: a pad chosen by a caller is not a one-time pad.

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::key::{Key, Keys};
use crate::primitives::{Field, PadMaterial, RecordId};
use crate::seal;
use crate::store::format::{self, Record};
use crate::{Credentials, Error, Store};

/// One sealed value with its chosen randomness.
pub struct VectorValue<'a> {
    /// The value to seal.
    pub value: &'a [u8],
    /// Padding bytes: exactly `W - 2 - value.len()`.
    pub padding: &'a [u8],
    /// The pad: exactly `W` bytes.
    pub pad: &'a [u8],
    /// The Poly1305 one-time key.
    pub mac_key: [u8; 32],
}

/// One account with its chosen randomness.
pub struct VectorAccount<'a> {
    /// The account name.
    pub name: &'a str,
    /// The record id.
    pub record_id: [u8; 16],
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Last rotation time, if any.
    pub rotated: Option<u64>,
    /// The last second at which the account opens, if it expires.
    pub not_after: Option<u64>,
    /// The username and its randomness.
    pub username: VectorValue<'a>,
    /// The password and its randomness.
    pub password: VectorValue<'a>,
}

/// The frame of a value: value, padding, two ASCII length digits.
pub fn frame(value: &[u8], padding: &[u8]) -> Vec<u8> {
    seal::frame(value, padding).to_vec()
}

impl VectorAccount<'_> {
    fn with_binding<T>(&self, f: impl FnOnce(&seal::Binding<'_>) -> T) -> T {
        let id = RecordId::from_bytes(self.record_id);
        f(&seal::Binding {
            record: &id,
            name: self.name,
            created: self.created,
            rotated: self.rotated,
            not_after: self.not_after,
        })
    }

    fn value(&self, field: Field) -> &VectorValue<'_> {
        match field {
            Field::Username => &self.username,
            Field::Password => &self.password,
        }
    }
}

/// The exact message Poly1305 authenticates for one field of an account.
pub fn mac_message(account: &VectorAccount<'_>, field: Field, frame: &[u8]) -> Vec<u8> {
    account.with_binding(|b| seal::mac_message(b, field, frame).to_vec())
}

/// Seals one field of an account; returns `(ciphertext, tag)`.
pub fn seal(account: &VectorAccount<'_>, field: Field) -> Result<(Vec<u8>, [u8; 16]), Error> {
    let v = account.value(field);
    let sealed = account
        .with_binding(|b| seal::seal_with(b, field, v.value, v.padding, v.pad, &v.mac_key))?;
    Ok((sealed.ciphertext, sealed.tag))
}

/// Seals an arbitrary frame, even one no conforming sealer would write (bad
/// length digits, invalid UTF-8), for the vectors that must fail at the frame
/// layer after the tag has verified, under the account's pad and MAC key for
/// that field. Returns `(ciphertext, tag)`.
pub fn seal_frame(account: &VectorAccount<'_>, field: Field, frame: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let v = account.value(field);
    let ciphertext: Vec<u8> = frame.iter().zip(v.pad).map(|(f, p)| f ^ p).collect();
    let tag = account.with_binding(|b| seal::compute_tag(b, field, frame, &v.mac_key));
    (ciphertext, tag)
}

/// Encodes a store from raw parts: for each account its id, name, width,
/// times and the `(ciphertext, tag)` of both fields.
pub fn encode_store_raw(accounts: &[RawAccount<'_>]) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = accounts
        .iter()
        .map(|a| {
            let record = format::encode_record(&Record {
                width: a.width,
                created: a.created,
                rotated: a.rotated,
                not_after: a.not_after,
                username: seal::Sealed {
                    ciphertext: a.username.0.clone(),
                    tag: a.username.1,
                },
                password: seal::Sealed {
                    ciphertext: a.password.0.clone(),
                    tag: a.password.1,
                },
            });
            format::encode_entry(&RecordId::from_bytes(a.record_id), a.name, &record)
        })
        .collect();
    let version = format::version_for(accounts.iter().any(|a| a.not_after.is_some()));
    format::encode_store(entries.iter().map(Vec::as_slice), version)
}

/// Encodes a store from its entries as given: for each its record id, its
/// name and the bytes of its record, which may be anything (for the vectors
/// whose records no conforming writer produces). The version is the one a
/// writer gives such records (2 when a record is a map of six entries).
pub fn encode_store_entries(entries: &[([u8; 16], &str, &[u8])]) -> Vec<u8> {
    let version = format::version_for(entries.iter().any(|e| format::record_expires(e.2)));
    encode_store_entries_as(entries, version)
}

/// [`encode_store_entries`] declaring format `version`, whatever the
/// records (for the vectors whose version does not fit them).
pub fn encode_store_entries_as(entries: &[([u8; 16], &str, &[u8])], version: u64) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = entries
        .iter()
        .map(|&(id, name, record)| format::encode_entry(&RecordId::from_bytes(id), name, record))
        .collect();
    format::encode_store(entries.iter().map(Vec::as_slice), version)
}

/// An account given by its sealed parts, for [`encode_store_raw`].
pub struct RawAccount<'a> {
    /// The account name.
    pub name: &'a str,
    /// The record id.
    pub record_id: [u8; 16],
    /// The frame width written into the record.
    pub width: usize,
    /// Creation time.
    pub created: u64,
    /// Rotation time.
    pub rotated: Option<u64>,
    /// Not-after time, if the account expires.
    pub not_after: Option<u64>,
    /// `(ciphertext, tag)` of the username.
    pub username: (Vec<u8>, [u8; 16]),
    /// `(ciphertext, tag)` of the password.
    pub password: (Vec<u8>, [u8; 16]),
}

/// The key text for a pad and MAC key.
pub fn key_text(record_id: [u8; 16], field: Field, pad: &[u8], mac_key: [u8; 32]) -> String {
    let key = Key::new(
        field,
        RecordId::from_bytes(record_id),
        PadMaterial {
            pad: Zeroizing::new(pad.to_vec()),
            mac_key: Zeroizing::new(mac_key),
        },
    );
    key.to_secret_text().expose_secret().to_owned()
}

/// The encoded account record (the contents of an entry's record byte string).
pub fn encode_record(account: &VectorAccount<'_>) -> Result<Vec<u8>, Error> {
    let (uc, ut) = seal(account, Field::Username)?;
    let (pc, pt) = seal(account, Field::Password)?;
    Ok(format::encode_record(&Record {
        width: account.username.pad.len(),
        created: account.created,
        rotated: account.rotated,
        not_after: account.not_after,
        username: seal::Sealed {
            ciphertext: uc,
            tag: ut,
        },
        password: seal::Sealed {
            ciphertext: pc,
            tag: pt,
        },
    }))
}

/// The bytes of a whole store holding `accounts`, in order.
pub fn encode_store(accounts: &[VectorAccount<'_>]) -> Result<Vec<u8>, Error> {
    let mut entries = Vec::with_capacity(accounts.len());
    for account in accounts {
        let record = encode_record(account)?;
        entries.push(format::encode_entry(
            &RecordId::from_bytes(account.record_id),
            account.name,
            &record,
        ));
    }
    let version = format::version_for(accounts.iter().any(|a| a.not_after.is_some()));
    Ok(format::encode_store(
        entries.iter().map(Vec::as_slice),
        version,
    ))
}

/// Decodes a whole store from bytes, every account record included, as
/// `list` and the writers do (which check that names and record ids are
/// unique as `recover` does); returns the number of accounts or the reason
/// the bytes are not a store. For conformance tests and fuzzing.
pub fn parse_store(bytes: &[u8]) -> Result<usize, String> {
    let describe = |e: format::FormatError| match e {
        format::FormatError::Corrupt(reason) => reason,
        format::FormatError::Version(v) => format!("unsupported version {v}"),
    };
    let entries = format::parse_header(bytes)
        .and_then(|a| a.collect_all())
        .map_err(describe)?;
    for entry in &entries {
        format::decode_record(entry.record).map_err(describe)?;
    }
    Ok(entries.len())
}

/// The path that errors of [`recover_from_bytes`] name.
pub const IN_MEMORY: &str = "(store in memory)";

/// What [`Store::recover`] and [`Store::verify`] give for `keys` (the
/// account's name and credentials) when the store file holds `bytes` and
/// is private: the very scan `recover` runs over the file, through a window
/// that starts at `window` bytes and grows as it does for a file, run over
/// bytes in memory instead. Errors that name a store name [`IN_MEMORY`].
/// Any window size gives the same result; `bytes.len() + 1` or more is one
/// window, a whole read. For fuzzing the reader.
pub fn recover_from_bytes(
    bytes: &[u8],
    window: usize,
    keys: &Keys,
) -> Result<(String, Credentials), Error> {
    Store::at(IN_MEMORY).open_account_in(bytes, window, keys, None)
}

/// [`recover_from_bytes`] with the clock reading `now` (seconds since the
/// Unix epoch), as a vector's `now` says, to check expiry at a fixed time.
pub fn recover_from_bytes_at(
    bytes: &[u8],
    window: usize,
    keys: &Keys,
    now: u64,
) -> Result<(String, Credentials), Error> {
    Store::at(IN_MEMORY).open_account_in(bytes, window, keys, Some(now))
}

/// A launch record with its chosen randomness (spec/launch.md).
pub struct VectorLaunch<'a> {
    /// The launch record's id.
    pub launch_id: [u8; 16],
    /// Its account's record id.
    pub account: [u8; 16],
    /// Its account's username tag, then its password tag.
    pub account_tags: [u8; 32],
    /// When it was issued.
    pub issued: u64,
    /// The last second its keys open it.
    pub not_after: u64,
    /// How many times they do.
    pub uses: u32,
    /// The username and its randomness (the pad's length is the width).
    pub username: VectorValue<'a>,
    /// The password and its randomness.
    pub password: VectorValue<'a>,
}

impl VectorLaunch<'_> {
    fn with_binding<T>(&self, f: impl FnOnce(&seal::LaunchBinding<'_>) -> T) -> T {
        let (launch, account) = (
            RecordId::from_bytes(self.launch_id),
            RecordId::from_bytes(self.account),
        );
        f(&seal::LaunchBinding {
            launch: &launch,
            account: &account,
            account_tags: &self.account_tags,
            issued: self.issued,
            not_after: self.not_after,
            uses: self.uses,
        })
    }

    fn value(&self, field: Field) -> &VectorValue<'_> {
        match field {
            Field::Username => &self.username,
            Field::Password => &self.password,
        }
    }
}

/// The exact message Poly1305 authenticates for one field of a launch
/// record.
pub fn launch_mac_message(launch: &VectorLaunch<'_>, field: Field, frame: &[u8]) -> Vec<u8> {
    use seal::Bound;
    launch.with_binding(|b| b.mac_message(field, frame).to_vec())
}

/// Seals one field of a launch record; returns `(ciphertext, tag)`.
pub fn seal_launch(launch: &VectorLaunch<'_>, field: Field) -> Result<(Vec<u8>, [u8; 16]), Error> {
    let v = launch.value(field);
    let sealed = launch
        .with_binding(|b| seal::seal_with(b, field, v.value, v.padding, v.pad, &v.mac_key))?;
    Ok((sealed.ciphertext, sealed.tag))
}

/// The bytes of a launch record file.
pub fn encode_launch_record(launch: &VectorLaunch<'_>) -> Result<Vec<u8>, Error> {
    let (uc, ut) = seal_launch(launch, Field::Username)?;
    let (pc, pt) = seal_launch(launch, Field::Password)?;
    Ok(crate::store::launch::encode_record(
        &crate::store::launch::LaunchRecordParts {
            account: RecordId::from_bytes(launch.account),
            account_tags: launch.account_tags,
            width: launch.username.pad.len(),
            issued: launch.issued,
            not_after: launch.not_after,
            uses: launch.uses,
            username: seal::Sealed {
                ciphertext: uc,
                tag: ut,
            },
            password: seal::Sealed {
                ciphertext: pc,
                tag: pt,
            },
        },
    ))
}

/// The launch key text for a pad and MAC key.
pub fn launch_key_text(launch_id: [u8; 16], field: Field, pad: &[u8], mac_key: [u8; 32]) -> String {
    let key = Key::of_kind(
        crate::KeyKind::Launch,
        field,
        RecordId::from_bytes(launch_id),
        PadMaterial {
            pad: Zeroizing::new(pad.to_vec()),
            mac_key: Zeroizing::new(mac_key),
        },
    );
    key.to_secret_text().expose_secret().to_owned()
}
