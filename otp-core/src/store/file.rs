//! The store on disk: bounded reads, permission rules, locking and atomic
//! replacement.
//!
//! The store file is the one whose loss locks an organisation out, and whose
//! exposure turns keys seen in `ps` into credentials. So: writes go to a
//! temporary file in the same directory that is fsynced, and renamed over the
//! store only when the caller has delivered the keys the change issues (see
//! [`Staged`]); then the directory is fsynced, so a crash leaves the old store
//! or the new one. Writers serialise on an advisory lock beside the store and
//! re-read under it; readers take no lock; files are created mode 0600 and
//! keep an existing store's owner and group; and a reader that is about to
//! decrypt refuses a store other users could read or write, as OpenSSH
//! refuses such private keys.
//!
//! A writer touches no file that is not ours. Before it creates anything it
//! knows the store's target is absent or a regular file that starts like a
//! store; the lock and the temporary file are only ever created beside that
//! target, never through a symbolic link (`O_NOFOLLOW`, `O_EXCL`).

use std::ffi::{OsStr, OsString};
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
    /// The metadata of the file the bytes were read from.
    pub(crate) metadata: fs::Metadata,
}

/// Opens the store at `path` and checks its metadata: a regular file within
/// the size limit. A missing file is [`Error::StoreMissing`].
fn open_store(path: &Path, limit: u64) -> Result<(File, fs::Metadata), Error> {
    let (file, metadata) = open_regular(path)?;
    if metadata.len() > limit {
        return Err(too_large(path, limit));
    }
    Ok((file, metadata))
}

/// Opens an existing file for reading, following links (a linked store is a
/// feature for readers), and refuses anything but a regular file.
/// Non-blocking, so that opening a FIFO put in place of the store returns at
/// once (to be refused) instead of waiting forever for a writer; regular
/// files ignore the flag. A loop of links is an I/O error.
fn open_regular(path: &Path) -> Result<(File, fs::Metadata), Error> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    // Links followed: ELOOP here is a loop of links, an I/O error.
    regular(options.open(path), path, false)
}

/// A store file as it was opened: a missing one is [`Error::StoreMissing`];
/// anything but a regular file, and a link when it was opened with
/// `O_NOFOLLOW` (`links_refused`), are [`Error::NotRegularFile`].
fn regular(
    opened: io::Result<File>,
    path: &Path,
    links_refused: bool,
) -> Result<(File, fs::Metadata), Error> {
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::StoreMissing {
                path: path.to_owned(),
            })
        }
        Err(e) if links_refused && is_symlink_refusal(&e) => {
            return Err(Error::NotRegularFile {
                path: path.to_owned(),
                kind: "a symbolic link",
            })
        }
        Err(e) => return Err(Error::io("opening", path, e)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("reading the metadata of", path, e))?;
    if !metadata.is_file() {
        return Err(not_regular(path, &metadata));
    }
    Ok((file, metadata))
}

/// What a store path names, when it is not a regular file.
fn not_regular(path: &Path, metadata: &fs::Metadata) -> Error {
    let kind = metadata.file_type();
    let kind = if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "a device"
            }
        }
        #[cfg(not(unix))]
        "not a file"
    };
    Error::NotRegularFile {
        path: path.to_owned(),
        kind,
    }
}

fn too_large(path: &Path, limit: u64) -> Error {
    let reason = if limit == MAX_STORE_BYTES {
        "it is larger than the 64 MiB limit readers accept; shrink it with 'otp-link remove', or split its accounts over several stores"
    } else {
        "it is larger than the 256 MiB that even 'list' and 'remove' read"
    };
    Error::corrupt(path, reason)
}

/// How much of a store a reader takes: [`MAX_STORE_BYTES`] for everything
/// that decrypts, so a reader's memory and time stay bounded; and
/// [`MAX_REPAIR_BYTES`] for `list` and the writers, so a store that an
/// older otp-link let grow past the limit can still be listed and shrunk.
pub(crate) const MAX_REPAIR_BYTES: u64 = 4 * MAX_STORE_BYTES;

/// Reads the store at `path`, refusing files over `limit` bytes before
/// reading them. A missing file is [`Error::StoreMissing`].
pub(crate) fn read_store(path: &Path, limit: u64) -> Result<StoreBytes, Error> {
    let (file, metadata) = open_store(path, limit)?;
    read_open(file, metadata, path, limit)
}

