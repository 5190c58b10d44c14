//! The one error type of `otp-core`, and the exit-code contract.
//!
//! Every variant names what went wrong and what to do next, in lowercase,
//! and never carries a secret: key texts, pads, credentials and frames stay
//! out of messages. A key that fails its grammar or checksum (a typo) is
//! [`Error::MalformedKey`], two keys that cannot go together are
//! [`Error::MismatchedKeys`]; every failure of a well-formed pair to open its
//! account — a wrong or rotated-away key, a store altered on disk — collapses
//! into [`Error::AuthenticationFailed`], so an error says nothing about why a
//! tag did not match.
//!
//! Messages print paths and names through [`printable`], so a file name or
//! an account name holding terminal escapes or bidirectional controls shows
//! as escapes, not as what it would make a terminal do.
//!
//! [`Error::exit_code`] is the one mapping from errors to the exit codes that
//! `otp-link` documents; every program that reports these errors calls it.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

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
    /// A value that no program could be handed: it holds a NUL byte, which
    /// environment variables, arguments and C strings cannot carry.
    InvalidValue {
        /// `"username"` or `"password"`.
        field: &'static str,
        /// What is wrong with it, without repeating it.
        reason: &'static str,
    },
    /// A frame width outside 3..=101.
    InvalidWidth {
        /// The width that was asked for.
        width: usize,
    },
    /// An account name that is empty, too long, or holds control or
    /// invisible format characters.
    InvalidAccountName {
        /// What is wrong with the name.
        reason: &'static str,
    },
    /// One account of a batch was refused, so nothing of the batch was
    /// secured.
    BatchItem {
        /// The account's position in the batch, from 0.
        index: usize,
        /// Why it was refused.
        source: Box<Error>,
    },
    /// The store file does not exist.
    StoreMissing {
        /// Where the store was looked for.
        path: PathBuf,
    },
    /// The store path names something that is not a regular file (a
    /// directory, a device, a FIFO, a socket), or names no file at all.
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is, e.g. `"a directory"`.
        kind: &'static str,
    },
    /// The store file exists but is not a valid store: truncated, altered,
    /// oversized or not a store at all.
    StoreCorrupt {
        /// The store file.
        path: PathBuf,
        /// What the decoder found.
        reason: String,
    },
    /// A change would make the store larger than readers accept, so it was
    /// refused before anything was written.
    StoreTooLarge {
        /// The store file.
        path: PathBuf,
        /// The size the store would have had, in bytes.
        size: u64,
        /// The largest store readers accept, in bytes.
        limit: u64,
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
        /// What is wrong, e.g. "may be read or written by group or others
        /// (mode 0644)".
        problem: String,
        /// What to do about it, e.g. "run 'chmod 600 PATH' as its owner".
        fix: String,
    },
    /// A file beside the store that otp-link creates and uses (the lock or
    /// the temporary file) is not what otp-link would have made: a symbolic
    /// link, or not a regular file. It is never followed or written.
    UnsafeFile {
        /// The file.
        path: PathBuf,
        /// What it is, e.g. "is a symbolic link".
        problem: &'static str,
    },
    /// The store cannot be changed where it is: it is a systemd credential,
    /// or on a file system mounted read-only (a Kubernetes Secret volume),
    /// so a writer refuses before it creates anything.
    ReadOnlyStore {
        /// The store file.
        path: PathBuf,
    },
    /// The file an export was to create exists, and `--force` was not given.
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// An export was to write over the store it reads.
    ExportOverSource {
        /// The output, which is the store itself.
        path: PathBuf,
    },
    /// Another process holds the store's lock for longer than we wait.
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
    /// Putting a written change into effect failed: the new store could not
    /// be renamed over the old one. The store is unchanged, so keys handed
    /// out for the change do not work and the previous keys still do.
    NotCommitted {
        /// The store file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The change is in effect (the new store replaced the old one, and the
    /// keys handed out for it are the account's keys now), but syncing the
    /// store's directory failed, so a power failure could still undo it.
    CommittedUnsynced {
        /// The store's directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    Entropy,
    /// The keys are used up or expired: they opened the account (both tags
    /// verified), but it may no longer be opened. Exit 12. Launch keys get
    /// it also once their launch record is gone ([`Expired::LaunchGone`]).
    KeysExpired {
        /// The account's name; empty when it is not known (a launch record
        /// that is gone).
        name: String,
        /// Why the keys no longer open it.
        reason: Expired,
    },
    /// A writer was asked for an expiry that is not in the future (or to
    /// keep one that has passed): the keys it issued would open nothing.
    InvalidExpiry {
        /// The not-after time asked for, seconds since the Unix epoch.
        not_after: u64,
        /// The clock's time when it was refused.
        now: u64,
    },
    /// The system clock reads before 1970, so whether an expiry has passed
    /// cannot be told. Accounts without expiry are not affected.
    ClockBeforeEpoch,
    /// The audit log that was configured (`OTP_LINK_AUDIT`, `--audit`)
    /// cannot be opened or written, or is not a file otp-link may append
    /// to. Whoever configured a log wants no use it does not record, so the
    /// command stops before it releases or changes anything.
    AuditLog {
        /// The audit log's path.
        path: PathBuf,
        /// What is wrong, e.g. "is a symbolic link".
        problem: String,
    },
    /// Launch keys were given where only an account's own keys do: a
    /// launch key opens its credentials and nothing else.
    AccountKeysNeeded {
        /// What the keys were given for, e.g. `"rotate"`.
        command: &'static str,
    },
    /// A use limit or a time to live that launch keys cannot have.
    InvalidLaunchLimits {
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A launch record file that is not a valid launch record.
    LaunchRecordCorrupt {
        /// The launch record file.
        path: PathBuf,
        /// What the decoder found.
        reason: String,
    },
    /// Putting a new launch record in place failed, so the launch keys
    /// printed for it open nothing.
    LaunchNotCommitted {
        /// The launch record's file, as it would have been named in effect.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

/// Why keys that opened their account no longer may ([`Error::KeysExpired`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expired {
    /// The account's not-after time has passed: it opened up to and
    /// including `not_after`, and the clock reads `now`, later.
    NotAfter {
        /// The account's not-after time, seconds since the Unix epoch.
        not_after: u64,
        /// The clock's time at the check.
        now: u64,
    },
    /// Every use of the launch keys is spent.
    LaunchUsedUp {
        /// How many uses they had.
        uses: u32,
    },
    /// The launch keys' not-after time has passed (they open up to and
    /// including `not_after`; the clock reads `now`, later).
    LaunchExpired {
        /// The launch record's not-after time, seconds since the Unix epoch.
        not_after: u64,
        /// The clock's time at the check.
        now: u64,
    },
    /// The account was rotated, replaced or removed after the launch keys
    /// were issued.
    LaunchRevoked,
    /// No launch record has the launch keys' id: it was removed once dead
    /// (used up, expired or revoked), or the keys are of another store.
    LaunchGone,
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

    /// The name of the account the error is about, when it names one.
    pub fn account_name(&self) -> Option<&str> {
        match self {
            // Launch keys that are not known to open an account have none.
            Error::KeysExpired { name, .. } if name.is_empty() => None,
            Error::UnknownAccount { name, .. }
            | Error::AccountExists { name }
            | Error::KeysExpired { name, .. } => Some(name),
            Error::BatchItem { source, .. } => source.account_name(),
            _ => None,
        }
    }

    /// True when the error is an operating-system refusal to access a file
    /// (`EACCES`/`EPERM`), as opposed to other I/O failures.
    pub fn is_permission_denied(&self) -> bool {
        match self {
            Error::Io { source, .. }
            | Error::NotCommitted { source, .. }
            | Error::CommittedUnsynced { source, .. }
            | Error::LaunchNotCommitted { source, .. } => {
                source.kind() == io::ErrorKind::PermissionDenied
            }
            Error::BatchItem { source, .. } => source.is_permission_denied(),
            _ => false,
        }
    }

    /// The exit code `otp-link` exits with for this error; README's "Exit
    /// codes" lists them. Every program that reports these errors as an exit
    /// status (the CLI, the examples, bindings) calls this and nothing else.
    ///
    /// | code | errors |
    /// |---|---|
    /// | 2 | [`NoStoreLocation`](Error::NoStoreLocation) (usage: name a store), [`ExportOverSource`](Error::ExportOverSource) |
    /// | 3 | malformed or mismatched keys, malformed legacy keys |
    /// | 4 | [`AuthenticationFailed`](Error::AuthenticationFailed), [`LegacyKeyRejected`](Error::LegacyKeyRejected) |
    /// | 5 | unknown record or account |
    /// | 6 | [`AccountExists`](Error::AccountExists), [`OutputExists`](Error::OutputExists) |
    /// | 7 | [`StoreMissing`](Error::StoreMissing) |
    /// | 8 | corrupt store or legacy file, unsupported version, not a regular file |
    /// | 9 | insecure store, unsafe lock or temporary file, access denied |
    /// | 10 | other I/O errors, a busy lock, a change not (durably) put into effect, a read-only store |
    /// | 11 | value, width, name, store size or expiry rejected |
    /// | 12 | [`KeysExpired`](Error::KeysExpired): keys used up or expired (launch keys also revoked, or their record gone) |
    /// | 10 | also: the clock reads before 1970, the audit log cannot be written |
    /// | 1 | the random number generator failed |
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BatchItem { source, .. } => source.exit_code(),
            Error::NoStoreLocation
            | Error::ExportOverSource { .. }
            | Error::InvalidLaunchLimits { .. } => 2,
            Error::MalformedKey { .. }
            | Error::MismatchedKeys { .. }
            | Error::MalformedLegacyKey { .. }
            | Error::AccountKeysNeeded { .. } => 3,
            Error::AuthenticationFailed | Error::LegacyKeyRejected { .. } => 4,
            Error::UnknownRecord { .. } | Error::UnknownAccount { .. } => 5,
            Error::AccountExists { .. } | Error::OutputExists { .. } => 6,
            Error::StoreMissing { .. } => 7,
            Error::StoreCorrupt { .. }
            | Error::UnsupportedVersion { .. }
            | Error::LegacyFile { .. }
            | Error::NotRegularFile { .. }
            | Error::LaunchRecordCorrupt { .. } => 8,
            // Whatever the cause, these say how far a change got.
            Error::NotCommitted { .. }
            | Error::CommittedUnsynced { .. }
            | Error::LaunchNotCommitted { .. } => 10,
            Error::InsecureStore { .. } | Error::UnsafeFile { .. } => 9,
            e if e.is_permission_denied() => 9,
            Error::Io { .. } | Error::LockTimeout { .. } | Error::ReadOnlyStore { .. } => 10,
            Error::ValueTooLong { .. }
            | Error::InvalidValue { .. }
            | Error::InvalidWidth { .. }
            | Error::InvalidAccountName { .. }
            | Error::StoreTooLarge { .. }
            | Error::InvalidExpiry { .. } => 11,
            Error::KeysExpired { .. } => 12,
            Error::ClockBeforeEpoch | Error::AuditLog { .. } => 10,
            Error::Entropy => 1,
        }
    }
}

/// Whether `c` is of Unicode general category Cf (format): invisible
/// characters such as zero-width spaces, the byte order mark and the
/// bidirectional overrides that make text display as other text (Unicode
/// 15.1).
pub(crate) fn is_format_char(c: char) -> bool {
    const CF: [(u32, u32); 21] = [
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    let c = u32::from(c);
    CF.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// `text` with every control character (C0, DEL, C1) and every invisible
/// format character (category Cf) written as a `\u{..}` escape, so that a
/// name or a path printed to a terminal shows what it holds instead of
/// moving the cursor, ringing the bell or reordering the line.
pub fn printable(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() || is_format_char(c);
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `message` as the one line an error is reported in: line breaks folded
/// into spaces, then [`printable`]. `otp-link` prints every error so (after
/// `otp-link: `), and the bindings raise their exceptions with the same
/// line, so that a message reads the same from every front end.
pub fn one_line(message: &str) -> String {
    printable(&message.replace(['\n', '\r'], " ")).into_owned()
}

/// What to do about launch keys that open nothing any more.
const ISSUE_NEW: &str = "issue new launch keys with 'otp-link issue'";

/// A path as [`printable`] text.
fn shown(path: &Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

/// What an I/O error means for the operator: a full disk is said so, not
/// left to "check the path and its permissions".
fn io_advice(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::StorageFull => "the disk is full: free some space and try again",
        io::ErrorKind::QuotaExceeded => "the disk quota is used up: free some space and try again",
        io::ErrorKind::ReadOnlyFilesystem => {
            "the file system is read-only: keep the store on a writable one"
        }
        _ => "check the path and its permissions",
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
                shown(path)
            ),
            Error::UnknownAccount { name, path } => write!(
                f,
                "no account named '{}' in {}; list the accounts with 'otp-link list'",
                printable(name),
                shown(path)
            ),
            Error::AccountExists { name } => write!(
                f,
                "account '{}' already exists; pass --replace to seal new credentials and issue new keys",
                printable(name)
            ),
            Error::AuthenticationFailed => write!(
                f,
                "authentication failed: the keys do not open this account (a key is wrong, rotated away, or the store was altered); use the keys last issued for the account"
            ),
            Error::ValueTooLong { field, len, width } => write!(
                f,
                "the {field} is {len} bytes but a frame of width {width} holds at most {} bytes; pass a larger --width (at most 101, which holds 99 bytes)",
                width.saturating_sub(2)
            ),
            Error::InvalidValue { field, reason } => write!(
                f,
                "the {field} {reason}, which no program can be handed (environment variables and arguments cannot carry it); remove it"
            ),
            Error::InvalidWidth { width } => write!(
                f,
                "frame width {width} is out of range; choose a --width from 3 to 101"
            ),
            Error::InvalidAccountName { reason } => {
                write!(f, "invalid account name: {reason}")
            }
            Error::BatchItem { index, source } => {
                write!(f, "account {} of the batch: {source}", index + 1)
            }
            Error::StoreMissing { path } => write!(
                f,
                "store {} does not exist; secure an account first, or name the right store with --store or OTP_LINK_STORE",
                shown(path)
            ),
            Error::NotRegularFile { path, kind } => write!(
                f,
                "store {} is {kind}, not a regular file; name the store file itself with --store or OTP_LINK_STORE",
                shown(path)
            ),
            Error::StoreCorrupt { path, reason } => write!(
                f,
                "store {} is corrupt ({}); restore it from a backup",
                shown(path),
                printable(reason)
            ),
            Error::StoreTooLarge { path, size, limit } => write!(
                f,
                "the change would make store {} {size} bytes, more than the {} MiB readers accept, so nothing was written; split the accounts over several stores (secure some with --store OTHER and remove them here)",
                shown(path),
                limit / (1024 * 1024)
            ),
            Error::UnsupportedVersion { path, version } => write!(
                f,
                "store {} has format version {version}, which this otp-link does not read; upgrade otp-link",
                shown(path)
            ),
            Error::InsecureStore { path, problem, fix } => {
                write!(f, "store {} {problem}; {fix}", shown(path))
            }
            Error::UnsafeFile { path, problem } => write!(
                f,
                "{} {problem}, which otp-link never follows or writes; remove it, and keep the store in a directory only its owner can write",
                shown(path)
            ),
            Error::ReadOnlyStore { path } => write!(
                f,
                "store {} is read-only here (a systemd credential, a Kubernetes Secret volume or a read-only mount), so otp-link changes nothing in it; change the store it was copied from and deploy that again",
                shown(path)
            ),
            Error::OutputExists { path } => write!(
                f,
                "{} already exists, so nothing was written; pass --force to replace it (it must be an otp-link store), or name a new file",
                shown(path)
            ),
            Error::ExportOverSource { path } => write!(
                f,
                "{} is the store being exported, so nothing was written; name a new file with --output",
                shown(path)
            ),
            Error::LockTimeout { path, waited_ms } => write!(
                f,
                "another process has held the lock {} for {:.1} s; try again when it has finished (find it with 'fuser {}')",
                shown(path),
                *waited_ms as f64 / 1000.0,
                shown(path)
            ),
            Error::NoStoreLocation => write!(
                f,
                "no store location: HOME is not set; pass --store PATH or set OTP_LINK_STORE"
            ),
            Error::LegacyFile { path, reason } => write!(
                f,
                "{} is not a Secure-Python-Link account file ({}); pass the file that the old keys were made for",
                shown(path),
                printable(reason)
            ),
            Error::MalformedLegacyKey { reason } => write!(
                f,
                "malformed legacy key: {reason}; quote the old key so the shell passes it unchanged"
            ),
            Error::LegacyKeyRejected { path, field } => write!(
                f,
                "legacy key does not open this file: the {field} key does not fit {}; check the keys and their order (user key first)",
                shown(path)
            ),
            Error::Io {
                action,
                path,
                source,
            } => write!(
                f,
                "{action} {} failed: {source}; {}",
                shown(path),
                io_advice(source)
            ),
            Error::NotCommitted { path, source } => write!(
                f,
                "putting the new store in place of {} failed: {source}; nothing was changed: any keys printed for this change do not work, and the previous keys still do ({})",
                shown(path),
                io_advice(source)
            ),
            Error::CommittedUnsynced { path, source } => write!(
                f,
                "the change is in effect and the keys printed for it are the account's keys now, but syncing directory {} failed: {source}; keep the new keys and check the disk",
                shown(path)
            ),
            Error::Entropy => write!(
                f,
                "the operating system's random number generator failed; try again"
            ),
            Error::KeysExpired { name, reason } => match reason {
                Expired::NotAfter { not_after, now } => write!(
                    f,
                    "account '{}' expired at {} (the clock reads {}), so its keys no longer open it; to extend it, run 'otp-link rotate --expires-in DURATION' with its keys (new keys), or 'otp-link secure-account --replace --expires-in DURATION' with its name (new credentials)",
                    printable(name),
                    crate::rfc3339(*not_after),
                    crate::rfc3339(*now)
                ),
                Expired::LaunchUsedUp { uses: 1 } => write!(
                    f,
                    "these launch keys are used up: their one use is spent; {ISSUE_NEW}"
                ),
                Expired::LaunchUsedUp { uses } => write!(
                    f,
                    "these launch keys are used up: all {uses} uses are spent; {ISSUE_NEW}"
                ),
                Expired::LaunchExpired { not_after, now } => write!(
                    f,
                    "these launch keys expired at {} (the clock reads {}); {ISSUE_NEW}",
                    crate::rfc3339(*not_after),
                    crate::rfc3339(*now)
                ),
                Expired::LaunchRevoked => {
                    // A removed account's name is gone with it.
                    let account = match name.as_str() {
                        "" => "their account".to_owned(),
                        name => format!("account '{}'", printable(name)),
                    };
                    write!(
                        f,
                        "these launch keys were revoked: {account} was rotated, replaced or removed after they were issued; {ISSUE_NEW} and the account's current keys"
                    )
                }
                Expired::LaunchGone => write!(
                    f,
                    "these launch keys are used up, expired or revoked (no launch record has their id any more), or belong to another store (--store); {ISSUE_NEW}"
                ),
            },
            Error::InvalidExpiry { not_after, now } => write!(
                f,
                "the expiry {} is not in the future (the clock reads {}), so the keys would open nothing; give a later --not-after or an --expires-in DURATION, or --no-expiry for none; nothing was changed",
                crate::rfc3339(*not_after),
                crate::rfc3339(*now)
            ),
            Error::ClockBeforeEpoch => write!(
                f,
                "the system clock reads before 1970, so otp-link cannot tell whether an expiry has passed; set the clock (e.g. with NTP or 'timedatectl')"
            ),
            Error::AuditLog { path, problem } => write!(
                f,
                "audit log {} {problem}; otp-link uses no account it cannot log, so nothing was released or changed: fix the log, or configure none (OTP_LINK_AUDIT, --audit)",
                shown(path)
            ),
            Error::AccountKeysNeeded { command } => write!(
                f,
                "these are launch keys, which open credentials (recover, exec, verify) but cannot {command}; pass the account's own keys, as secure-account or rotate printed them"
            ),
            Error::InvalidLaunchLimits { reason } => write!(f, "{reason}"),
            Error::LaunchRecordCorrupt { path, reason } => write!(
                f,
                "launch record {} is corrupt ({}); issue new launch keys with 'otp-link issue' ('otp-link prune' removes it)",
                shown(path),
                printable(reason)
            ),
            Error::LaunchNotCommitted { path, source } => write!(
                f,
                "putting the launch record {} in place failed: {source}; the launch keys printed open nothing: issue new ones ({})",
                shown(path),
                io_advice(source)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. }
            | Error::NotCommitted { source, .. }
            | Error::CommittedUnsynced { source, .. }
            | Error::LaunchNotCommitted { source, .. } => Some(source),
            Error::BatchItem { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_controls_and_format_characters_only() {
        assert_eq!(printable("plain näme ✓"), "plain näme ✓");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable("a\x1b[2Jb\x07"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(printable("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(printable("\u{feff}x\u{200b}"), "\\u{feff}x\\u{200b}");
        assert_eq!(printable("c1\u{9b}"), "c1\\u{9b}");
    }

    #[test]
    fn format_characters_are_category_cf() {
        for c in [
            '\u{ad}',
            '\u{200b}',
            '\u{200f}',
            '\u{202a}',
            '\u{2066}',
            '\u{feff}',
            '\u{e0041}',
        ] {
            assert!(is_format_char(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '密', '\u{2010}', '\u{202f}', '\u{fffd}'] {
            assert!(!is_format_char(c), "{c:?}");
        }
    }

    #[test]
    fn one_line_folds_line_breaks_and_escapes_controls() {
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
        assert_eq!(one_line("x\u{1b}[2J\ny"), "x\\u{1b}[2J y");
    }

    #[test]
    fn a_full_disk_is_named_as_such() {
        let full = Error::io(
            "writing",
            "/s/store.cbor.tmp",
            io::Error::from(io::ErrorKind::StorageFull),
        );
        assert!(full.to_string().contains("the disk is full"), "{full}");
        assert!(!full.to_string().contains("permissions"), "{full}");
        assert_eq!(full.exit_code(), 10);
    }

    /// Each reason launch keys open nothing is said, with what to do, and
    /// is exit 12; a removed account's empty name is not shown as `''`.
    #[test]
    fn dead_launch_keys_say_why_and_what_to_do() {
        let dead = |name: &str, reason| Error::KeysExpired {
            name: name.into(),
            reason,
        };
        for (error, says) in [
            (
                dead("", Expired::LaunchUsedUp { uses: 1 }),
                "their one use is spent",
            ),
            (
                dead("", Expired::LaunchUsedUp { uses: 5 }),
                "all 5 uses are spent",
            ),
            (
                dead(
                    "",
                    Expired::LaunchExpired {
                        not_after: 0,
                        now: 1,
                    },
                ),
                "expired at 1970-01-01T00:00:00Z (the clock reads 1970-01-01T00:00:01Z)",
            ),
            (
                dead("db", Expired::LaunchRevoked),
                "account 'db' was rotated",
            ),
            (
                dead("", Expired::LaunchRevoked),
                "their account was rotated",
            ),
            (
                dead("", Expired::LaunchGone),
                "no launch record has their id",
            ),
        ] {
            let line = error.to_string();
            assert!(line.contains(says), "{line}");
            assert!(line.contains("issue new launch keys"), "{line}");
            assert!(!line.contains("''"), "{line}");
            assert_eq!(error.exit_code(), 12);
        }
        assert_eq!(dead("", Expired::LaunchGone).account_name(), None);
        assert_eq!(
            dead("db", Expired::LaunchRevoked).account_name(),
            Some("db")
        );
    }

    #[test]
    fn a_refused_batch_item_keeps_its_exit_code() {
        let e = Error::BatchItem {
            index: 2,
            source: Box::new(Error::AccountExists { name: "db".into() }),
        };
        assert_eq!(e.exit_code(), 6);
        assert!(
            e.to_string()
                .starts_with("account 3 of the batch: account 'db'"),
            "{e}"
        );
    }
}
