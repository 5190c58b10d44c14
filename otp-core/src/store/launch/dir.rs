//! The launch directory, held open and used only relative to itself.
//!
//! Every launch record is reached from the directory's descriptor
//! (`openat`, `renameat`, `unlinkat`), never through a symbolic link
//! (`O_NOFOLLOW` on every step), and created new (`O_EXCL`) with mode 0600.
//! A link planted in the launch directory, or as the directory itself, is
//! refused, never followed, and never removed.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// A directory of launch records, held open. `path` is for messages.
pub(crate) struct Dir {
    #[cfg(unix)]
    fd: File,
    path: PathBuf,
}

/// What opening a directory entry found, when it was not what was asked.
pub(crate) enum Refused {
    /// Nothing of that name.
    Missing,
    /// A symbolic link, or not of the kind asked for.
    Unsafe(&'static str),
    /// Any other failure.
    Io(io::Error),
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Self {
        classify(e)
    }
}

#[cfg(unix)]
impl From<rustix::io::Errno> for Refused {
    fn from(e: rustix::io::Errno) -> Self {
        classify(e.into())
    }
}

/// `ELOOP` from `O_NOFOLLOW` is a link; `ENOTDIR` from `O_DIRECTORY` is a
/// file where a directory belongs.
fn classify(e: io::Error) -> Refused {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) {
            return Refused::Unsafe("is a symbolic link");
        }
        if e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) {
            return Refused::Unsafe("is not a directory");
        }
    }
    if e.kind() == io::ErrorKind::NotFound {
        Refused::Missing
    } else {
        Refused::Io(e)
    }
}

impl Dir {
    /// The directory at `path`, whose last component is not followed if it
    /// is a link. `Missing` when there is none.
    pub(crate) fn open(path: &Path) -> Result<Dir, Refused> {
        #[cfg(unix)]
        {
            let fd = rustix::fs::open(path, dir_flags(), rustix::fs::Mode::empty())?;
            Ok(Dir {
                fd: File::from(fd),
                path: path.to_owned(),
            })
        }
        #[cfg(not(unix))]
        {
            let metadata = fs::symlink_metadata(path)?;
            if metadata.file_type().is_symlink() {
                return Err(Refused::Unsafe("is a symbolic link"));
            }
            if !metadata.is_dir() {
                return Err(Refused::Unsafe("is not a directory"));
            }
            Ok(Dir {
                path: path.to_owned(),
            })
        }
    }

    /// A directory held open from a descriptor already opened as
    /// [`Dir::open`] opens one.
    #[cfg(unix)]
    pub(crate) fn from_file(fd: File, path: PathBuf) -> Dir {
        Dir { fd, path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory, for messages.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates the file `name`, mode 0600, for writing; it must not exist
    /// (a link of that name is not followed: it exists).
    pub(crate) fn create(&self, name: &str) -> io::Result<File> {
        #[cfg(unix)]
        {
            use rustix::fs::OFlags;
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(
                &self.fd,
                name,
                flags,
                rustix::fs::Mode::from_raw_mode(0o600),
            )?;
            Ok(File::from(fd))
        }
        #[cfg(not(unix))]
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.join(name))
    }

    /// Opens the file `name` to read it, not through a link and without
    /// waiting on a FIFO; anything but a regular file is refused.
    pub(crate) fn open_file(&self, name: &str) -> Result<(File, fs::Metadata), Refused> {
        #[cfg(unix)]
        let file = {
            use rustix::fs::OFlags;
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            File::from(rustix::fs::openat(
                &self.fd,
                name,
                flags,
                rustix::fs::Mode::empty(),
            )?)
        };
        #[cfg(not(unix))]
        let file = {
            let path = self.join(name);
            if fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return Err(Refused::Unsafe("is a symbolic link"));
            }
            File::open(path)?
        };
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(Refused::Unsafe("is not a regular file"));
        }
        Ok((file, metadata))
    }

    /// The names in this directory, but `.` and `..` and names that are not
    /// UTF-8 (no name otp-link writes is).
    pub(crate) fn names(&self) -> io::Result<Vec<String>> {
        #[cfg(unix)]
        {
            let mut names = Vec::new();
            for entry in rustix::fs::Dir::read_from(&self.fd)? {
                let entry = entry?;
                if let Ok(name) = entry.file_name().to_str() {
                    if name != "." && name != ".." {
                        names.push(name.to_owned());
                    }
                }
            }
            Ok(names)
        }
        #[cfg(not(unix))]
        {
            let mut names = Vec::new();
            for entry in fs::read_dir(&self.path)? {
                if let Ok(name) = entry?.file_name().into_string() {
                    names.push(name);
                }
            }
            Ok(names)
        }
    }

    /// Renames `from` to `to` within this directory.
    pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            rustix::fs::renameat(&self.fd, from, &self.fd, to)?;
            Ok(())
        }
        #[cfg(not(unix))]
        fs::rename(self.join(from), self.join(to))
    }

    /// Removes the file (or link) `name`; a link is removed, not followed.
    pub(crate) fn remove_file(&self, name: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty())?;
            Ok(())
        }
        #[cfg(not(unix))]
        fs::remove_file(self.join(name))
    }

    /// Gives the entry `name` (not a link's target) to `owner` and `group`.
    #[cfg(unix)]
    pub(crate) fn chown(&self, name: &str, owner: u32, group: u32) -> io::Result<()> {
        use rustix::fs::{AtFlags, Gid, Uid};
        rustix::fs::chownat(
            &self.fd,
            name,
            Some(Uid::from_raw(owner)),
            Some(Gid::from_raw(group)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        Ok(())
    }

    /// This directory's own metadata.
    pub(crate) fn metadata(&self) -> io::Result<fs::Metadata> {
        #[cfg(unix)]
        {
            self.fd.metadata()
        }
        #[cfg(not(unix))]
        fs::metadata(&self.path)
    }

    /// The modification time of the entry `name`, not following a link.
    pub(crate) fn modified(&self, name: &str) -> io::Result<std::time::SystemTime> {
        #[cfg(unix)]
        {
            use rustix::fs::AtFlags;
            let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            let secs = u64::try_from(stat.st_mtime).unwrap_or(0);
            Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        }
        #[cfg(not(unix))]
        fs::symlink_metadata(self.join(name))?.modified()
    }
}

#[cfg(unix)]
fn dir_flags() -> rustix::fs::OFlags {
    use rustix::fs::OFlags;
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}