fn read_open(
    file: File,
    metadata: fs::Metadata,
    path: &Path,
    limit: u64,
) -> Result<StoreBytes, Error> {
    if metadata.len() > limit {
        return Err(too_large(path, limit));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // Take one byte past the limit so a file that grew since fstat is caught.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(StoreBytes { bytes, metadata })
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
        let (file, metadata) = open_store(path, MAX_STORE_BYTES)?;
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
                        return Err(too_large(&self.path, MAX_STORE_BYTES));
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

    /// Refuses a store that breaks the permission rule ([`check_mode`]), or
    /// that is owned by neither the caller nor root. Checked on the open
    /// file, so a rename between check and read cannot swap it.
    pub(crate) fn check_private(&self, path: &Path) -> Result<(), Error> {
        #[cfg(unix)]
        check_private(path, &self.metadata)?;
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }

    /// [`StoreStream::check_private`] for a writer that decrypts (`issue`,
    /// as [`check_mode_of`] for `rotate`): the mode only, since whose store
    /// it may write has been decided ([`target_for_write`]).
    pub(crate) fn check_mode(&self, path: &Path) -> Result<(), Error> {
        #[cfg(unix)]
        check_mode(path, &self.metadata)?;
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }
}

/// Refuses a file (or a directory) of the store's secret half that breaks
/// the permission rule ([`check_mode`]), or that is owned by neither the
/// caller nor root: the rule readers apply to the store, which launch
/// records share.
#[cfg(unix)]
pub(crate) fn check_private(path: &Path, metadata: &fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    check_mode(path, metadata)?;
    let owner = metadata.uid();
    let me = euid();
    if owner != me && owner != 0 {
        return Err(owned_by_another(path, owner, me));
    }
    Ok(())
}

/// The permission bits a store may have, after PostgreSQL's rule for its
/// key file: with keys on command lines that other users can read, the
/// store is the secret half, so no one but its owner may read it (0600 or
/// stricter) — except that a store owned by root may also be readable by
/// its group (0640, 0440), which is what Kubernetes Secret volumes, systemd
/// credentials and `install -o root -g GROUP -m 640` give a service's
/// group. Never writable by the group, never readable by others. A
/// directory of launch records likewise (0700, or 0750 for root's):
/// whoever may write it could rename a spent record back to unspent.
#[cfg(unix)]
const fn forbidden_bits(owner: u32, dir: bool) -> u32 {
    match (owner == 0, dir) {
        (true, false) => 0o037,
        (true, true) => 0o027,
        (false, _) => 0o077,
    }
}

/// Refuses a store (or launch directory or record) whose mode breaks the
/// permission rule of [`forbidden_bits`], naming the `chmod` that fixes it.
#[cfg(unix)]
pub(crate) fn check_mode(path: &Path, metadata: &fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let mode = metadata.mode() & 0o7777;
    let owner = metadata.uid();
    let dir = metadata.is_dir();
    if mode & forbidden_bits(owner, dir) == 0 {
        return Ok(());
    }
    let (private, group) = if dir { ("700", "750") } else { ("600", "640") };
    let shown = crate::printable(&path.to_string_lossy()).into_owned();
    Err(if owner == 0 {
        Error::InsecureStore {
            path: path.to_owned(),
            problem: format!(
                "is owned by root and may be written by its group or read by others (mode {mode:04o}); a store of root's may be readable by its group, nothing more"
            ),
            fix: format!(
                "run 'chmod {group} {shown}' as root (or 'chmod {private}' when no group needs to read it)"
            ),
        }
    } else {
        Error::InsecureStore {
            path: path.to_owned(),
            problem: format!("may be read or written by group or others (mode {mode:04o})"),
            fix: format!(
                "run 'chmod {private} {shown}' as its owner; a store that a group must read must be owned by root ('chown root:GROUP', then 'chmod {group}')"
            ),
        }
    })
}

/// [`check_mode`] for `rotate`, the writer that decrypts: the store it
/// opens with keys from a command line must be as private as a reader's.
pub(crate) fn check_mode_of(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    if let Ok(metadata) = fs::metadata(path) {
        check_mode(path, &metadata)?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(unix)]
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A store of another user: neither `chmod` nor anything but its owner (or
/// root handing it over) makes it safe to use.
#[cfg(unix)]
fn owned_by_another(path: &Path, owner: u32, me: u32) -> Error {
    let shown = crate::printable(&path.to_string_lossy()).into_owned();
    if me == 0 {
        return Error::InsecureStore {
            path: path.to_owned(),
            problem: format!(
                "is owned by user id {owner}, not root, so that user could alter what root reads"
            ),
            fix: format!(
                "run otp-link as user id {owner} (e.g. with runuser), or 'chown root {shown}' to take it over"
            ),
        };
    }
    let group = rustix::process::getegid().as_raw();
    if owner == 0 {
        // Only a writer gets here: readers accept root's stores.
        return Error::InsecureStore {
            path: path.to_owned(),
            problem: "is owned by root, and only root can write it and keep that owner".into(),
            fix: format!(
                "run otp-link as root, or have root run 'chown {me}:{group} {shown}' to give it to you"
            ),
        };
    }
    Error::InsecureStore {
        path: path.to_owned(),
        problem: format!(
            "is owned by user id {owner}, neither you (user id {me}) nor root, so its owner could alter it"
        ),
        fix: format!(
            "run otp-link as its owner, or have root run 'chown {me}:{group} {shown}' if it is yours"
        ),
    }
}

/// Makes this process non-dumpable on Linux, as ssh-agent does, so that other
/// processes of the same user can neither ptrace it nor read its memory or
/// environment through /proc while it holds credentials. A program calls it
/// before it reads a secret (a typed password, a key on stdin); otp-core
/// calls it before it decrypts. `exec` of another program makes that one
/// dumpable again. Best effort: the call cannot fail for a valid argument.
pub fn harden_process() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

/// The first bytes of every store this and later versions write: the
/// top-level map's head, then `"format": "otp-link store"`. A writer checks
/// for them before it creates a lock or a temporary file beside a file, so
/// that a store path (or a link) naming some other file makes it create
/// nothing there.
fn looks_like_a_store(head: &[u8]) -> bool {
    const TAG: &[u8] = b"\x66format\x6eotp-link store";
    head.len() > TAG.len() && head[0] >> 5 == 5 && &head[1..=TAG.len()] == TAG
}

/// How a writer opens a file in the store's directory. Never through a
/// symbolic link, never blocking on a FIFO, always close-on-exec; created
/// files are new (`O_EXCL`) and mode 0600.
#[derive(Clone, Copy)]
enum Opening {
    /// The store, to read.
    Read,
    /// The lock file, when it exists.
    ReadWrite,
    /// The lock file, new.
    CreateReadWrite,
    /// The temporary file, new.
    CreateWrite,
}

/// The directory of the store a writer replaces, held open. Every file a
/// writer touches is opened, created, removed and renamed relative to it
/// (`openat`, `unlinkat`, `renameat`), so that a directory of the store's
/// path swapped for a link after the checks, by whoever may write there,
/// cannot make a writer — root handing files to their owner included —
/// touch a file in another directory.
struct StoreDir {
    #[cfg(unix)]
    fd: File,
    #[cfg(not(unix))]
    path: PathBuf,
}

impl StoreDir {
    fn open(dir: &Path) -> io::Result<Self> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // O_PATH on Linux: the directory need only be searchable, as
            // for writing by path (a directory of mode 0300 works).
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let access = OFlags::PATH;
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let access = OFlags::RDONLY;
            let fd = rustix::fs::open(
                dir,
                access | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(StoreDir { fd: File::from(fd) })
        }
        #[cfg(not(unix))]
        Ok(StoreDir {
            path: dir.to_owned(),
        })
    }

    fn try_clone(&self) -> io::Result<Self> {
        #[cfg(unix)]
        {
            Ok(StoreDir {
                fd: self.fd.try_clone()?,
            })
        }
        #[cfg(not(unix))]
        Ok(StoreDir {
            path: self.path.clone(),
        })
    }

    fn file(&self, name: &OsStr, opening: Opening) -> io::Result<File> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let base = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let new = OFlags::CREATE | OFlags::EXCL;
            let flags = match opening {
                Opening::Read => OFlags::RDONLY | base,
                Opening::ReadWrite => OFlags::RDWR | base,
                Opening::CreateReadWrite => OFlags::RDWR | new | base,
                Opening::CreateWrite => OFlags::WRONLY | new | base,
            };
            let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600))?;
            Ok(File::from(fd))
        }
        #[cfg(not(unix))]
        {
            let mut options = OpenOptions::new();
            match opening {
                Opening::Read => options.read(true),
                Opening::ReadWrite => options.read(true).write(true),
                Opening::CreateReadWrite => options.read(true).write(true).create_new(true),
                Opening::CreateWrite => options.write(true).create_new(true),
            };
            options.open(self.path.join(name))
        }
    }

    /// The owner, group and mode of `name`, and whether it is a regular
    /// file, without following a link and without opening it.
    #[cfg(unix)]
    fn stat(&self, name: &OsStr) -> io::Result<(u32, u32, u32, bool)> {
        use rustix::fs::{AtFlags, FileType};
        let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let regular = FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile;
        Ok((stat.st_uid, stat.st_gid, stat.st_mode as u32, regular))
    }

    /// Whether the directory is on a file system mounted read-only, as
    /// Kubernetes Secret volumes and systemd credentials are: a writer says
    /// so before it tries to create a lock there.
    fn is_read_only(&self) -> bool {
        #[cfg(unix)]
        {
            rustix::fs::fstatvfs(&self.fd)
                .is_ok_and(|vfs| vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
        }
        #[cfg(not(unix))]
        false
    }

    fn remove(&self, name: &OsStr) -> io::Result<()> {
        #[cfg(unix)]
        {
            rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty())?;
            Ok(())
        }
        #[cfg(not(unix))]
        fs::remove_file(self.path.join(name))
    }

    fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        #[cfg(unix)]
        {
            rustix::fs::renameat(&self.fd, from, &self.fd, to)?;
            Ok(())
        }
        #[cfg(not(unix))]
        fs::rename(self.path.join(from), self.path.join(to))
    }

    /// Renames `from` to `to` only if `to` does not exist (`AlreadyExists`
    /// otherwise), atomically: `renameat2(RENAME_NOREPLACE)` on Linux, and
    /// where a file system lacks it, or elsewhere, a hard link and the
    /// removal of `from`.
    fn rename_new(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::fs::{renameat_with, RenameFlags};
            use rustix::io::Errno;
            match renameat_with(&self.fd, from, &self.fd, to, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {}
                Err(e) => return Err(e.into()),
            }
        }
        #[cfg(unix)]
        {
            use rustix::fs::{linkat, unlinkat, AtFlags};
            linkat(&self.fd, from, &self.fd, to, AtFlags::empty())?;
            let _ = unlinkat(&self.fd, from, AtFlags::empty());
            Ok(())
        }
        #[cfg(not(unix))]
        {
            fs::hard_link(self.path.join(from), self.path.join(to))?;
            let _ = fs::remove_file(self.path.join(from));
            Ok(())
        }
    }

    /// fsyncs the directory, through a descriptor that can be synced (an
    /// `O_PATH` one cannot): this needs read permission on the directory.
    fn sync(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let readable = rustix::fs::openat(
                &self.fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            rustix::fs::fsync(&readable)?;
            Ok(())
        }
        #[cfg(not(unix))]
        Ok(())
    }
}

