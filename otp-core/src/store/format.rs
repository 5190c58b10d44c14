//! The store's bytes: a deterministic CBOR encoding and a bounded decoder.
//!
//! The store is untrusted input. The decoder walks a fixed schema, header by
//! header, over a byte slice whose size was checked before it was read: no
//! recursion, no allocation sized by a length prefix (every length is checked
//! against the bytes that remain), and nothing but the definite-length items
//! the schema names. Each account sits in its own byte string, so a reader
//! finds one record id by skipping over the others without decoding them, and
//! a writer copies untouched accounts verbatim. Every integer and length must
//! be in its shortest form and no account name or record id may repeat, so
//! a store has one encoding and one meaning. Schema: spec/README.md, "Store".

use std::collections::HashSet;

use ciborium_ll::{Decoder, Encoder, Header};

use crate::primitives::{RecordId, MAX_WIDTH, MIN_WIDTH, RECORD_ID_LEN};
use crate::seal::{Sealed, TAG_LEN};

/// The value of the `"format"` entry: what kind of file this is.
pub(crate) const FORMAT_TAG: &str = "otp-link store";
/// The store format version of stores in which no account expires: the
/// first version, which every otp-link reads.
pub(crate) const VERSION_PLAIN: u64 = 1;
/// The store format version of stores in which some account expires: its
/// record holds a `not_after` time. Readers before it refuse such a store
/// as of an unsupported version, and so never open an expiring account
/// without checking its expiry.
pub(crate) const VERSION_EXPIRY: u64 = 2;
/// The head of an account record that holds a `not_after` time: a map of
/// six entries (one without is a map of five, `0xa5`).
const EXPIRING_RECORD_HEAD: u8 = 0xa6;
/// Stores larger than this are refused before they are read.
pub(crate) const MAX_STORE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest account name, in UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Why bytes are not a store this build can read.
#[derive(Debug)]
pub(crate) enum FormatError {
    /// Not a valid store; the reason names the first thing found wrong.
    Corrupt(String),
    /// A store of another format version.
    Version(u64),
}

type Result<T> = std::result::Result<T, FormatError>;

fn corrupt<T>(reason: impl Into<String>) -> Result<T> {
    Err(FormatError::Corrupt(reason.into()))
}

/// One account as the store's top-level array holds it: id and name outside,
/// the rest still encoded.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) id: RecordId,
    pub(crate) name: &'a str,
    /// The encoded `account` map (the contents of the record byte string).
    pub(crate) record: &'a [u8],
    /// The whole encoded entry, copied verbatim when a writer keeps it.
    pub(crate) raw: &'a [u8],
    /// Whether the record holds a `not_after` time (see [`record_expires`]).
    pub(crate) expires: bool,
}

/// Whether an encoded account record holds a `not_after` time: whether it
/// is a map of six entries. Decided by its first byte, so that a reader
/// and a writer tell it for every account without decoding the records.
pub(crate) fn record_expires(record: &[u8]) -> bool {
    record.first() == Some(&EXPIRING_RECORD_HEAD)
}

/// The version of a store whose accounts are these: [`VERSION_EXPIRY`] if
/// any of them expires, else [`VERSION_PLAIN`], so that a store in which
/// nothing expires stays readable by every otp-link.
pub(crate) fn version_for(any_expires: bool) -> u64 {
    if any_expires {
        VERSION_EXPIRY
    } else {
        VERSION_PLAIN
    }
}

/// The rule that spans a store's entries and its version: a version 2
/// store holds at least one account that expires (a version 1 store holds
/// none, which [`Accounts::next_entry`] checks entry by entry). Checked
/// after every entry has been read, so that one store has one encoding.
pub(crate) fn check_version(version: u64, any_expires: bool) -> Result<()> {
    if version == VERSION_EXPIRY && !any_expires {
        return corrupt(
            "it is of version 2 but no account in it expires (such a store is version 1)",
        );
    }
    Ok(())
}

/// An account's decoded record.
pub(crate) struct Record {
    pub(crate) width: usize,
    pub(crate) created: u64,
    pub(crate) rotated: Option<u64>,
    /// The last second at which the account opens, if it expires.
    pub(crate) not_after: Option<u64>,
    pub(crate) username: Sealed,
    pub(crate) password: Sealed,
}

