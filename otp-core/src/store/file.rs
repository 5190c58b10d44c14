//! The store on disk: bounded reads, permission rules, locking and atomic
//! replacement.
//!
//! The store file is the one whose loss locks an organisation out, and whose
//! exposure turns keys seen in `ps` into credentials. So: writes go to a
//! temporary file in the same directory that is fsynced and renamed over the
//! store, then the directory is fsynced (a crash leaves the old store or the
//! new one); writers serialise on an advisory lock beside the store and
//! re-read under it; readers take no lock; files are created mode 0600; and
//! a reader that is about to decrypt refuses a store other users could read
//! or write, as OpenSSH refuses such private keys.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::store::format::MAX_STORE_BYTES;
use crate::Error;

/// How long a writer waits for another writer's lock by default.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Environment variable that overrides [`LOCK_WAIT`], in milliseconds.
pub(crate) const LOCK_WAIT_ENV: &str = "OTP_LINK_LOCK_TIMEOUT_MS";

/// A store file's bytes, read whole after a size check.
pub(crate) struct StoreBytes {
    pub(crate) bytes: Vec<u8>,
}

/// Opens the store at `path` and checks its metadata: a regular file within
/// the size limit. A missing file is [`Error::StoreMissing`].
fn open_store(path: &Path) -> Result<(File, fs::Metadata), Error> {
    let mut options = OpenOptions::new();
    options.read(true);
    // Non-blocking, so that opening a FIFO put in place of the store returns
    // at once (to be refused below as not a regular file) instead of waiting
    // forever for a writer, with the writers' lock held. Regular files ignore
    // the flag.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::StoreMissing {
                path: path.to_owned(),
            })
        }
        Err(e) => return Err(Error::io("opening", path, e)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("reading the metadata of", path, e))?;
    if !metadata.is_file() {
        return Err(Error::corrupt(path, "it is not a regular file"));
    }
    if metadata.len() > MAX_STORE_BYTES {
        return Err(Error::corrupt(path, "it is larger than the 64 MiB limit"));
    }
    Ok((file, metadata))
}

fn too_large(path: &Path) -> Error {
    Error::corrupt(path, "it is larger than the 64 MiB limit")
}

/// Reads the store at `path`, refusing files over the size limit before
/// reading them. A missing file is [`Error::StoreMissing`].
pub(crate) fn read_store(path: &Path) -> Result<StoreBytes, Error> {
    let (file, metadata) = open_store(path)?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // Take one byte past the limit so a file that grew since fstat is caught.
    file.take(MAX_STORE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() as u64 > MAX_STORE_BYTES {
        return Err(too_large(path));
    }
    Ok(StoreBytes { bytes })
}

/// The window a [`StoreStream`] starts with; it grows only when one entry
/// (or the accounts array's head check) needs more, which only a corrupt
/// store makes it do.
pub(crate) const WINDOW: usize = 256 * 1024;

/// The store read front to back through a window, for a reader that wants
/// one account: the same open, checks and bytes as [`read_store`], without
/// holding the whole file. On a large store that saves the page faults of a
/// buffer as large as the file, which cost more than parsing it, and the
/// window stays in the CPU's cache while it is scanned.
pub(crate) struct StoreStream {
    reader: io::Take<File>,
    #[cfg(unix)]
    metadata: fs::Metadata,
    /// The window: `buf[start..filled]` are the file's bytes from offset
    /// `base + start` on, not yet consumed.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    base: usize,
    /// Bytes read so far.
    read: u64,
    /// The file has ended: the window holds the rest of it.
    eof: bool,
    path: PathBuf,
}

impl StoreStream {
    /// Opens the store at `path` as [`read_store`] does and reads the first
    /// window, of `window` bytes ([`WINDOW`]; tests try small ones).
    pub(crate) fn open(path: &Path, window: usize) -> Result<Self, Error> {
        let (file, metadata) = open_store(path)?;
        // No larger than the file and one byte, which lets the first fill
        // of a small store see its end at once.
        let window = window.min(metadata.len() as usize + 1).max(1);
        let mut stream = StoreStream {
            // One byte past the limit, as read_store takes.
            reader: file.take(MAX_STORE_BYTES + 1),
            #[cfg(unix)]
            metadata,
            buf: vec![0; window],
            start: 0,
            filled: 0,
            base: 0,
            read: 0,
            eof: false,
            path: path.to_owned(),
        };
        stream.fill()?;
        Ok(stream)
    }

    /// The unconsumed bytes, the file offset they start at, and whether
    /// they run to the end of the file.
    pub(crate) fn window(&self) -> (&[u8], usize, bool) {
        (
            &self.buf[self.start..self.filled],
            self.base + self.start,
            self.eof,
        )
    }

    /// Marks the first `n` bytes of the window as parsed.
    pub(crate) fn consume(&mut self, n: usize) {
        assert!(n <= self.filled - self.start);
        self.start += n;
    }

    /// Reads more of the file behind the unconsumed bytes, growing the
    /// window when they fill it; afterwards the window has grown or the
    /// file has ended. Fails as [`read_store`] fails: an I/O error, or a
    /// file that has grown past the size limit.
    pub(crate) fn fill(&mut self) -> Result<(), Error> {
        if self.eof {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.base += self.start;
            self.start = 0;
        }
        if self.filled == self.buf.len() {
            self.buf.resize(2 * self.buf.len(), 0);
        }
        while self.filled < self.buf.len() {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    if self.read > MAX_STORE_BYTES {
                        return Err(too_large(&self.path));
                    }
                    break;
                }
                Ok(n) => {
                    self.filled += n;
                    self.read += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("reading", &self.path, e)),
            }
        }
        Ok(())
    }

    /// Reads the rest of the file without keeping it, for the errors that
    /// reading it whole would give.
    pub(crate) fn drain(&mut self) -> Result<(), Error> {
        while !self.eof {
            self.start = self.filled;
            self.fill()?;
        }
        Ok(())
    }

    /// Refuses a store that group or others may read or write, or that is
    /// owned by neither the caller nor root. Checked on the open file, so a
    /// rename between check and read cannot swap it.
    pub(crate) fn check_private(&self, path: &Path) -> Result<(), Error> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let mode = self.metadata.mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(Error::InsecureStore {
                    path: path.to_owned(),
                    problem: format!("may be read or written by group or others (mode {mode:04o})"),
                });
            }
            let owner = self.metadata.uid();
            let me = rustix::process::geteuid().as_raw();
            if owner != me && owner != 0 {
                return Err(Error::InsecureStore {
                    path: path.to_owned(),
                    problem: format!(
                        "is owned by user id {owner}, neither you (user id {me}) nor root, so its owner could alter it"
                    ),
                });
            }
        }
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }
}