/// `store.cbor` → `store.cbor.<suffix>`, a name in the same directory.
fn sibling_name(name: &OsStr, suffix: &str) -> OsString {
    let mut sibling = name.to_os_string();
    sibling.push(".");
    sibling.push(suffix);
    sibling
}

/// The store file a writer is about to replace, checked before anything is
/// created beside it.
pub(crate) struct Target {
    /// The file to replace: the store path, or for a symbolic link the file
    /// it points to, so the link survives the rename. For messages: the
    /// files are reached through `dir` and `name`.
    pub(crate) path: PathBuf,
    /// Its directory, held open.
    dir: StoreDir,
    /// Its name in that directory.
    name: OsString,
    /// The existing store's owner, group and mode, which the new file
    /// keeps.
    #[cfg(unix)]
    owner: Option<Kept>,
}

/// What a new store file keeps of the one it replaces.
#[cfg(unix)]
#[derive(Clone, Copy)]
struct Kept {
    owner: u32,
    group: u32,
    /// The permission bits: 0600, and the group's read bit of a store of
    /// root's that had it ([`kept_mode`]).
    mode: u32,
}

impl Target {
    /// The owner and group of the existing store, which files created
    /// beside it get.
    #[cfg(unix)]
    pub(crate) fn owner(&self) -> Option<(u32, u32)> {
        self.owner.map(|kept| (kept.owner, kept.group))
    }

