//! The reader `recover` uses: a scan of the whole store for one record id,
//! through a window that moves forward over the file, that finds what
//! reading the store whole and then checking it would find.
//!
//! The scan is written against [`Window`] rather than the file, so that the
//! `test-vectors` feature can run the very same code over bytes in memory
//! with any window size (`MemoryStream`): that is how the unit tests
//! compare it with whole reads and how the `store_recover` fuzz target
//! drives it.

use crate::primitives::RecordId;
use crate::Error;

use super::file::StoreStream;
use super::format::{self, FormatError, UniqueEntries};

/// A store's bytes front to back through a window that only moves forward
/// and grows, as [`StoreStream`] reads a file.
pub(super) trait Window {
    /// The unconsumed bytes, the offset in the store they start at, and
    /// whether they run to the store's end.
    fn window(&self) -> (&[u8], usize, bool);
    /// Marks the first `n` bytes of the window as parsed.
    fn consume(&mut self, n: usize);
    /// Extends the window past its unconsumed bytes: afterwards it has
    /// grown or reaches the end. Fails only as reading the file fails.
    fn fill(&mut self) -> Result<(), Error>;
}

impl Window for StoreStream {
    fn window(&self) -> (&[u8], usize, bool) {
        StoreStream::window(self)
    }

    fn consume(&mut self, n: usize) {
        StoreStream::consume(self, n)
    }

    fn fill(&mut self) -> Result<(), Error> {
        StoreStream::fill(self)
    }
}

/// The entry a reader looks for, copied out of the window it was found in.
pub(super) struct FoundEntry {
    pub(super) id: RecordId,
    pub(super) name: String,
    pub(super) record: Vec<u8>,
}

/// Why a scan of the store stopped early.
pub(super) enum ScanError {
    /// Reading the file failed, or it grew past the size limit: reported
    /// as it is, as reading the store whole reports it.
    Read(Error),
    /// Something is wrong with the store's content: reported once the rest
    /// of the file has been read without a `Read` error.
    Store(FormatError),
}

impl From<Error> for ScanError {
    fn from(e: Error) -> Self {
        ScanError::Read(e)
    }
}

/// How one pass over the store ended.
enum Pass {
    /// With the wanted entry, if the store has it.
    Done(Option<FoundEntry>),
    /// A name or record id may appear twice (two fingerprints are equal),
    /// and the entries to compare were let go with earlier windows: the
    /// store must be scanned again in one window, where they are all held.
    Rescan,
}

/// Scans every entry of the store that `open` opens for the record id
/// `wanted`. The whole store is checked for structure, and for names and
/// record ids that appear twice, whichever account is wanted: a reader
/// that stopped at its account, or only compared ids with the wanted one,
/// would open accounts that `list` and the writers refuse. Reads to the end
/// of the store unless it fails, and finds what reading the store whole
/// and then checking it finds (`format::Accounts::collect_all`).
///
/// The store is opened a second time, and read whole, only when a name or
/// record id may repeat (see `format::UniqueEntries`). Gives the stream
/// scanned last, for what the caller checks on it afterwards, and what the
/// scan found.
pub(super) fn find_entry<W: Window>(
    mut open: impl FnMut() -> Result<W, Error>,
    wanted: RecordId,
) -> Result<(W, Result<Option<FoundEntry>, ScanError>), Error> {
    let mut stream = open()?;
    match scan::<false>(&mut stream, wanted) {
        Ok(Pass::Done(found)) => return Ok((stream, Ok(found))),
        Err(e) => return Ok((stream, Err(e))),
        Ok(Pass::Rescan) => {}
    }
    let mut stream = open()?;
    while !stream.window().2 {
        stream.fill()?;
    }
    let found = match scan::<true>(&mut stream, wanted) {
        Ok(Pass::Done(found)) => Ok(found),
        Err(e) => Err(e),
        Ok(Pass::Rescan) => unreachable!("a scan of a store held in one window"),
    };
    Ok((stream, found))
}