/// Decodes the CBOR head at the start of `bytes`: the header and its length
/// in bytes, or `None` when it is truncated or invalid. Gives exactly what
/// `ciborium_ll::Decoder::pull` gives, which it calls for major type 7
/// (simple values and floats); the other major types are decoded here
/// because a reader pulls four heads per account and the decoder's
/// general machinery dominated the time `recover` takes on a large store.
fn pull_header(bytes: &[u8]) -> Option<(Header, usize)> {
    let initial = *bytes.first()?;
    let major = initial >> 5;
    if major == 7 {
        let mut decoder = Decoder::from(bytes);
        let header = decoder.pull().ok()?;
        return Some((header, decoder.offset()));
    }
    // The argument: in the low five bits, or in the 1, 2, 4 or 8 bytes that
    // follow (big-endian, not necessarily minimal); 31 is indefinite.
    let next = &bytes[1..];
    let (arg, len) = match initial & 0x1f {
        ai @ 0..=23 => (Some(u64::from(ai)), 1),
        24 => (Some(u64::from(*next.first()?)), 2),
        25 => (Some(u64::from(u16::from_be_bytes(*next.first_chunk()?))), 3),
        26 => (Some(u64::from(u32::from_be_bytes(*next.first_chunk()?))), 5),
        27 => (Some(u64::from_be_bytes(*next.first_chunk()?)), 9),
        31 => (None, 1),
        _ => return None,
    };
    let length = |arg: Option<u64>| arg.map(usize::try_from).transpose().ok();
    let header = match major {
        0 => Header::Positive(arg?),
        1 => Header::Negative(arg?),
        2 => Header::Bytes(length(arg)?),
        3 => Header::Text(length(arg)?),
        4 => Header::Array(length(arg)?),
        5 => Header::Map(length(arg)?),
        _ => Header::Tag(arg?),
    };
    Some((header, len))
}

/// Whether a head of `len` bytes holds `header`'s argument in the fewest
/// bytes CBOR allows (RFC 8949 section 4.2.1): in the initial byte below 24,
/// else in 1, 2, 4 or 8 bytes, whichever is the first to fit. A reader that
/// took `0x18 0x05` for 5 would read one store from many byte strings, and
/// two readers could then disagree about what a store says, or a vector
/// about its bytes.
///
/// Kept out of [`pull_header`], which gives exactly what ciborium gives.
fn is_shortest(header: &Header, len: usize) -> bool {
    let arg = match *header {
        Header::Positive(n) | Header::Negative(n) | Header::Tag(n) => n,
        Header::Bytes(Some(n))
        | Header::Text(Some(n))
        | Header::Array(Some(n))
        | Header::Map(Some(n)) => n as u64,
        // No argument: one byte, and refused by the schema anyway.
        Header::Bytes(None)
        | Header::Text(None)
        | Header::Array(None)
        | Header::Map(None)
        | Header::Break => return true,
        // Simple values below 24 sit in the initial byte (null is 0xf6);
        // the two-byte form is for 32 and up, and not well-formed below.
        Header::Simple(n) => return (n < 24 && len == 1) || n >= 32,
        // The schema has no floats: every reader refuses them as the wrong
        // type wherever they appear, whatever their width.
        Header::Float(_) => return true,
    };
    len == match arg {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// A bounded reader of CBOR heads over a slice.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Where `bytes` starts in the file, for error messages: nonzero when a
    /// reader scans the store through a window.
    base: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Cursor {
            bytes,
            pos: 0,
            base: 0,
        }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(super) fn header(&mut self, what: &str) -> Result<Header> {
        let rest = &self.bytes[self.pos..];
        if rest.is_empty() {
            return corrupt(format!("truncated before {what}"));
        }
        match pull_header(rest) {
            Some((header, len)) if is_shortest(&header, len) => {
                self.pos += len;
                Ok(header)
            }
            Some(_) => corrupt(format!(
                "non-canonical CBOR (an integer or length not in its shortest form) in {what} at byte {}",
                self.base + self.pos
            )),
            None => corrupt(format!(
                "truncated or invalid CBOR in {what} at byte {}",
                self.base + self.pos
            )),
        }
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        if len > self.bytes.len() - self.pos {
            return corrupt(format!(
                "{what} claims {len} bytes but only {} remain",
                self.bytes.len() - self.pos
            ));
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    pub(super) fn bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        match self.header(what)? {
            Header::Bytes(Some(len)) => self.take(len, what),
            _ => corrupt(format!("{what} is not a definite-length byte string")),
        }
    }

    pub(super) fn text(&mut self, what: &str) -> Result<&'a str> {
        match self.header(what)? {
            Header::Text(Some(len)) => {
                let raw = self.take(len, what)?;
                std::str::from_utf8(raw).or_else(|_| corrupt(format!("{what} is not valid UTF-8")))
            }
            _ => corrupt(format!("{what} is not a definite-length text string")),
        }
    }

    pub(super) fn uint(&mut self, what: &str) -> Result<u64> {
        match self.header(what)? {
            Header::Positive(n) => Ok(n),
            _ => corrupt(format!("{what} is not an unsigned integer")),
        }
    }

    /// An array head; the length is bounded by the bytes that remain (each
    /// element takes at least one byte), never trusted for allocation.
    fn array(&mut self, what: &str) -> Result<usize> {
        match self.header(what)? {
            Header::Array(Some(n)) if n <= self.bytes.len() - self.pos => Ok(n),
            Header::Array(Some(_)) => {
                corrupt(format!("{what} claims more items than bytes remain"))
            }
            _ => corrupt(format!("{what} is not a definite-length array")),
        }
    }

    pub(super) fn map(&mut self, what: &str) -> Result<usize> {
        match self.header(what)? {
            Header::Map(Some(n)) => Ok(n),
            _ => corrupt(format!("{what} is not a definite-length map")),
        }
    }

    pub(super) fn key(&mut self, expected: &str) -> Result<()> {
        let what = format!("the key of entry '{expected}'");
        match self.text(&what) {
            Ok(found) if found == expected => Ok(()),
            Ok(_) => corrupt(format!("expected the map key '{expected}'")),
            Err(e) => Err(e),
        }
    }
}

/// A parsed store header and a cursor positioned at the first account.
pub(crate) struct Accounts<'a> {
    cursor: Cursor<'a>,
    remaining: usize,
    version: u64,
}