    /// The target's directory, held open: every file beside the store is
    /// created relative to it.
    #[cfg(unix)]
    pub(crate) fn dir_fd(&self) -> &File {
        &self.dir.fd
    }

    /// The name of the target in its directory.
    pub(crate) fn name(&self) -> &OsStr {
        &self.name
    }
}

/// Checks a store path for writing and names the file a write replaces.
///
/// Refused before any file is created: a path that names no file (`/`,
/// `..`), a directory, device, FIFO or socket, a symbolic link whose target
/// is missing or not a regular file, an existing file that does not start
/// like a store, and (unless we are root, who hands the new file to the old
/// owner) a store owned by another user; and a store that cannot be
/// changed in place: on a read-only file system, or a systemd credential
/// ([`Error::ReadOnlyStore`]). A missing store is [`Error::StoreMissing`]
/// unless `create`, when its parent directory is created.
pub(crate) fn target_for_write(path: &Path, create: bool) -> Result<Target, Error> {
    let named = |kind| Error::NotRegularFile {
        path: path.to_owned(),
        kind,
    };
    // `/`, `..`, and `dir/store.cbor/`: no file is named.
    #[cfg(unix)]
    let names_a_directory = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().ends_with(b"/")
    };
    #[cfg(not(unix))]
    let names_a_directory = false;
    if path.file_name().is_none() || names_a_directory {
        return Err(named("a directory"));
    }
    if crate::location::is_credential(path) {
        return Err(Error::ReadOnlyStore {
            path: path.to_owned(),
        });
    }
    let target = match fs::symlink_metadata(path) {
        Ok(link) if link.file_type().is_symlink() => {
            let target = fs::canonicalize(path)
                .map_err(|e| Error::io("resolving the symbolic link", path, e))?;
            #[cfg(unix)]
            refuse_foreign_link(path, &link, &target)?;
            target
        }
        Ok(_) => path.to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !create {
                return Err(Error::StoreMissing {
                    path: path.to_owned(),
                });
            }
            create_parent(path)?;
            path.to_owned()
        }
        Err(e) => return Err(Error::io("looking for", path, e)),
    };
    let name = target
        .file_name()
        .map(OsStr::to_os_string)
        .ok_or_else(|| named("a directory"))?;
    let parent = target.parent().unwrap_or(Path::new(""));
    let dir = StoreDir::open(parent).map_err(|e| Error::io("opening the directory", parent, e))?;
    if dir.is_read_only() {
        return Err(Error::ReadOnlyStore { path: target });
    }
    // The owner first, without opening the file: a store of another user
    // may not be readable, and that is not what is wrong with it. Checked
    // again on the open file under the lock ([`read_for_write`]).
    #[cfg(unix)]
    let owner = match dir.stat(&name) {
        Ok((uid, gid, mode, true)) => Some(owner_of(&target, uid, gid, mode)?),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
            return Ok(Target {
                path: target,
                dir,
                name,
                owner: None,
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::StoreMissing { path: target });
        }
        Err(_) => None,
    };
    let (file, metadata) = match open_in(&dir, &name, &target) {
        Err(Error::StoreMissing { .. }) if create => {
            return Ok(Target {
                path: target,
                dir,
                name,
                #[cfg(unix)]
                owner: None,
            })
        }
        opened => opened?,
    };
    check_store_head(&target, &file)?;
    #[cfg(unix)]
    let owner = Some(owner.map_or_else(|| owner_to_keep(&target, &metadata), Ok)?);
    #[cfg(not(unix))]
    let _ = metadata;
    Ok(Target {
        path: target,
        dir,
        name,
        #[cfg(unix)]
        owner,
    })
}

