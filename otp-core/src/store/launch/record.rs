//! A launch record's bytes: one small CBOR map, encoded one way only and
//! read by the same bounded decoder as the store (spec/launch.md, "The
//! launch record").
//!
//! The record never changes once written: how many of its uses are spent
//! lives in its file's name, not in its bytes, so that consuming a use never
//! rewrites what its tags authenticate.

use ciborium_ll::Header;

use crate::primitives::{RecordId, MAX_WIDTH, MIN_WIDTH, RECORD_ID_LEN};
use crate::seal::{LaunchBinding, Sealed, TAG_LEN};
use crate::store::format::{self, Cursor, FormatError};

/// The value of the `"format"` entry.
pub(crate) const FORMAT_TAG: &str = "otp-link launch";
/// The launch record format version this build reads and writes.
pub(crate) const VERSION: u64 = 1;
/// Launch record files larger than this are refused before they are read:
/// the largest valid one (W = 101, a million uses) is under 400 bytes.
pub(crate) const MAX_RECORD_BYTES: u64 = 4096;
/// The most uses one launch record may grant.
pub const MAX_USES: u32 = 1_000_000;

/// A decoded launch record.
pub(crate) struct LaunchRecord {
    /// The account's record id.
    pub(crate) account: RecordId,
    /// The account's username tag and password tag when this was issued.
    pub(crate) account_tags: [u8; 2 * TAG_LEN],
    pub(crate) width: usize,
    pub(crate) issued: u64,
    pub(crate) not_after: u64,
    pub(crate) uses: u32,
    pub(crate) username: Sealed,
    pub(crate) password: Sealed,
}

impl LaunchRecord {
    /// What the record's tags bind, for the record of id `launch`.
    pub(crate) fn binding<'a>(&'a self, launch: &'a RecordId) -> LaunchBinding<'a> {
        LaunchBinding {
            launch,
            account: &self.account,
            account_tags: &self.account_tags,
            issued: self.issued,
            not_after: self.not_after,
            uses: self.uses,
        }
    }
}

type Result<T> = std::result::Result<T, FormatError>;

fn corrupt<T>(reason: &str) -> Result<T> {
    Err(FormatError::Corrupt(reason.into()))
}

/// Decodes a launch record file. Format tag and version come first, as in
/// the store, so a record of a later version is reported as such (and left
/// alone by the clean-up of this one).
pub(crate) fn decode(bytes: &[u8]) -> Result<LaunchRecord> {
    if bytes.is_empty() {
        return corrupt("the file is empty");
    }
    let mut c = Cursor::new(bytes);
    let entries = match c.header("the top-level map") {
        Ok(Header::Map(Some(n))) if n >= 2 => n,
        Ok(_) => return corrupt("not an otp-link launch record"),
        Err(e) => return Err(e),
    };
    match c.text("the format key") {
        Ok("format") => {}
        _ => return corrupt("not an otp-link launch record"),
    }
    match c.text("the format tag") {
        Ok(FORMAT_TAG) => {}
        _ => return corrupt("not an otp-link launch record (wrong format tag)"),
    }
    c.key("version")?;
    let version = c.uint("the version")?;
    if version != VERSION {
        return Err(FormatError::Version(version));
    }
    if entries != 10 {
        return corrupt("the launch record does not have exactly ten entries");
    }
    c.key("account")?;
    let account: [u8; RECORD_ID_LEN] = c
        .bytes("the account's record id")?
        .try_into()
        .or_else(|_| corrupt("the account's record id is not 16 bytes"))?;
    c.key("account_tags")?;
    let account_tags: [u8; 2 * TAG_LEN] = c
        .bytes("the account's tags")?
        .try_into()
        .or_else(|_| corrupt("the account's tags are not 32 bytes"))?;
    c.key("width")?;
    let width = c.uint("the width")?;
    if !(MIN_WIDTH as u64..=MAX_WIDTH as u64).contains(&width) {
        return corrupt("the launch record's width is outside 3..=101");
    }
    let width = width as usize;
    c.key("issued")?;
    let issued = c.uint("the issuing time")?;
    c.key("not_after")?;
    let not_after = c.uint("the not-after time")?;
    c.key("uses")?;
    let uses = c.uint("the use limit")?;
    if !(1..=u64::from(MAX_USES)).contains(&uses) {
        return corrupt("the use limit is outside 1..=1000000");
    }
    c.key("username")?;
    let username = format::sealed(&mut c, width, "username")?;
    c.key("password")?;
    let password = format::sealed(&mut c, width, "password")?;
    if !c.at_end() {
        return corrupt("trailing bytes after the launch record");
    }
    Ok(LaunchRecord {
        account: RecordId::from_bytes(account),
        account_tags,
        width,
        issued,
        not_after,
        uses: uses as u32,
        username,
        password,
    })
}