/// Parses the top-level map up to the accounts array. Format tag and version
/// are read first, in every version, so a future store is reported as such.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Accounts<'_>> {
    if bytes.is_empty() {
        return corrupt("the file is empty");
    }
    let mut c = Cursor::new(bytes);
    let entries = match c.header("the top-level map") {
        Ok(Header::Map(Some(n))) => n,
        Ok(_) => return corrupt("not an otp-link store (the top level is not a map)"),
        Err(e) => return Err(e),
    };
    if entries < 2 {
        return corrupt("not an otp-link store (no format tag)");
    }
    match c.text("the format key") {
        Ok("format") => {}
        _ => return corrupt("not an otp-link store (no format tag)"),
    }
    match c.text("the format tag") {
        Ok(FORMAT_TAG) => {}
        _ => return corrupt("not an otp-link store (wrong format tag)"),
    }
    c.key("version")?;
    let version = c.uint("the version")?;
    if version != VERSION_PLAIN && version != VERSION_EXPIRY {
        return Err(FormatError::Version(version));
    }
    if entries != 3 {
        return corrupt("the top-level map does not have exactly three entries");
    }
    c.key("accounts")?;
    let remaining = c.array("the accounts array")?;
    Ok(Accounts {
        cursor: c,
        remaining,
        version,
    })
}

impl<'a> Accounts<'a> {
    /// Goes on with a scan through a window of the store: `window` holds the
    /// file's bytes from offset `base` on, starting at an entry boundary with
    /// `remaining` entries to go (as [`Accounts::remaining`] and
    /// [`Accounts::consumed`] reported them).
    ///
    /// What is parsed from a window that ends before the file does would
    /// parse the same from the whole file, because every check only needs
    /// enough bytes; an error, though, may only mean that the window ends
    /// too soon, and is the file's only when the window reaches its end.
    /// At that point the window's bytes are exactly the rest of the file and
    /// every result, error messages included, is the whole file's.
    pub(crate) fn resume(window: &'a [u8], base: usize, remaining: usize, version: u64) -> Self {
        Accounts {
            cursor: Cursor {
                bytes: window,
                pos: 0,
                base,
            },
            remaining,
            version,
        }
    }

    /// The store's format version.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// How many entries the accounts array still holds.
    pub(crate) fn remaining(&self) -> usize {
        self.remaining
    }

    /// How many bytes of the input have been parsed.
    pub(crate) fn consumed(&self) -> usize {
        self.cursor.pos
    }