/// Opens the store `name` of `dir` to read it, refusing a link and anything
/// but a regular file, as [`open_regular`] does for a path.
fn open_in(dir: &StoreDir, name: &OsStr, path: &Path) -> Result<(File, fs::Metadata), Error> {
    regular(dir.file(name, Opening::Read), path, true)
}

/// Root follows a symbolic link to a store only when the link is root's or
/// belongs to the store's owner (the kernel's `protected_symlinks` rule,
/// applied everywhere): a user must not be able to point root's writes at a
/// store of root's or of another user.
#[cfg(unix)]
fn refuse_foreign_link(path: &Path, link: &fs::Metadata, target: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    if euid() != 0 || link.uid() == 0 {
        return Ok(());
    }
    match fs::metadata(target) {
        Ok(store) if store.uid() == link.uid() => Ok(()),
        Err(_) => Ok(()),
        Ok(_) => Err(Error::UnsafeFile {
            path: path.to_owned(),
            problem:
                "is a symbolic link of one user to a file of another, which root does not follow",
        }),
    }
}

/// `ELOOP`: `O_NOFOLLOW` met a symbolic link.
fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

fn check_store_head(path: &Path, mut file: &File) -> Result<(), Error> {
    let mut head = [0u8; 32];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading", path, e)),
        }
    }
    if filled == 0 {
        return Err(Error::corrupt(path, "the file is empty"));
    }
    if !looks_like_a_store(&head[..filled]) {
        return Err(Error::corrupt(
            path,
            "not an otp-link store (no format tag); otp-link writes nothing beside it",
        ));
    }
    Ok(())
}

/// The owner, group and mode a new store file gets: the old one's. A
/// writer that is neither the owner nor root could not give the new file
/// away, and would take the store from its owner, so it is refused: a
/// member of the group of a store of root's may read it, never write it.
#[cfg(unix)]
fn owner_to_keep(path: &Path, metadata: &fs::Metadata) -> Result<Kept, Error> {
    use std::os::unix::fs::MetadataExt;
    owner_of(path, metadata.uid(), metadata.gid(), metadata.mode())
}

/// [`owner_to_keep`] from an owner, a group and a mode.
#[cfg(unix)]
fn owner_of(path: &Path, owner: u32, group: u32, mode: u32) -> Result<Kept, Error> {
    let me = euid();
    if owner != me && me != 0 {
        return Err(owned_by_another(path, owner, me));
    }
    Ok(Kept {
        owner,
        group,
        mode: kept_mode(owner, mode),
    })
}