/// Makes this process non-dumpable on Linux, as ssh-agent does, so that other
/// processes of the same user can neither ptrace it nor read its memory or
/// environment through /proc while it holds credentials. Best effort: the
/// call cannot fail for a valid argument.
pub(crate) fn harden_process() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

/// The file a writer replaces: the store path, or for a symbolic link the
/// file it points to, so the link survives the rename.
pub(crate) fn resolve_for_write(path: &Path) -> Result<PathBuf, Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|e| Error::io("resolving the symbolic link", path, e))
        }
        _ => Ok(path.to_owned()),
    }
}

/// `store.cbor` → `store.cbor.<suffix>` in the same directory.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates the store's parent directory (mode 0700 on Unix) when missing.
pub(crate) fn create_parent(path: &Path) -> Result<(), Error> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    if parent.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(parent)
        .map_err(|e| Error::io("creating the directory", parent, e))
}

/// The writers' lock, held until dropped.
pub(crate) struct WriteLock {
    _file: File,
}

/// Takes the advisory lock `<store>.lock`, waiting up to ten seconds (or
/// `OTP_LINK_LOCK_TIMEOUT_MS`) for another writer to finish.
pub(crate) fn lock(store: &Path) -> Result<WriteLock, Error> {
    let path = sibling(store, "lock");
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("opening the lock file", &path, e))?;
    let wait = std::env::var(LOCK_WAIT_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(LOCK_WAIT);
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(WriteLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::LockTimeout {
                    path,
                    waited_ms: wait.as_millis() as u64,
                })
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
        }
    }
}

/// Replaces the store with `bytes` atomically: temporary file in the same
/// directory, fsync, rename over the store, fsync of the directory. Must be
/// called with the write lock held (the temporary file's name is fixed).
pub(crate) fn write_atomic(store: &Path, bytes: &[u8], _lock: &WriteLock) -> Result<(), Error> {
    let tmp = sibling(store, "tmp");
    // A temporary file left by a killed writer, or planted by someone else,
    // is removed rather than reused, so ours is new and mode 0600.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("removing the stale temporary file", &tmp, e)),
    }
    let result = (|| {
        let mut file = private_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("creating", &tmp, e))?;
        file.write_all(bytes)
            .map_err(|e| Error::io("writing", &tmp, e))?;
        file.sync_all().map_err(|e| Error::io("syncing", &tmp, e))?;
        drop(file);
        fs::rename(&tmp, store).map_err(|e| Error::io("renaming the new store over", store, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(store)
}

fn sync_dir(store: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        let dir = match store.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("syncing the directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = store;
    Ok(())
}