    /// The next account entry, or `None` after the last, when the input must
    /// also have ended. Checks the entry alone: a reader checks the rule
    /// that spans entries with [`UniqueEntries`] too, as
    /// [`Accounts::collect_all`] does.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry<'a>>> {
        if self.remaining == 0 {
            if !self.cursor.at_end() {
                return corrupt("trailing bytes after the accounts array");
            }
            return Ok(None);
        }
        self.remaining -= 1;
        let c = &mut self.cursor;
        let start = c.pos;
        if c.array("an account entry")? != 3 {
            return corrupt("an account entry is not [id, name, record]");
        }
        let id = c.bytes("a record id")?;
        let id: [u8; RECORD_ID_LEN] = id
            .try_into()
            .or_else(|_| corrupt("a record id is not 16 bytes"))?;
        let name = c.text("an account name")?;
        check_name(name)
            .map_err(|reason| FormatError::Corrupt(format!("an account name {reason}")))?;
        let record = c.bytes("an account record")?;
        let expires = record_expires(record);
        if expires && self.version == VERSION_PLAIN {
            return corrupt(
                "an account record holds a not_after time, which a version 1 store cannot hold",
            );
        }
        Ok(Some(Entry {
            id: RecordId::from_bytes(id),
            name,
            record,
            raw: &c.bytes[start..c.pos],
            expires,
        }))
    }

    /// Every remaining entry, validated to the end of the input, none with
    /// the name or record id of another. A name or id that repeats is
    /// reported before anything wrong after it, as a reader that checked
    /// each entry as it went would.
    pub(crate) fn collect_all(mut self) -> Result<Vec<Entry<'a>>> {
        let left = self.cursor.bytes.len() - self.cursor.pos;
        let mut seen = UniqueEntries::for_entries(self.remaining.min(left / MIN_ENTRY_BYTES));
        let mut all = Vec::new();
        let version = self.version;
        let end = loop {
            match self.next_entry() {
                Ok(Some(entry)) => {
                    seen.add(&entry);
                    all.push(entry);
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if !seen.all_distinct() {
            check_unique(&all)?;
        }
        end?;
        check_version(version, all.iter().any(|e| e.expires))?;
        Ok(all)
    }
}

/// The smallest an account entry of a valid store can be: a one-byte name
/// and a record of width 3 (checked by a test).
const MIN_ENTRY_BYTES: usize = 110;

/// The rule that no account name and no record id appears twice in a store,
/// checked by every reader. Names must be unique because `list`, `remove`
/// and `replace` address accounts by name; record ids because keys address
/// records by id. A store that broke either rule would mean different
/// things to a reader that stops at the first match and to one that stops
/// at the last.
///
/// As the entries are read, each id and name is reduced to a 64-bit
/// fingerprint, kept in one flat array per kind: 16 bytes an account, so
/// that `recover`, which scans the store through a window, need not hold its
/// ids and names. Once every entry is read (or the parse has stopped at
/// something wrong), each array is sorted and:
///
/// - if no two fingerprints of a kind are equal, no id and no name repeats:
///   the usual case, which this decides alone;
/// - if two are equal, an id or a name repeats, or two fingerprints
///   collide. Then [`check_unique`] decides on the entries themselves: a
///   reader that holds them all calls it, and `recover` reads the store
///   again, whole, to call it.
///
/// The fingerprints are cheap and unkeyed on purpose: an id's is its two
/// halves folded (ids are random), a name's a chain of MurmurHash3's
/// finalizer. Whoever
/// writes a store can make two fingerprints collide, and what that buys is
/// one more read of the store, exactly what a store whose names really
/// repeat costs: no input makes the check slower than a sort, n log n.
/// SipHash under a random key cost `recover` twice the time on a store of
/// 100,000 accounts, for no gain in what a hostile store can do.
///
/// Sorting flat arrays, not inserting into hash sets as each entry is read:
/// on a store of 100,000 accounts the sets' tables outgrew the CPU's cache,
/// and `recover` spent more time in cache misses than in parsing.
pub(crate) struct UniqueEntries {
    ids: Vec<u64>,
    names: Vec<u64>,
}

/// The fingerprint of a record id: its two halves folded.
fn id_fingerprint(id: &[u8; RECORD_ID_LEN]) -> u64 {
    let (low, high) = id.split_at(8);
    let half = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    half(low) ^ half(high).rotate_left(29)
}

/// The fingerprint of a name: its length, then eight bytes at a time, each
/// mixed in with MurmurHash3's 64-bit finalizer (a bijection that spreads
/// every input bit over every output bit). A multiply-rotate step alone, as
/// in FxHash, only carries differences upwards: names such as `acct-000123`
/// collided by the thousand and sent `recover` to its second read.
fn name_fingerprint(name: &[u8]) -> u64 {
    fn mix(mut x: u64) -> u64 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
    let mut hash = name.len() as u64;
    let mut chunks = name.chunks_exact(8);
    for chunk in &mut chunks {
        hash = mix(hash ^ u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    // The last bytes, shifted in one by one: a copy of a variable length
    // would be a call to memcpy for every name (musl's is not inlined).
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let word = tail
            .iter()
            .rev()
            .fold(0u64, |word, &byte| word << 8 | u64::from(byte));
        hash = mix(hash ^ word);
    }
    hash
}

impl UniqueEntries {
    /// For a scan of up to `claimed` entries (what an accounts array's head
    /// says, already checked against the bytes that hold it): room for that
    /// many is made at once, as far as a store within the size limit can
    /// hold them.
    pub(crate) fn for_entries(claimed: usize) -> Self {
        let claimed = claimed.min(MAX_STORE_BYTES as usize / MIN_ENTRY_BYTES);
        UniqueEntries {
            ids: Vec::with_capacity(claimed),
            names: Vec::with_capacity(claimed),
        }
    }

    /// Takes the fingerprints of `entry`'s record id and name.
    pub(crate) fn add(&mut self, entry: &Entry<'_>) {
        self.ids.push(id_fingerprint(entry.id.as_bytes()));
        self.names.push(name_fingerprint(entry.name.as_bytes()));
    }

    /// True when no two fingerprints of a kind are equal, so that no name
    /// and no record id of those entries repeats; false when the entries
    /// must be compared with [`check_unique`]. Call it when every entry
    /// there is has been added.
    pub(crate) fn all_distinct(&self) -> bool {
        !has_repeat(&self.ids) && !has_repeat(&self.names)
    }
}

/// Whether two of `values` are equal. Sorting finds out; sorting 100,000
/// values as one slice was most of what the uniqueness check cost, so they
/// are first spread into 4,096 buckets by their top 12 bits (fingerprints
/// are uniform) and each bucket, a few dozen values that stay in the CPU's
/// cache, is sorted alone: about 40 % faster, and still n log n at worst.
fn has_repeat(values: &[u64]) -> bool {
    const BITS: u32 = 12;
    // Few values: one sort, without the buckets' 64 KiB of counters, whose
    // page faults cost a one-account `recover` a fifth of its time.
    if values.len() <= 1 << BITS {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        return sorted.windows(2).any(|pair| pair[0] == pair[1]);
    }
    let bucket = |value: u64| (value >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for &value in values {
        starts[bucket(value) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut spread = vec![0u64; values.len()];
    let mut next = starts.clone();
    for &value in values {
        let b = bucket(value);
        spread[next[b]] = value;
        next[b] += 1;
    }
    starts.windows(2).any(|range| {
        let bucket = &mut spread[range[0]..range[1]];
        bucket.sort_unstable();
        bucket.windows(2).any(|pair| pair[0] == pair[1])
    })
}

/// Refuses the first of `entries`, in order, that has the record id or the
/// name of an entry before it (the id is looked at first). Exact, and only
/// called when [`UniqueEntries::all_distinct`] found two fingerprints equal.
pub(crate) fn check_unique(entries: &[Entry<'_>]) -> Result<()> {
    let mut ids = HashSet::with_capacity(entries.len());
    let mut names = HashSet::with_capacity(entries.len());
    for entry in entries {
        if !ids.insert(entry.id) {
            return corrupt("a record id appears twice");
        }
        if !names.insert(entry.name) {
            return corrupt("an account name appears twice");
        }
    }
    Ok(())
}

/// Checks an account name: 1 to 256 bytes of UTF-8 with no control characters,
/// so every name prints on one line.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Err("is longer than 256 bytes");
    }
    if name.chars().any(char::is_control) {
        return Err("holds control characters");
    }
    Ok(())
}

/// Checks the name of a new account: [`check_name`], and no invisible
/// format characters (Unicode category Cf: zero-width spaces, the byte order
/// mark, bidirectional overrides), which would let `list` show two names as
/// one or a name as another. Readers keep accepting such names in stores
/// written before this rule, so no existing account is locked out.
pub(crate) fn check_new_name(name: &str) -> std::result::Result<(), &'static str> {
    check_name(name)?;
    if name.chars().any(crate::error::is_format_char) {
        return Err("holds invisible format characters (such as U+200B or U+202E); use visible characters only");
    }
    Ok(())
}

/// A `[ciphertext, tag]` pair whose ciphertext is `width` bytes.
pub(super) fn sealed(c: &mut Cursor<'_>, width: usize, what: &str) -> Result<Sealed> {
    if c.array(what)? != 2 {
        return corrupt(format!("the {what} is not [ciphertext, tag]"));
    }
    let ciphertext = c.bytes(what)?;
    if ciphertext.len() != width {
        return corrupt(format!("the {what} ciphertext is not as long as the width"));
    }
    let tag = c.bytes(what)?;
    let tag: [u8; TAG_LEN] = tag
        .try_into()
        .or_else(|_| corrupt(format!("the {what} tag is not 16 bytes")))?;
    Ok(Sealed {
        ciphertext: ciphertext.to_vec(),
        tag,
    })
}

/// Decodes an account record (the contents of its byte string).
pub(crate) fn decode_record(bytes: &[u8]) -> Result<Record> {
    let mut c = Cursor::new(bytes);
    let entries = c.map("an account record")?;
    if entries != 5 && entries != 6 {
        return corrupt("an account record does not have five or six entries");
    }
    c.key("width")?;
    let width = c.uint("the width")?;
    if !(MIN_WIDTH as u64..=MAX_WIDTH as u64).contains(&width) {
        return corrupt("an account's width is outside 3..=101");
    }
    let width = width as usize;
    c.key("created")?;
    let created = c.uint("the creation time")?;
    c.key("rotated")?;
    let rotated = match c.header("the rotation time")? {
        Header::Positive(t) => Some(t),
        Header::Simple(ciborium_ll::simple::NULL) => None,
        _ => return corrupt("the rotation time is neither a time nor null"),
    };
    let not_after = if entries == 6 {
        c.key("not_after")?;
        Some(c.uint("the not_after time")?)
    } else {
        None
    };
    c.key("username")?;
    let username = sealed(&mut c, width, "username")?;
    c.key("password")?;
    let password = sealed(&mut c, width, "password")?;
    if !c.at_end() {
        return corrupt("trailing bytes in an account record");
    }
    Ok(Record {
        width,
        created,
        rotated,
        not_after,
        username,
        password,
    })
}

pub(super) fn encoder(out: &mut Vec<u8>) -> Encoder<&mut Vec<u8>> {
    Encoder::from(out)
}

// Writing into a Vec cannot fail; the Results below are ciborium's signature.
pub(super) const VEC_WRITE: &str = "writing CBOR into a Vec cannot fail";

/// Encodes a record (the contents of an entry's record byte string).
pub(crate) fn encode_record(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 2 * (record.width + TAG_LEN));
    let mut e = encoder(&mut out);
    let entries = if record.not_after.is_some() { 6 } else { 5 };
    e.push(Header::Map(Some(entries))).expect(VEC_WRITE);
    e.text("width", None).expect(VEC_WRITE);
    e.push(Header::Positive(record.width as u64))
        .expect(VEC_WRITE);
    e.text("created", None).expect(VEC_WRITE);
    e.push(Header::Positive(record.created)).expect(VEC_WRITE);
    e.text("rotated", None).expect(VEC_WRITE);
    match record.rotated {
        Some(t) => e.push(Header::Positive(t)).expect(VEC_WRITE),
        None => e
            .push(Header::Simple(ciborium_ll::simple::NULL))
            .expect(VEC_WRITE),
    }
    if let Some(t) = record.not_after {
        e.text("not_after", None).expect(VEC_WRITE);
        e.push(Header::Positive(t)).expect(VEC_WRITE);
    }
    encode_sealed(&mut e, &record.username, &record.password);
    out
}

/// The `"username"` and `"password"` entries: each `[ciphertext, tag]`.
pub(super) fn encode_sealed(e: &mut Encoder<&mut Vec<u8>>, username: &Sealed, password: &Sealed) {
    for (key, sealed) in [("username", username), ("password", password)] {
        e.text(key, None).expect(VEC_WRITE);
        e.push(Header::Array(Some(2))).expect(VEC_WRITE);
        e.bytes(&sealed.ciphertext, None).expect(VEC_WRITE);
        e.bytes(&sealed.tag, None).expect(VEC_WRITE);
    }
}

/// Encodes one entry of the accounts array.
pub(crate) fn encode_entry(id: &RecordId, name: &str, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + name.len() + record.len());
    let mut e = encoder(&mut out);
    e.push(Header::Array(Some(3))).expect(VEC_WRITE);
    e.bytes(id.as_bytes(), None).expect(VEC_WRITE);
    e.text(name, None).expect(VEC_WRITE);
    e.bytes(record, None).expect(VEC_WRITE);
    out
}

/// Encodes a whole store of format `version` ([`version_for`]) from
/// already-encoded entries.
pub(crate) fn encode_store<'e>(
    entries: impl ExactSizeIterator<Item = &'e [u8]>,
    version: u64,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = encoder(&mut out);
    e.push(Header::Map(Some(3))).expect(VEC_WRITE);
    e.text("format", None).expect(VEC_WRITE);
    e.text(FORMAT_TAG, None).expect(VEC_WRITE);
    e.text("version", None).expect(VEC_WRITE);
    e.push(Header::Positive(version)).expect(VEC_WRITE);
    e.text("accounts", None).expect(VEC_WRITE);
    e.push(Header::Array(Some(entries.len()))).expect(VEC_WRITE);
    for entry in entries {
        out.extend_from_slice(entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What ciborium's decoder gives for a head at the start of `bytes`.
    fn ciborium_header(bytes: &[u8]) -> Option<(Header, usize)> {
        let mut decoder = Decoder::from(bytes);
        let header = decoder.pull().ok()?;
        Some((header, decoder.offset()))
    }

    fn same(a: Option<(Header, usize)>, b: Option<(Header, usize)>) -> bool {
        match (a, b) {
            // Compare floats by bits, so that NaN equals itself.
            (Some((Header::Float(x), n)), Some((Header::Float(y), m))) => {
                x.to_bits() == y.to_bits() && n == m
            }
            (a, b) => a == b,
        }
    }

    #[test]
    fn pull_header_agrees_with_ciborium_on_every_initial_byte() {
        let tails: [&[u8]; 6] = [
            &[],
            &[0x01],
            &[0xff, 0x00],
            &[0x12, 0x34, 0x56],
            &[0x80, 0, 0, 1, 0xfe, 0xdc, 0xba, 0x98],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x42],
        ];
        for initial in 0..=255u8 {
            for tail in tails {
                for cut in 0..=tail.len() {
                    let mut bytes = vec![initial];
                    bytes.extend_from_slice(&tail[..cut]);
                    let ours = pull_header(&bytes);
                    let theirs = ciborium_header(&bytes);
                    assert!(
                        same(ours, theirs),
                        "{bytes:02x?}: ours {ours:?}, ciborium {theirs:?}"
                    );
                }
            }
        }
    }

    /// The head of major type `major` with argument `n` in each width that
    /// holds it, shortest first.
    fn every_encoding(major: u8, n: u64) -> Vec<Vec<u8>> {
        let mt = major << 5;
        let mut out = Vec::new();
        if n < 24 {
            out.push(vec![mt | n as u8]);
        }
        if n <= 0xff {
            out.push(vec![mt | 24, n as u8]);
        }
        if n <= 0xffff {
            out.push([&[mt | 25][..], &(n as u16).to_be_bytes()].concat());
        }
        if n <= 0xffff_ffff {
            out.push([&[mt | 26][..], &(n as u32).to_be_bytes()].concat());
        }
        out.push([&[mt | 27][..], &n.to_be_bytes()].concat());
        out
    }

    const NOT_SHORTEST: &str = "non-canonical CBOR (an integer or length not in its shortest form)";

    #[test]
    fn only_the_shortest_head_of_an_argument_is_accepted() {
        let edges = [
            0,
            5,
            23,
            24,
            255,
            256,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ];
        for major in 0..=6u8 {
            for n in edges {
                let len = usize::try_from(n).unwrap();
                let expected = match major {
                    0 => Header::Positive(n),
                    1 => Header::Negative(n),
                    2 => Header::Bytes(Some(len)),
                    3 => Header::Text(Some(len)),
                    4 => Header::Array(Some(len)),
                    5 => Header::Map(Some(len)),
                    _ => Header::Tag(n),
                };
                for (i, head) in every_encoding(major, n).iter().enumerate() {
                    // After one byte that is read first, to check the offset.
                    let bytes = [&[0x00][..], head].concat();
                    let mut c = Cursor::new(&bytes);
                    c.header("a first head").unwrap();
                    match c.header("a test head") {
                        Ok(header) if i == 0 => {
                            assert_eq!(header, expected, "{head:02x?}");
                            assert!(c.at_end(), "{head:02x?}");
                        }
                        Err(FormatError::Corrupt(reason)) if i > 0 => assert_eq!(
                            reason,
                            format!("{NOT_SHORTEST} in a test head at byte 1"),
                            "{head:02x?}"
                        ),
                        Ok(header) => panic!("{head:02x?} accepted as {header:?}"),
                        Err(e) => panic!("{head:02x?}: {e:?}"),
                    }
                }
            }
        }
    }

    fn record_with_rotated(rotated: &[u8]) -> Vec<u8> {
        let sealed = || Sealed {
            ciphertext: vec![0; 3],
            tag: [0; TAG_LEN],
        };
        let record = encode_record(&Record {
            width: 3,
            created: 1,
            rotated: None,
            not_after: None,
            username: sealed(),
            password: sealed(),
        });
        let key = b"\x67rotated\xf6";
        let at = record
            .windows(key.len())
            .position(|w| w == key)
            .expect("the rotation time")
            + key.len()
            - 1;
        [&record[..at], rotated, &record[at + 1..]].concat()
    }

    /// Null (0xf6) is the only value of major type 7 the schema has, as
    /// the rotation time; every other head of that type is refused there,
    /// including the two-byte form of null, and in the place of an integer.
    #[test]
    fn of_major_type_7_only_null_is_read_and_only_as_a_rotation_time() {
        assert!(decode_record(&record_with_rotated(&[0xf6]))
            .unwrap()
            .rotated
            .is_none());
        for initial in 0xe0..=0xffu8 {
            for tail in [&[][..], &[0x16], &[0x20], &[0x3c, 0x00], &[0; 4], &[0; 8]] {
                let head = [&[initial][..], tail].concat();
                if head == [0xf6] {
                    continue;
                }
                assert!(
                    decode_record(&record_with_rotated(&head)).is_err(),
                    "{head:02x?} read as a rotation time"
                );
                let mut width = record_with_rotated(&[0xf6]);
                let at = width.windows(6).position(|w| w == b"\x65width").unwrap() + 6;
                width.splice(at..at + 1, head.iter().copied());
                assert!(
                    decode_record(&width).is_err(),
                    "{head:02x?} read as a width"
                );
            }
        }
        let err = decode_record(&record_with_rotated(&[0xf8, 0x16])).err();
        assert!(
            matches!(&err, Some(FormatError::Corrupt(r)) if r.starts_with(NOT_SHORTEST)),
            "{err:?}"
        );
    }

    fn entry(id: u8, name: &str) -> Entry<'_> {
        Entry {
            id: RecordId::from_bytes([id; RECORD_ID_LEN]),
            name,
            record: &[],
            raw: &[],
            expires: false,
        }
    }

    fn reason(result: Result<()>) -> String {
        match result {
            Ok(()) => "ok".into(),
            Err(FormatError::Corrupt(reason)) => reason,
            Err(e) => format!("{e:?}"),
        }
    }

    fn distinct(entries: &[Entry<'_>]) -> bool {
        let mut seen = UniqueEntries::for_entries(entries.len());
        for entry in entries {
            seen.add(entry);
        }
        seen.all_distinct()
    }

    /// Regression: names that differ only in a few digits (`acct-000123`)
    /// had equal fingerprints by the thousand, and every `recover` on such
    /// a store read it twice, the second time whole (46 MiB of RSS for a
    /// 24 MiB store).
    #[test]
    fn repeats_are_found_in_any_bucket() {
        assert!(!has_repeat(&[]));
        assert!(!has_repeat(&[7]));
        let distinct: Vec<u64> = (0..10_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        assert!(!has_repeat(&distinct));
        for (a, b) in [(0, 9_999), (17, 4_242), (5_000, 5_001)] {
            let mut repeated = distinct.clone();
            repeated[b] = repeated[a];
            assert!(has_repeat(&repeated), "{a} {b}");
        }
        // Values in one bucket only, and at the extremes.
        assert!(has_repeat(&[u64::MAX, 1, u64::MAX]));
        assert!(!has_repeat(&[0, 1, 2, u64::MAX]));
        // Many values in one bucket.
        let mut crowded: Vec<u64> = (0..5_000u64).map(|i| u64::MAX - i).collect();
        assert!(!has_repeat(&crowded));
        crowded.push(u64::MAX - 4_321);
        assert!(has_repeat(&crowded));
    }

    #[test]
    fn numbered_names_do_not_collide() {
        for pattern in ["acct-", "user-", "a", "edms/prod-db-", "filler"] {
            let mut fingerprints: Vec<u64> = (0..100_000)
                .map(|i| name_fingerprint(format!("{pattern}{i:06}").as_bytes()))
                .collect();
            fingerprints.sort_unstable();
            fingerprints.dedup();
            assert_eq!(fingerprints.len(), 100_000, "{pattern}");
        }
    }

    #[test]
    fn fingerprints_tell_distinct_entries_from_repeats() {
        let ok = [entry(1, "a"), entry(2, "b"), entry(3, "A"), entry(4, "ab")];
        assert!(distinct(&ok));
        assert!(distinct(&[]));
        // A name or an id again, anywhere; names compare byte for byte.
        assert!(!distinct(&[entry(1, "a"), entry(2, "b"), entry(3, "a")]));
        assert!(!distinct(&[entry(1, "a"), entry(2, "b"), entry(1, "c")]));
        // The two kinds are kept apart: an id whose bytes spell a name of
        // another entry is not a repeat.
        let id_as_name = std::str::from_utf8(&[b'i'; RECORD_ID_LEN]).unwrap();
        assert!(distinct(&[entry(b'i', "x"), entry(2, id_as_name)]));
    }

    #[test]
    fn check_unique_names_the_first_repeat_in_order() {
        assert_eq!(reason(check_unique(&[entry(1, "a"), entry(2, "b")])), "ok");
        assert_eq!(
            reason(check_unique(&[entry(1, "a"), entry(2, "b"), entry(3, "a")])),
            "an account name appears twice"
        );
        assert_eq!(
            reason(check_unique(&[entry(1, "a"), entry(2, "b"), entry(1, "c")])),
            "a record id appears twice"
        );
        // The earlier repeat is named, and of one entry the id first.
        assert_eq!(
            reason(check_unique(&[entry(1, "a"), entry(2, "a"), entry(1, "c")])),
            "an account name appears twice"
        );
        assert_eq!(
            reason(check_unique(&[entry(1, "a"), entry(1, "a")])),
            "a record id appears twice"
        );
    }

    #[test]
    fn the_smallest_entry_has_min_entry_bytes() {
        let record = encode_record(&Record {
            width: MIN_WIDTH,
            created: 0,
            rotated: None,
            not_after: None,
            username: Sealed {
                ciphertext: vec![0; MIN_WIDTH],
                tag: [0; TAG_LEN],
            },
            password: Sealed {
                ciphertext: vec![0; MIN_WIDTH],
                tag: [0; TAG_LEN],
            },
        });
        let entry = encode_entry(&RecordId::from_bytes([0; RECORD_ID_LEN]), "x", &record);
        assert_eq!(entry.len(), MIN_ENTRY_BYTES);
    }

    #[test]
    fn collect_all_refuses_repeated_names_and_ids_in_store_order() {
        let record = encode_record(&Record {
            width: 3,
            created: 1,
            rotated: None,
            not_after: None,
            username: Sealed {
                ciphertext: vec![0; 3],
                tag: [0; TAG_LEN],
            },
            password: Sealed {
                ciphertext: vec![0; 3],
                tag: [0; TAG_LEN],
            },
        });
        let store = |entries: &[(u8, &str)]| {
            let raw: Vec<Vec<u8>> = entries
                .iter()
                .map(|&(id, name)| {
                    encode_entry(&RecordId::from_bytes([id; RECORD_ID_LEN]), name, &record)
                })
                .collect();
            encode_store(raw.iter().map(Vec::as_slice), VERSION_PLAIN)
        };
        let read = |bytes: &[u8]| match parse_header(bytes).and_then(|a| a.collect_all()) {
            Ok(entries) => format!("{} entries", entries.len()),
            Err(FormatError::Corrupt(reason)) => reason,
            Err(e) => format!("{e:?}"),
        };
        assert_eq!(read(&store(&[(1, "a"), (2, "b")])), "2 entries");
        assert_eq!(
            read(&store(&[(1, "a"), (2, "b"), (3, "a")])),
            "an account name appears twice"
        );
        assert_eq!(
            read(&store(&[(1, "a"), (2, "b"), (1, "c")])),
            "a record id appears twice"
        );
        // The first thing wrong is reported: a repeat before damage.
        let mut damaged = store(&[(1, "a"), (1, "b"), (2, "c")]);
        damaged.truncate(damaged.len() - 1);
        assert_eq!(read(&damaged), "a record id appears twice");
        // And damage before a repeat: the entry that would repeat is not
        // read.
        let mut damaged = store(&[(1, "a"), (2, "b"), (1, "c")]);
        damaged.truncate(damaged.len() - 1);
        assert!(
            read(&damaged).starts_with("an account record claims"),
            "{}",
            read(&damaged)
        );
    }
}