/// The mode of a store that replaces one of mode `old`: 0600, plus the
/// group's read bit when the old store was root's, had it, and was one that
/// readers accept (root writing a store that Ansible installed
/// `root:GROUP 0640` leaves it so). A store that readers refuse is replaced
/// by a private one: a writer never keeps what readers refuse.
#[cfg(unix)]
const fn kept_mode(owner: u32, old: u32) -> u32 {
    if old & forbidden_bits(owner, false) != 0 {
        return 0o600;
    }
    0o600 | (old & 0o040)
}

/// `store.cbor` → `store.cbor.<suffix>` in the same directory.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// Creates the store's parent directory (mode 0700 on Unix) when missing.
fn create_parent(path: &Path) -> Result<(), Error> {
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

/// Takes the advisory lock `<store>.lock` beside the target, waiting up to
/// ten seconds (or `OTP_LINK_LOCK_TIMEOUT_MS`) for another writer to finish.
/// The lock file is never opened through a symbolic link; one that root
/// creates for another user's store is given to that user, so that its own
/// writers can still open it.
pub(crate) fn lock(target: &Target) -> Result<WriteLock, Error> {
    let path = sibling(&target.path, "lock");
    let name = sibling_name(&target.name, "lock");
    let refuse = |e: io::Error| {
        if is_symlink_refusal(&e) {
            Error::UnsafeFile {
                path: path.clone(),
                problem: "is a symbolic link",
            }
        } else {
            Error::io("opening the lock file", &path, e)
        }
    };
    let file = match target.dir.file(&name, Opening::CreateReadWrite) {
        Ok(file) => {
            // Only root creates a lock for another user's store; the lock's
            // group does not matter, so nobody else changes it.
            #[cfg(unix)]
            if let (Some(kept), 0) = (target.owner, euid()) {
                give_to(&file, &path, kept.owner, kept.group)?;
            }
            file
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            target.dir.file(&name, Opening::ReadWrite).map_err(refuse)?
        }
        Err(e) => return Err(refuse(e)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("reading the metadata of", &path, e))?;
    if !metadata.is_file() {
        return Err(Error::UnsafeFile {
            path,
            problem: "is not a regular file",
        });
    }
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

/// Gives a file we created to the store's owner and group, when they are not
/// ours (only root can, and only root gets here for another user's store).
#[cfg(unix)]
fn give_to(file: &File, path: &Path, owner: u32, group: u32) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("reading the metadata of", path, e))?;
    if metadata.uid() == owner && metadata.gid() == group {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(owner), Some(group))
        .map_err(|e| Error::io("handing to the store's owner", path, e))
}

/// Re-reads the store under the lock, as [`read_store`] does but through
/// `O_NOFOLLOW`, and checks that it is still a file a writer may replace
/// (another process may have swapped it since [`target_for_write`]).
pub(crate) fn read_for_write(target: &mut Target) -> Result<Option<StoreBytes>, Error> {
    let bytes = match open_in(&target.dir, &target.name, &target.path) {
        Ok((file, metadata)) => read_open(file, metadata, &target.path, MAX_REPAIR_BYTES)?,
        Err(Error::StoreMissing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The owner of the store as it is now, under the lock: the one to keep.
    #[cfg(unix)]
    {
        target.owner = Some(owner_to_keep(&target.path, &bytes.metadata)?);
    }
    Ok(Some(bytes))
}

/// Writes `bytes` as the store file `output`, for `export`, with the care
/// of every writer ([`target_for_write`], [`lock`], [`stage`]) and more:
/// `output` is never a symbolic link (a new file has none; one there was
/// planted or is a mistake), never the store that was read (`source`, its
/// path and the metadata of the file read), and never an existing file
/// unless `replace`, which replaces only an otp-link store. Without
/// `replace` the final rename refuses to replace a file that appeared since
/// the checks.
pub(crate) fn write_store_file(
    output: &Path,
    bytes: &[u8],
    replace: bool,
    source: (&Path, &fs::Metadata),
) -> Result<(), Error> {
    let over_source = || Error::ExportOverSource {
        path: output.to_owned(),
    };
    let exists = || Error::OutputExists {
        path: output.to_owned(),
    };
    match fs::symlink_metadata(output) {
        Ok(link) if link.file_type().is_symlink() => {
            return Err(Error::UnsafeFile {
                path: output.to_owned(),
                problem: "is a symbolic link",
            })
        }
        Ok(file) if file.is_file() => {
            if same_file(source, (output, &file)) {
                return Err(over_source());
            }
            if !replace {
                return Err(exists());
            }
        }
        _ => {}
    }
    let mut target = target_for_write(output, true)?;
    let lock = lock(&target)?;
    if let Some(existing) = read_for_write(&mut target)? {
        if same_file(source, (output, &existing.metadata)) {
            return Err(over_source());
        }
        if !replace {
            return Err(exists());
        }
    }
    let staged = stage(&target, bytes, lock)?;
    if replace {
        staged.commit()
    } else {
        staged.commit_new()
    }
}

/// Whether two files, each a path and the metadata of the file opened at
/// it, are one: the same device and inode on Unix, the same canonical path
/// elsewhere.
fn same_file(a: (&Path, &fs::Metadata), b: (&Path, &fs::Metadata)) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = (a.0, b.0);
        a.1.dev() == b.1.dev() && a.1.ino() == b.1.ino()
    }
    #[cfg(not(unix))]
    {
        match (fs::canonicalize(a.0), fs::canonicalize(b.0)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// A new store, written and synced to the temporary file beside the target
/// but not yet in effect: [`Staged::commit`] renames it over the store;
/// dropping it removes the temporary file and leaves the store as it was.
/// Holds the writers' lock until then.
pub(crate) struct Staged {
    dir: StoreDir,
    tmp: OsString,
    name: OsString,
    /// For messages.
    tmp_path: PathBuf,
    target: PathBuf,
    committed: bool,
    _lock: WriteLock,
}

/// Writes `bytes` to `<store>.tmp` (created new, mode 0600, the old store's
/// owner and group) and syncs it. The caller holds the lock, so the fixed
/// name is ours: one left by a killed writer, or planted by someone else, is
/// removed rather than reused or followed.
pub(crate) fn stage(target: &Target, bytes: &[u8], lock: WriteLock) -> Result<Staged, Error> {
    let tmp_path = sibling(&target.path, "tmp");
    let tmp = sibling_name(&target.name, "tmp");
    match target.dir.remove(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("removing the stale temporary file", &tmp_path, e)),
    }
    let staged = Staged {
        dir: target
            .dir
            .try_clone()
            .map_err(|e| Error::io("opening the directory of", &target.path, e))?,
        tmp,
        name: target.name.clone(),
        tmp_path,
        target: target.path.clone(),
        committed: false,
        _lock: lock,
    };
    let mut file = staged
        .dir
        .file(&staged.tmp, Opening::CreateWrite)
        .map_err(|e| {
            if is_symlink_refusal(&e) || e.kind() == io::ErrorKind::AlreadyExists {
                Error::UnsafeFile {
                    path: staged.tmp_path.clone(),
                    problem: "appeared while otp-link held the lock",
                }
            } else {
                Error::io("creating", &staged.tmp_path, e)
            }
        })?;
    // Only root hands the new file to the old owner (a writer that is not
    // root got here as the owner; its new file's group, under mode 0600,
    // does not matter, and it may not be able to set the old one). The
    // mode is 0600 but for the group's read bit of a store of root's.
    #[cfg(unix)]
    if let Some(kept) = target.owner {
        if euid() == 0 {
            give_to(&file, &staged.tmp_path, kept.owner, kept.group)?;
        }
        if kept.mode != 0o600 {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(kept.mode))
                .map_err(|e| Error::io("setting the mode of", &staged.tmp_path, e))?;
        }
    }
    file.write_all(bytes)
        .map_err(|e| Error::io("writing", &staged.tmp_path, e))?;
    // fsync, not fdatasync: the owner handed over above is metadata too.
    file.sync_all()
        .map_err(|e| Error::io("syncing", &staged.tmp_path, e))?;
    Ok(staged)
}

impl Staged {
    /// Puts the new store in effect: renames it over the old one, then syncs
    /// the directory. A failed rename leaves the old store in place
    /// ([`Error::NotCommitted`]); a failed directory sync comes after the
    /// change took effect ([`Error::CommittedUnsynced`]).
    pub(crate) fn commit(self) -> Result<(), Error> {
        self.put_in_place(false)
    }

    /// [`Staged::commit`] for a store that must not exist yet: fails with
    /// [`Error::OutputExists`], changing nothing, when a file of its name
    /// appeared since it was checked for.
    pub(crate) fn commit_new(self) -> Result<(), Error> {
        self.put_in_place(true)
    }

    fn put_in_place(mut self, new: bool) -> Result<(), Error> {
        let renamed = if new {
            self.dir.rename_new(&self.tmp, &self.name)
        } else {
            self.dir.rename(&self.tmp, &self.name)
        };
        match renamed {
            Ok(()) => {}
            Err(e) if new && e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::OutputExists {
                    path: self.target.clone(),
                })
            }
            Err(source) => {
                return Err(Error::NotCommitted {
                    path: self.target.clone(),
                    source,
                })
            }
        }
        self.committed = true;
        self.dir.sync().map_err(|source| Error::CommittedUnsynced {
            path: self
                .target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned(),
            source,
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.dir.remove(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found in review: every step of a write looked the path up again, so
    /// whoever could write the store's parent directory could swap it for a
    /// link after the checks and have the writer (root, handing files to
    /// their owner) create, write and rename files in another directory.
    /// Now every step goes through the directory held open.
    #[cfg(unix)]
    #[test]
    fn a_directory_swapped_for_a_link_after_the_checks_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("d");
        let victim = root.path().join("victim");
        fs::create_dir(&real).unwrap();
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("store.cbor"), b"victim").unwrap();
        let store = real.join("store.cbor");
        let empty = crate::store::format::encode_store(std::iter::empty(), 1);
        fs::write(&store, &empty).unwrap();

        let mut target = target_for_write(&store, false).unwrap();
        // The swap, between the checks and the writing.
        let moved = root.path().join("d2");
        fs::rename(&real, &moved).unwrap();
        std::os::unix::fs::symlink(&victim, &real).unwrap();

        let lock = lock(&target).unwrap();
        assert!(read_for_write(&mut target).unwrap().is_some());
        stage(&target, b"new store", lock)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(fs::read(victim.join("store.cbor")).unwrap(), b"victim");
        let mut left: Vec<_> = fs::read_dir(&victim)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["store.cbor"], "files created in the other directory");
        assert_eq!(fs::read(moved.join("store.cbor")).unwrap(), b"new store");
    }

    /// PostgreSQL's rule for key files: the owner's bits are free; a store
    /// of root's may be readable by its group; nothing else for anyone.
    #[cfg(unix)]
    #[test]
    fn the_permission_rule_is_postgresqls_for_key_files() {
        let allowed = |owner: u32, mode: u32| mode & forbidden_bits(owner, false) == 0;
        for mode in [0o600, 0o400, 0o700, 0o000] {
            assert!(allowed(1000, mode) && allowed(0, mode), "{mode:o}");
        }
        for mode in [0o640, 0o440] {
            assert!(allowed(0, mode) && !allowed(1000, mode), "{mode:o}");
        }
        for mode in [0o660, 0o650, 0o620, 0o644, 0o604, 0o602, 0o601, 0o666] {
            assert!(!allowed(0, mode) && !allowed(1000, mode), "{mode:o}");
        }
    }

    /// A writer keeps 0600 and, of a store of root's, the group's read bit;
    /// never a bit the rule refuses.
    #[cfg(unix)]
    #[test]
    fn writers_keep_only_the_group_read_bit_of_a_store_of_roots() {
        for (owner, old, new) in [
            (0, 0o640, 0o640),
            (0, 0o440, 0o640),
            (0, 0o600, 0o600),
            (0, 0o660, 0o600),
            (0, 0o644, 0o600),
            (0, 0o100_640, 0o640),
            (1000, 0o640, 0o600),
            (1000, 0o400, 0o600),
            (1000, 0o644, 0o600),
        ] {
            assert_eq!(kept_mode(owner, old), new, "owner {owner}, mode {old:o}");
        }
    }

    /// A file that appears at the name of a new store between the checks
    /// and the rename is never replaced: the rename refuses, and the
    /// temporary file goes.
    #[cfg(unix)]
    #[test]
    fn a_new_store_is_never_renamed_over_a_file_that_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.cbor");
        let target = target_for_write(&path, true).unwrap();
        let lock = lock(&target).unwrap();
        let empty = crate::store::format::encode_store(std::iter::empty(), 1);
        let staged = stage(&target, &empty, lock).unwrap();
        fs::write(&path, b"appeared").unwrap();
        assert!(matches!(
            staged.commit_new(),
            Err(Error::OutputExists { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"appeared");
        assert!(!sibling(&path, "tmp").exists());
        // Without the file, it is put in place.
        fs::remove_file(&path).unwrap();
        let lock = super::lock(&target).unwrap();
        stage(&target, &empty, lock).unwrap().commit_new().unwrap();
        assert_eq!(fs::read(&path).unwrap(), empty);
    }

    #[test]
    fn only_a_store_head_looks_like_a_store() {
        let store = crate::store::format::encode_store(std::iter::empty(), 1);
        assert!(looks_like_a_store(&store));
        assert!(looks_like_a_store(&store[..24]));
        assert!(!looks_like_a_store(&store[..10]));
        assert!(!looks_like_a_store(b"root:x:0:0:root:/root:/bin/bash\n"));
        assert!(!looks_like_a_store(b""));
        let mut retagged = store.clone();
        retagged[9] = b'O';
        assert!(!looks_like_a_store(&retagged));
    }
}