/// One pass of [`find_entry`], or [`Pass::Rescan`]. Only a pass that
/// `HOLDS_ALL` (its window holds the whole store) keeps the entries, to
/// compare them when their fingerprints say a name or id may repeat; the
/// first pass keeps nothing, so that its loop moves no entry it does not
/// need (keeping them cost `recover` a copy of every entry), and leaves
/// that case to the second.
fn scan<const HOLDS_ALL: bool>(
    stream: &mut impl Window,
    wanted: RecordId,
) -> Result<Pass, ScanError> {
    // The header, then `remaining` entries. A parse that fails before the
    // window reaches the end of the store is retried on a longer one (see
    // format::Accounts::resume).
    let (mut remaining, version) = loop {
        let (window, _, eof) = stream.window();
        match format::parse_header(window) {
            Ok(accounts) => {
                let (remaining, consumed) = (accounts.remaining(), accounts.consumed());
                let version = accounts.version();
                stream.consume(consumed);
                break (remaining, version);
            }
            Err(e) if eof => return Err(ScanError::Store(e)),
            Err(_) => stream.fill()?,
        }
    };
    let mut seen = UniqueEntries::for_entries(remaining);
    let mut any_expires = false;
    let mut found: Option<FoundEntry> = None;
    loop {
        let (window, base, eof) = stream.window();
        let mut accounts = format::Accounts::resume(window, base, remaining, version);
        // The entries of a window that holds the whole store; and the last
        // entry boundary reached.
        let mut entries = Vec::new();
        let mut consumed = 0;
        let end = loop {
            match accounts.next_entry() {
                Ok(Some(entry)) => {
                    seen.add(&entry);
                    any_expires |= entry.expires;
                    if entry.id == wanted {
                        found = Some(FoundEntry {
                            id: entry.id,
                            name: entry.name.to_owned(),
                            record: entry.record.to_vec(),
                        });
                    }
                    if HOLDS_ALL {
                        entries.push(entry);
                    }
                    remaining = accounts.remaining();
                    consumed = accounts.consumed();
                }
                // After the last entry and at the end of the window, which
                // is the end of the store only at `eof`.
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        if eof {
            // The end of the store, or the first thing wrong with it: a
            // name or id that repeats before it comes first.
            if !seen.all_distinct() {
                if !HOLDS_ALL {
                    return Ok(Pass::Rescan);
                }
                format::check_unique(&entries).map_err(ScanError::Store)?;
            }
            return match end {
                None => {
                    format::check_version(version, any_expires).map_err(ScanError::Store)?;
                    Ok(Pass::Done(found))
                }
                Some(failure) => Err(ScanError::Store(failure)),
            };
        }
        stream.consume(consumed);
        stream.fill()?;
    }
}

/// A store in memory behind the window a [`StoreStream`] of the same size
/// would show: it starts at `window` bytes (at most the store's length and
/// one), doubles only when the unconsumed bytes fill it, and learns that
/// the store has ended only when a fill finds no more bytes, as a read
/// returning 0 tells the file's reader.
#[cfg(any(test, feature = "test-vectors"))]
pub(crate) struct MemoryStream<'b> {
    bytes: &'b [u8],
    /// The window's capacity, as `StoreStream`'s buffer length.
    capacity: usize,
    /// `bytes[start..filled]` is the window.
    start: usize,
    filled: usize,
    eof: bool,
}

#[cfg(any(test, feature = "test-vectors"))]
impl<'b> MemoryStream<'b> {
    pub(crate) fn open(bytes: &'b [u8], window: usize) -> Self {
        let mut stream = MemoryStream {
            bytes,
            capacity: window.min(bytes.len() + 1).max(1),
            start: 0,
            filled: 0,
            eof: false,
        };
        stream.extend();
        stream
    }

    fn extend(&mut self) {
        let want = self.start + self.capacity;
        if want <= self.bytes.len() {
            self.filled = want;
        } else {
            self.filled = self.bytes.len();
            self.eof = true;
        }
    }
}

#[cfg(any(test, feature = "test-vectors"))]
impl Window for MemoryStream<'_> {
    fn window(&self) -> (&[u8], usize, bool) {
        (&self.bytes[self.start..self.filled], self.start, self.eof)
    }

    fn consume(&mut self, n: usize) {
        assert!(n <= self.filled - self.start);
        self.start += n;
    }

    fn fill(&mut self) -> Result<(), Error> {
        if !self.eof {
            if self.filled - self.start == self.capacity {
                self.capacity *= 2;
            }
            self.extend();
        }
        Ok(())
    }
}
