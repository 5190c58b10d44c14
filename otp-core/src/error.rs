//! The one error type of `otp-core`.
//!
//! Every variant names what went wrong and what to do next, in lowercase,
//! and never carries a secret: key texts, pads, credentials and frames stay
//! out of messages. All authentication failures — a wrong, mistyped or
//! rotated-away key, a swapped key, a store altered on disk — collapse into
//! [`Error::AuthenticationFailed`], so an error says nothing about why a
//! tag did not match.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in `otp-core`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A key text does not follow the key grammar, or its checksum does not
    /// match (a mistyped or truncated key). Carries a reason, never the key.
    MalformedKey {
        /// What is wrong with the key text, without repeating it.
        reason: &'static str,
    },
    /// Two well-formed keys that cannot be used together: both for the same
    /// field, in the wrong order, or from two different accounts.
    MismatchedKeys {
        /// Which rule the pair breaks and how to pass them instead.
        reason: &'static str,
    },
    /// The keys name a record id that no account of the store has.
    UnknownRecord {
        /// The store that was searched.
        path: PathBuf,
    },
    /// No account of the store has this name.
    UnknownAccount {
        /// The account name that was asked for.
        name: String,
        /// The store that was searched.
        path: PathBuf,
    },
    /// An account of this name already exists.
    AccountExists {
        /// The account name.
        name: String,
    },
    /// The keys do not open the account: a key is wrong or out of date, or
    /// the store was altered. Deliberately says nothing more.
    AuthenticationFailed,
    /// A value does not fit into the account's frame width.
    ValueTooLong {
        /// `"username"` or `"password"`.
        field: &'static str,
        /// The value's length in UTF-8 bytes.
        len: usize,
        /// The frame width that was asked for.
        width: usize,
    },
    /// A frame width outside 3..=101.
    InvalidWidth {
        /// The width that was asked for.
        width: usize,
    },
    /// An account name that is empty, too long or holds control characters.
    InvalidAccountName {
        /// What is wrong with the name.
        reason: &'static str,
    },
    /// The store file does not exist.
    StoreMissing {
        /// Where the store was looked for.
        path: PathBuf,
    },
    /// The store file exists but is not a valid store: truncated, altered,
    /// oversized or not a store at all.
    StoreCorrupt {
        /// The store file.
        path: PathBuf,
        /// What the decoder found.
        reason: String,
    },
    /// The store was written by a format version this build does not read.
    UnsupportedVersion {
        /// The store file.
        path: PathBuf,
        /// The version the file declares.
        version: u64,
    },
    /// The store may be read or written by other users, or is owned by
    /// another user, so its half of the secret is not safe.
    InsecureStore {
        /// The store file.
        path: PathBuf,
        /// What is wrong, e.g. "is readable by group or others (mode 0644)".
        problem: String,
    },
    /// Another writer holds the store's lock for longer than we wait.
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited, in milliseconds.
        waited_ms: u64,
    },
    /// No store path was given and no default location could be found.
    NoStoreLocation,
    /// A file of Secure-Python-Link could not be read as an account file.
    LegacyFile {
        /// The legacy account file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A key of Secure-Python-Link is not 25 characters of its alphabet.
    MalformedLegacyKey {
        /// What is wrong with the key, without repeating it.
        reason: &'static str,
    },
    /// A Secure-Python-Link key does not open the value it was given for.
    LegacyKeyRejected {
        /// The legacy account file.
        path: PathBuf,
        /// `"username"` or `"password"`.
        field: &'static str,
    },
    /// An input/output error on a file of the store.
    Io {
        /// What we were doing, e.g. "reading", "renaming".
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    Entropy,
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::StoreCorrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// True when the error is an operating-system refusal to access a file
    /// (`EACCES`/`EPERM`), as opposed to other I/O failures.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MalformedKey { reason } => write!(
                f,
                "malformed key: {reason}; copy the key again exactly as secure-account printed it"
            ),
            Error::MismatchedKeys { reason } => write!(f, "keys do not match: {reason}"),
            Error::UnknownRecord { path } => write!(
                f,
                "no account in {} has this key's record id; the account was removed, or the keys belong to another store (--store)",
                path.display()
            ),
            Error::UnknownAccount { name, path } => write!(
                f,
                "no account named '{name}' in {}; list the accounts with 'otp-link list'",
                path.display()
            ),
            Error::AccountExists { name } => write!(
                f,
                "account '{name}' already exists; pass --replace to seal new credentials and issue new keys"
            ),
            Error::AuthenticationFailed => write!(
                f,
                "authentication failed: the keys do not open this account (a key is wrong, mistyped, rotated away, or the store was altered); use the keys last issued for the account"
            ),
            Error::ValueTooLong { field, len, width } => write!(
                f,
                "the {field} is {len} bytes but a frame of width {width} holds at most {} bytes; pass a larger --width (at most 101, which holds 99 bytes)",
                width.saturating_sub(2)
            ),
            Error::InvalidWidth { width } => write!(
                f,
                "frame width {width} is out of range; choose a --width from 3 to 101"
            ),
            Error::InvalidAccountName { reason } => {
                write!(f, "invalid account name: {reason}")
            }
            Error::StoreMissing { path } => write!(
                f,
                "store {} does not exist; secure an account first, or name the right store with --store or OTP_LINK_STORE",
                path.display()
            ),
            Error::StoreCorrupt { path, reason } => write!(
                f,
                "store {} is corrupt ({reason}); restore it from a backup",
                path.display()
            ),
            Error::UnsupportedVersion { path, version } => write!(
                f,
                "store {} has format version {version}, which this otp-link does not read; upgrade otp-link",
                path.display()
            ),
            Error::InsecureStore { path, problem } => write!(
                f,
                "store {} {problem}; run 'chmod 600 {}' as its owner",
                path.display(),
                path.display()
            ),
            Error::LockTimeout { path, waited_ms } => write!(
                f,
                "another otp-link process has held the lock {} for {:.1} s; try again when it has finished",
                path.display(),
                *waited_ms as f64 / 1000.0
            ),
            Error::NoStoreLocation => write!(
                f,
                "no store location: HOME is not set; pass --store PATH or set OTP_LINK_STORE"
            ),
            Error::LegacyFile { path, reason } => write!(
                f,
                "{} is not a Secure-Python-Link account file ({reason}); pass the file that the old keys were made for",
                path.display()
            ),
            Error::MalformedLegacyKey { reason } => write!(
                f,
                "malformed legacy key: {reason}; quote the old key so the shell passes it unchanged"
            ),
            Error::LegacyKeyRejected { path, field } => write!(
                f,
                "legacy key does not open this file: the {field} key does not fit {}; check the keys and their order (user key first)",
                path.display()
            ),
            Error::Io {
                action,
                path,
                source,
            } => write!(
                f,
                "{action} {} failed: {source}; check the path and its permissions",
                path.display()
            ),
            Error::Entropy => write!(
                f,
                "the operating system's random number generator failed; try again"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