/// Encodes a launch record, in the one encoding readers accept.
pub(crate) fn encode(record: &LaunchRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + 2 * (record.width + TAG_LEN));
    let mut e = format::encoder(&mut out);
    let w = format::VEC_WRITE;
    e.push(Header::Map(Some(10))).expect(w);
    e.text("format", None).expect(w);
    e.text(FORMAT_TAG, None).expect(w);
    e.text("version", None).expect(w);
    e.push(Header::Positive(VERSION)).expect(w);
    e.text("account", None).expect(w);
    e.bytes(record.account.as_bytes(), None).expect(w);
    e.text("account_tags", None).expect(w);
    e.bytes(&record.account_tags, None).expect(w);
    for (key, value) in [
        ("width", record.width as u64),
        ("issued", record.issued),
        ("not_after", record.not_after),
        ("uses", u64::from(record.uses)),
    ] {
        e.text(key, None).expect(w);
        e.push(Header::Positive(value)).expect(w);
    }
    format::encode_sealed(&mut e, &record.username, &record.password);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(width: usize, uses: u32) -> LaunchRecord {
        let sealed = |b| Sealed {
            ciphertext: vec![b; width],
            tag: [b; TAG_LEN],
        };
        LaunchRecord {
            account: RecordId::from_bytes([7; 16]),
            account_tags: [9; 32],
            width,
            issued: 1_795_600_000,
            not_after: 1_795_600_060,
            uses,
            username: sealed(1),
            password: sealed(2),
        }
    }

    fn reason(bytes: &[u8]) -> String {
        match decode(bytes) {
            Ok(_) => "ok".into(),
            Err(FormatError::Corrupt(r)) => r,
            Err(FormatError::Version(v)) => format!("version {v}"),
        }
    }

    #[test]
    fn records_round_trip_and_the_largest_fits_the_size_limit() {
        for (width, uses) in [(3, 1), (64, 17), (101, MAX_USES)] {
            let bytes = encode(&sample(width, uses));
            assert!(
                bytes.len() as u64 <= MAX_RECORD_BYTES / 8,
                "{}",
                bytes.len()
            );
            let back = decode(&bytes).unwrap();
            assert_eq!(encode(&back), bytes);
            assert_eq!((back.width, back.uses), (width, uses));
        }
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let bytes = encode(&sample(25, 3));
        for len in 0..bytes.len() {
            assert_ne!(reason(&bytes[..len]), "ok", "cut at {len}");
        }
        assert_eq!(
            reason(&[&bytes[..], &[0]].concat()),
            "trailing bytes after the launch record"
        );
    }

    #[test]
    fn limits_outside_their_range_and_other_versions_are_refused() {
        let bytes = encode(&sample(25, 1));
        let edit = |from: &[u8], to: &[u8]| {
            let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
            [&bytes[..at], to, &bytes[at + from.len()..]].concat()
        };
        assert_eq!(
            reason(&edit(b"\x64uses\x01", b"\x64uses\x00")),
            "the use limit is outside 1..=1000000"
        );
        assert_eq!(
            reason(&edit(b"\x64uses\x01", b"\x64uses\x1a\x00\x0f\x42\x41")),
            "the use limit is outside 1..=1000000"
        );
        assert_eq!(reason(&edit(b"gversion\x01", b"gversion\x02")), "version 2");
        assert!(reason(&edit(b"otp-link launch", b"otp-link store!")).contains("format tag"));
        // An integer not in its shortest form.
        assert!(reason(&edit(b"\x64uses\x01", b"\x64uses\x18\x01")).contains("non-canonical"));
    }
}
