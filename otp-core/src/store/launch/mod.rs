//! Launch records: an account's credentials sealed again, for a limited
//! number of uses before a deadline, so that the keys a host puts on a
//! child's command line are worth nothing once the child has used them.
//!
//! They live beside the store, not in it: issuing and consuming never
//! rewrite the store, which may be 24 MB and is read by every child. Each
//! record is one small immutable file, `STORE.launch/<id>.<k>`, whose name
//! ends in `k`, the number of its uses spent. A reader spends a use by
//! renaming `<id>.<k>` to `<id>.<k+1>`: exactly one of any number of
//! readers that try succeeds, and the credentials are handed out only after
//! the rename, so a reader killed at any moment can lose a use but never
//! grant one more. The record's tags,
//! computed once when it is issued, bind its use limit, its deadline and
//! the account's own tags at that time; nothing is ever authenticated
//! again under its one-time keys. Protocol and reasons: spec/launch.md.

pub(crate) mod dir;
mod record;

pub use record::MAX_USES;
#[cfg(feature = "test-vectors")]
pub(crate) use record::{encode as encode_record, LaunchRecord as LaunchRecordParts};

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock;
use crate::key::{Key, KeyKind, Keys};
use crate::primitives::{Field, RecordId};
use crate::seal::{self, Sealed, TAG_LEN};
use crate::store::file::{self, Target};
use crate::{Credentials, Error, Expired};
use dir::{Dir, Refused};
use record::LaunchRecord;

/// Every account's current tags ([`account_tags`]), by record id: what a
/// launch record is checked against for revocation.
pub(crate) type CurrentTags = HashMap<RecordId, [u8; 2 * TAG_LEN]>;

/// The longest time to live launch keys may have: seven days.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 86_400);

/// How long a launch record whose issuer may still be writing it (a
/// pending one that holds no readable record yet) is left alone by the
/// clean-up.
const PENDING_GRACE: Duration = Duration::from_secs(600);

/// How many uses launch keys grant and for how long ([`Store::issue`]).
///
/// [`Store::issue`]: crate::Store::issue
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchLimits {
    /// How many times the keys open the credentials, 1 to [`MAX_USES`].
    pub uses: u32,
    /// How long they do, whole seconds from one second to [`MAX_TTL`].
    pub ttl: Duration,
}

impl Default for LaunchLimits {
    /// One use within 60 seconds.
    fn default() -> Self {
        LaunchLimits {
            uses: 1,
            ttl: Duration::from_secs(60),
        }
    }
}

impl LaunchLimits {
    pub(crate) fn check(&self) -> Result<(), Error> {
        if !(1..=MAX_USES).contains(&self.uses) {
            return Err(Error::InvalidLaunchLimits {
                reason: format!(
                    "launch keys grant 1 to {MAX_USES} uses, not {}; choose --uses in that range",
                    self.uses
                ),
            });
        }
        if self.ttl < Duration::from_secs(1) || self.ttl > MAX_TTL || self.ttl.subsec_nanos() != 0 {
            return Err(Error::InvalidLaunchLimits {
                reason: "launch keys live from one second to seven days, in whole seconds; choose --ttl such as 30s, 5m, 2h or 1d".into(),
            });
        }
        Ok(())
    }
}

/// What [`Store::issue`](crate::Store::issue) hands out: the launch keys,
/// and what they are good for.
#[derive(Debug)]
pub struct LaunchKeys {
    /// The account whose credentials the keys open.
    pub account: String,
    /// The two launch keys.
    pub keys: Keys,
    /// How many times they open them.
    pub uses: u32,
    /// The last second in which they open them, in seconds since the Unix
    /// epoch: `ttl - 1` seconds after the second they were issued in, or
    /// the account's own not-after time if that comes first.
    pub not_after: u64,
}

/// What an account's state is bound to in its launch records: its two
/// tags, which rotate and replace draw anew.
pub(crate) fn account_tags(username: &Sealed, password: &Sealed) -> [u8; 2 * TAG_LEN] {
    let mut tags = [0u8; 2 * TAG_LEN];
    tags[..TAG_LEN].copy_from_slice(&username.tag);
    tags[TAG_LEN..].copy_from_slice(&password.tag);
    tags
}

/// `STORE.launch`, beside the file a writer of `store` replaces (the
/// store, or the file a link to it names), as readers find it.
pub(crate) fn launch_dir_path(store: &Path) -> PathBuf {
    let target = match std::fs::symlink_metadata(store) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(store).unwrap_or_else(|_| store.to_owned())
        }
        _ => store.to_owned(),
    };
    with_suffix(&target, ".launch")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The count of a record file's name, `<id>.<k>`: the uses spent so far,
/// in decimal without leading zeros.
fn parse_count(name: &str) -> Option<u32> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    canonical.then(|| name.parse().ok()).flatten()
}

/// The id of a record whose file name starts with `name`: 32 lowercase hex
/// digits.
fn parse_id(name: &str) -> Option<RecordId> {
    if name.len() != 32 || !name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(name, &mut id).ok()?;
    Some(RecordId::from_bytes(id))
}

/// What a name in the launch directory is: a record `<id>.<k>`, a pending
/// record `<id>.new`, or something otp-link does not write (`None`).
enum Name {
    Record(RecordId, u32),
    Pending,
}

fn parse_name(name: &str) -> Option<Name> {
    let (id, rest) = name.split_once('.')?;
    let id = parse_id(id)?;
    match rest {
        "new" => Some(Name::Pending),
        count => parse_count(count).map(|k| Name::Record(id, k)),
    }
}

/// `<id>.<k>`.
fn record_name(id: &RecordId, count: u32) -> String {
    format!("{id}.{count}")
}

/// `<id>.new`.
fn pending_name(id: &RecordId) -> String {
    format!("{id}.new")
}

fn refused(path: PathBuf, why: Refused, action: &'static str) -> Error {
    match why {
        Refused::Missing => Error::io(action, path, io::Error::from(io::ErrorKind::NotFound)),
        Refused::Unsafe(problem) => Error::UnsafeFile { path, problem },
        Refused::Io(e) => Error::io(action, path, e),
    }
}

/// Refuses a launch directory or file that others may read or write, or of
/// another owner (readers' rule, as for the store).
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), Error> {
    #[cfg(unix)]
    file::check_private(path, metadata)?;
    #[cfg(not(unix))]
    let _ = (path, metadata);
    Ok(())
}

/// A launch record, found: the launch directory held open, the record's id
/// and its count, the uses spent when it was last seen.
struct Opened {
    launch: Dir,
    id: RecordId,
    count: u32,
}

/// The count of record `id`, from a listing of the launch directory, or
/// `None` when it holds no file of the record. Two are a corrupt record.
fn find_count(launch: &Dir, id: &RecordId) -> Result<Option<u32>, Error> {
    let names = launch
        .names()
        .map_err(|e| Error::io("listing", launch.path(), e))?;
    let mut counts = names.iter().filter_map(|n| match parse_name(n) {
        Some(Name::Record(of, k)) if of == *id => Some(k),
        _ => None,
    });
    let first = counts.next();
    if counts.next().is_some() {
        return Err(Error::LaunchRecordCorrupt {
            path: launch.join(&format!("{id}.*")),
            reason: "its launch directory holds two files of it".into(),
        });
    }
    Ok(first)
}

/// Reads the file `name` of the launch directory as a launch record: a
/// regular file (not a link), private when `private`, within the size
/// limit. `None` when there is no such file.
fn read_record(launch: &Dir, name: &str, private: bool) -> Result<Option<LaunchRecord>, Error> {
    let path = launch.join(name);
    let (file, metadata) = match launch.open_file(name) {
        Ok(opened) => opened,
        Err(Refused::Missing) => return Ok(None),
        Err(why) => return Err(refused(path, why, "opening")),
    };
    if private {
        check_private(&path, &metadata)?;
    }
    let corrupt = |reason: String| Error::LaunchRecordCorrupt {
        path: path.clone(),
        reason,
    };
    if metadata.len() > record::MAX_RECORD_BYTES {
        return Err(corrupt("it is larger than any launch record".into()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(record::MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", &path, e))?;
    match record::decode(&bytes) {
        Ok(record) => Ok(Some(record)),
        Err(crate::store::format::FormatError::Corrupt(reason)) => Err(corrupt(reason)),
        Err(crate::store::format::FormatError::Version(v)) => Err(corrupt(format!(
            "it is of launch record format version {v}, which this otp-link does not read; upgrade otp-link"
        ))),
    }
}

/// Opens the launch record the keys name, as readers do: the launch
/// directory and the file private and not links. A record that is not
/// there is [`Expired::LaunchGone`].
fn open_record(store: &Path, id: &RecordId) -> Result<(Opened, LaunchRecord), Error> {
    let gone = || dead(String::new(), Expired::LaunchGone);
    let path = launch_dir_path(store);
    let launch = match Dir::open(&path) {
        Ok(dir) => dir,
        Err(Refused::Missing) => return Err(gone()),
        Err(why) => return Err(refused(path, why, "opening")),
    };
    let metadata = launch
        .metadata()
        .map_err(|e| Error::io("reading the metadata of", launch.path(), e))?;
    check_private(launch.path(), &metadata)?;
    // A fresh record is `<id>.0`: one open, no listing.
    let mut count = 0;
    loop {
        if let Some(record) = read_record(&launch, &record_name(id, count), true)? {
            let opened = Opened {
                launch,
                id: *id,
                count,
            };
            return Ok((opened, record));
        }
        match find_count(&launch, id)? {
            Some(found) if found != count => count = found,
            _ => return Err(gone()),
        }
    }
}

fn dead(name: String, reason: Expired) -> Error {
    Error::KeysExpired { name, reason }
}

/// Opens the launch record the keys name and its credentials, and, when
/// `consume`, spends one of its uses before returning them. Fails unless
/// the keys authenticate the record, the deadline has not passed, a use is
/// left, and the account is as it was when the record was issued (the
/// store's entry of it, read by `account`, has the same tags).
pub(crate) fn open(
    store: &Path,
    keys: &Keys,
    consume: bool,
    account: impl FnOnce(&RecordId) -> Result<Option<(String, [u8; 2 * TAG_LEN])>, Error>,
) -> Result<(String, Credentials), Error> {
    let id = keys.record_id();
    let (mut opened, record) = open_record(store, &id)?;
    file::harden_process();
    let binding = record.binding(&id);
    let open_field = |field, sealed: &Sealed, key: &Key| {
        let secret = key.secret();
        seal::open(&binding, field, sealed, &secret.pad, &secret.mac_key)
    };
    let mut username = open_field(Field::Username, &record.username, keys.user())?;
    let mut password = open_field(Field::Password, &record.password, keys.pass())?;
    let alive = |count: u32| {
        let now = clock::now()?;
        if now > record.not_after {
            let not_after = record.not_after;
            Err(dead(
                String::new(),
                Expired::LaunchExpired { not_after, now },
            ))
        } else if count >= record.uses {
            let uses = record.uses;
            Err(dead(String::new(), Expired::LaunchUsedUp { uses }))
        } else {
            Ok(())
        }
    };
    alive(opened.count)?;
    let name = match account(&record.account)? {
        Some((name, tags)) if tags == record.account_tags => name,
        Some((name, _)) => return Err(dead(name, Expired::LaunchRevoked)),
        None => return Err(dead(String::new(), Expired::LaunchRevoked)),
    };
    if consume {
        spend(&mut opened, alive).map_err(|e| match e {
            Error::KeysExpired { reason, .. } => dead(name.clone(), reason),
            e => e,
        })?;
    }
    Ok((
        name,
        Credentials::new(
            std::mem::take(&mut *username),
            std::mem::take(&mut *password),
        ),
    ))
}

/// Spends one use of an opened record: renames `<id>.<k>` to
/// `<id>.<k+1>`, and when another reader renamed it first, finds the new
/// `k`, checks with `alive` that a use is left, and tries again. Fails as
/// gone when the record was removed meanwhile: a reader that opened it
/// before a clean-up removed it finds nothing to rename.
fn spend(opened: &mut Opened, alive: impl Fn(u32) -> Result<(), Error>) -> Result<(), Error> {
    loop {
        let from = record_name(&opened.id, opened.count);
        let to = record_name(&opened.id, opened.count + 1);
        match opened.launch.rename(&from, &to) {
            Ok(()) => return Ok(()),
            // Another reader spent use `count + 1` first; the record under
            // its new name is the same file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match find_count(&opened.launch, &opened.id)? {
                    Some(count) => opened.count = count,
                    None => return Err(dead(String::new(), Expired::LaunchGone)),
                }
                alive(opened.count)?;
            }
            Err(e) => return Err(Error::io("spending a use of", opened.launch.join(&from), e)),
        }
    }
}

/// The launch directory of a store a writer has checked: created (mode
/// 0700, the store's owner) when missing and `create`, `None` when missing
/// otherwise; never through a link, and refused unless private.
fn launch_dir_of(target: &Target, create: bool) -> Result<Option<Dir>, Error> {
    let mut name = target.name().to_os_string();
    name.push(".launch");
    let path = target.path.with_file_name(&name);
    #[cfg(unix)]
    let opened = {
        use rustix::fs::{Mode, OFlags};
        if create {
            match rustix::fs::mkdirat(target.dir_fd(), &name, Mode::from_raw_mode(0o700)) {
                Ok(()) => give_to_owner(target, &path, |owner, group| {
                    rustix::fs::chownat(
                        target.dir_fd(),
                        &name,
                        Some(rustix::fs::Uid::from_raw(owner)),
                        Some(rustix::fs::Gid::from_raw(group)),
                        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(io::Error::from)
                })?,
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(Error::io("creating the directory", &path, e.into()));
                }
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(target.dir_fd(), &name, flags, Mode::empty())
            .map(|fd| Dir::from_file(std::fs::File::from(fd), path.clone()))
            .map_err(|e| Refused::from(io::Error::from(e)))
    };
    #[cfg(not(unix))]
    let opened = {
        if create {
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io("creating the directory", &path, e)),
            }
        }
        Dir::open(&path)
    };
    let dir = match opened {
        Ok(dir) => dir,
        Err(Refused::Missing) => return Ok(None),
        Err(why) => return Err(refused(path, why, "opening")),
    };
    check_writable_by_owner(target, &dir)?;
    Ok(Some(dir))
}

/// A writer's rule for the launch directory: private, and the store
/// owner's (root writes for the owner, who consumes).
fn check_writable_by_owner(target: &Target, dir: &Dir) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = dir
            .metadata()
            .map_err(|e| Error::io("reading the metadata of", dir.path(), e))?;
        file::check_mode(dir.path(), &metadata)?;
        let owner = target.owner().map_or_else(file::euid, |(owner, _)| owner);
        if metadata.uid() != owner {
            return Err(Error::InsecureStore {
                path: dir.path().to_owned(),
                problem: format!(
                    "is owned by user id {}, not by the store's owner (user id {owner})",
                    metadata.uid()
                ),
                fix: format!(
                    "remove it, or have root run 'chown -R {owner} {}'",
                    crate::printable(&dir.path().to_string_lossy())
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (target, dir);
    Ok(())
}

/// Gives a new launch file or directory to the store's owner when root
/// creates it for another user's store.
#[cfg(unix)]
fn give_to_owner(
    target: &Target,
    path: &Path,
    chown: impl FnOnce(u32, u32) -> io::Result<()>,
) -> Result<(), Error> {
    if let (Some((owner, group)), 0) = (target.owner(), file::euid()) {
        if (owner, group) != (0, rustix::process::getegid().as_raw()) {
            return chown(owner, group)
                .map_err(|e| Error::io("handing to the store's owner", path, e));
        }
    }
    Ok(())
}

/// A launch record written under its pending name, `<id>.new`, not yet in
/// effect: [`Staged::commit`] renames it to `<id>.0`; dropping it removes it.
pub(crate) struct Staged {
    launch: Dir,
    id: RecordId,
    committed: bool,
}

impl Staged {
    /// Puts the launch record in effect: from now on its keys open it.
    pub(crate) fn commit(mut self) -> Result<(), Error> {
        let live = record_name(&self.id, 0);
        self.launch
            .rename(&pending_name(&self.id), &live)
            .map_err(|source| Error::LaunchNotCommitted {
                path: self.launch.join(&live),
                source,
            })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.launch.remove_file(&pending_name(&self.id));
        }
    }
}

/// The account a launch record is issued for: its id, name, tags (which
/// the record binds) and not-after time (which the record's cannot pass).
pub(crate) struct Account<'a> {
    pub(crate) id: &'a RecordId,
    pub(crate) name: &'a str,
    pub(crate) tags: [u8; 2 * TAG_LEN],
    pub(crate) not_after: Option<u64>,
}

/// Issues a launch record for `account`, whose credentials and width are
/// given, in the launch directory of `target`, after removing the dead
/// records there. The record is written, not yet in effect. Its keys open
/// it until the end of the second `ttl - 1` seconds after this one, so for
/// between `ttl - 1` and `ttl` seconds, never longer; and not after the
/// account expires.
pub(crate) fn issue(
    target: &Target,
    account: Account<'_>,
    credentials: &Credentials,
    width: usize,
    limits: LaunchLimits,
) -> Result<(LaunchKeys, Staged), Error> {
    limits.check()?;
    let Account {
        id: account_id,
        name,
        tags: account_tags,
        not_after: account_not_after,
    } = account;
    let launch = launch_dir_of(target, true)?.expect("created when missing");
    let issued = clock::now()?;
    let _ = clean_up(&launch, issued, None);
    let id = RecordId::random()?;
    let not_after = (issued + limits.ttl.as_secs() - 1).min(account_not_after.unwrap_or(u64::MAX));
    let binding = seal::LaunchBinding {
        launch: &id,
        account: account_id,
        account_tags: &account_tags,
        issued,
        not_after,
        uses: limits.uses,
    };
    let seal_field = |field, value: &str| seal::seal(&binding, field, width, value.as_bytes());
    let (username, user_secret) = seal_field(Field::Username, credentials.username())?;
    let (password, pass_secret) = seal_field(Field::Password, credentials.password())?;
    let record = LaunchRecord {
        account: *account_id,
        account_tags,
        width,
        issued,
        not_after,
        uses: limits.uses,
        username,
        password,
    };
    let keys = Keys::new(
        Key::of_kind(KeyKind::Launch, Field::Username, id, user_secret),
        Key::of_kind(KeyKind::Launch, Field::Password, id, pass_secret),
    )?;
    let pending = pending_name(&id);
    let file_path = launch.join(&pending);
    let mut file = launch.create(&pending).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Error::UnsafeFile {
                path: file_path.clone(),
                problem: "appeared under the fresh name of a new launch record",
            }
        } else {
            Error::io("creating", &file_path, e)
        }
    })?;
    let staged = Staged {
        launch,
        id,
        committed: false,
    };
    #[cfg(unix)]
    give_to_owner(target, &file_path, |o, g| {
        staged.launch.chown(&pending, o, g)
    })?;
    file.write_all(&record::encode(&record))
        .map_err(|e| Error::io("writing", &file_path, e))?;
    let issued_keys = LaunchKeys {
        account: name.to_owned(),
        keys,
        uses: record.uses,
        not_after: record.not_after,
    };
    Ok((issued_keys, staged))
}

/// Whether a committed record is dead: used up, expired, unreadable, or —
/// when the accounts' current tags are known — revoked.
fn is_dead(
    record: Result<Option<&LaunchRecord>, &Error>,
    count: u32,
    now: u64,
    accounts: Option<&CurrentTags>,
) -> Option<bool> {
    match record {
        // A record of a later version is that version's to judge.
        Err(Error::LaunchRecordCorrupt { reason, .. }) if reason.contains("format version") => None,
        Err(Error::LaunchRecordCorrupt { .. }) => Some(true),
        // A link, a file it may not read: not its to judge. A file gone
        // since it was listed: renamed by a reader, judged under that name.
        Err(_) | Ok(None) => None,
        Ok(Some(r)) => Some(
            count >= r.uses
                || now > r.not_after
                || accounts.is_some_and(|a| a.get(&r.account) != Some(&r.account_tags)),
        ),
    }
}

/// Removes every dead launch record in `launch` (of the names given, or of
/// all it holds) and returns how many it removed. A reader still holding a
/// record that is removed finds no file to rename, and spends nothing.
/// Entries otp-link does not write, links among them, are left alone,
/// never followed.
fn clean_up(
    launch: &Dir,
    now: u64,
    accounts: Option<(&CurrentTags, &[String])>,
) -> Result<usize, Error> {
    let names = match accounts {
        Some((_, names)) => names.to_vec(),
        None => launch
            .names()
            .map_err(|e| Error::io("listing", launch.path(), e))?,
    };
    let tags = accounts.map(|(tags, _)| tags);
    let mut removed = 0;
    for name in names {
        let dead = match parse_name(&name) {
            None => continue,
            Some(Name::Pending) => match read_record(launch, &name, false) {
                Ok(Some(r)) => now > r.not_after,
                // Unreadable as a record: its issuer may still be writing
                // it, or was killed while it did.
                Err(Error::LaunchRecordCorrupt { .. }) => launch
                    .modified(&name)
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age > PENDING_GRACE),
                Ok(None) | Err(_) => continue,
            },
            Some(Name::Record(_, count)) => {
                let record = read_record(launch, &name, false);
                match is_dead(record.as_ref().map(Option::as_ref), count, now, tags) {
                    Some(dead) => dead,
                    None => continue,
                }
            }
        };
        if dead && remove_record(launch, &name).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes a dead record's file, and again under its new name as often as
/// a reader renames it meanwhile (only readers that checked it alive
/// before it died can).
fn remove_record(launch: &Dir, name: &str) -> io::Result<()> {
    let Some(Name::Record(id, _)) = parse_name(name) else {
        return launch.remove_file(name);
    };
    let mut name = name.to_owned();
    for _ in 0..8 {
        match launch.remove_file(&name) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match find_count(launch, &id).map_err(|e| io::Error::other(e.to_string()))? {
                    Some(count) => name = record_name(&id, count),
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("a record kept being renamed"))
}

/// Removes every dead launch record of the store whose write target is
/// `target`: used up, expired, unreadable, or revoked (its account's tags,
/// which `current` reads from the store, differ or the account is gone).
/// Only records that existed before the store was read are judged, so that
/// one issued from a newer store is never taken for revoked.
pub(crate) fn prune(
    target: &Target,
    current: impl FnOnce() -> Result<CurrentTags, Error>,
) -> Result<usize, Error> {
    let Some(launch) = launch_dir_of(target, false)? else {
        return Ok(0);
    };
    let names = launch
        .names()
        .map_err(|e| Error::io("listing", launch.path(), e))?;
    let tags = current()?;
    clean_up(&launch, clock::now()?, Some((&tags, &names)))
}

/// How many live launch records each account has: not used up, not
/// expired, and bound to the account's current tags (`current`). Records
/// that cannot be read are not counted.
pub(crate) fn outstanding(
    store: &Path,
    current: &CurrentTags,
) -> Result<HashMap<RecordId, usize>, Error> {
    let mut counts = HashMap::new();
    let path = launch_dir_path(store);
    let launch = match Dir::open(&path) {
        Ok(dir) => dir,
        Err(Refused::Missing) => return Ok(counts),
        Err(why) => return Err(refused(path, why, "opening")),
    };
    let names = launch
        .names()
        .map_err(|e| Error::io("listing", launch.path(), e))?;
    let now = clock::now()?;
    for name in &names {
        let Some(Name::Record(_, count)) = parse_name(name) else {
            continue;
        };
        if let Ok(Some(record)) = read_record(&launch, name, false) {
            if is_dead(Ok(Some(&record)), count, now, Some(current)) == Some(false) {
                *counts.entry(record.account).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Pending, Store};

    fn creds() -> Credentials {
        Credentials::new("scott".into(), "tiger".into())
    }

    /// A store with one account, and the account's keys.
    fn account() -> (tempfile::TempDir, Store, Keys) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("store.cbor"));
        let keys = store
            .secure_account("db", &creds(), 25)
            .and_then(Pending::commit)
            .unwrap();
        (dir, store, keys)
    }

    fn issue(store: &Store, keys: &Keys, uses: u32) -> LaunchKeys {
        let limits = LaunchLimits {
            uses,
            ..LaunchLimits::default()
        };
        store.issue(keys, limits).and_then(Pending::commit).unwrap()
    }

    fn reason<T>(result: Result<T, Error>) -> Option<Expired> {
        match result {
            Err(Error::KeysExpired { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn only_canonical_counts_and_ids_are_record_names() {
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("17"), Some(17));
        for bad in [
            "",
            "00",
            "01",
            "-1",
            "+1",
            "1a",
            " 1",
            ".nfs0001",
            "99999999999",
        ] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
        let id = "0123456789abcdef0123456789abcdef";
        assert!(parse_id(id).is_some());
        for bad in [
            &id[1..],
            &id.to_uppercase(),
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(parse_id(bad).is_none(), "{bad:?}");
        }
    }

    /// A reader that opened a record just before a clean-up removed it finds
    /// nothing to rename, and spends nothing.
    #[test]
    fn a_reader_holding_a_record_that_a_clean_up_removes_spends_nothing() {
        let (_dir, store, keys) = account();
        let launch = issue(&store, &keys, 1);
        let (mut opened, record) = open_record(store.path(), &launch.keys.record_id()).unwrap();
        assert_eq!((opened.count, record.uses), (0, 1));
        let launch_dir = Dir::open(&launch_dir_path(store.path())).ok().unwrap();
        remove_record(&launch_dir, &record_name(&launch.keys.record_id(), 0)).unwrap();
        assert_eq!(
            reason(spend(&mut opened, |_| Ok(()))),
            Some(Expired::LaunchGone)
        );
        assert_eq!(
            reason(store.recover(&launch.keys)),
            Some(Expired::LaunchGone)
        );
    }

    /// Threads of one process racing to spend the last use of one record
    /// (the 16-process race is in tests/tests/launch.rs): one wins.
    #[test]
    fn of_many_spenders_of_one_use_exactly_one_wins() {
        let (_dir, store, keys) = account();
        for uses in [1, 3] {
            let launch = issue(&store, &keys, uses);
            let won: usize = std::thread::scope(|scope| {
                let spenders: Vec<_> = (0..16)
                    .map(|_| scope.spawn(|| store.recover(&launch.keys).is_ok()))
                    .collect();
                spenders
                    .into_iter()
                    .map(|s| usize::from(s.join().unwrap()))
                    .sum()
            });
            assert_eq!(won, uses as usize);
            assert_eq!(
                reason(store.recover(&launch.keys)),
                Some(Expired::LaunchUsedUp { uses })
            );
        }
    }

    #[test]
    fn verify_spends_nothing_and_a_dropped_issue_leaves_nothing() {
        let (dir, store, keys) = account();
        let launch = issue(&store, &keys, 1);
        for _ in 0..3 {
            assert_eq!(store.verify(&launch.keys).unwrap(), "db");
        }
        assert_eq!(store.recover(&launch.keys).unwrap().password(), "tiger");
        assert!(store.verify(&launch.keys).is_err());
        let pending = store.issue(&keys, LaunchLimits::default()).unwrap();
        assert_eq!(
            reason(store.recover(&pending.value().keys)),
            Some(Expired::LaunchGone),
            "a launch record in effect before its commit"
        );
        drop(pending);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("store.cbor.launch"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        // The spent record went with the second issue's clean-up, and the
        // discarded one with its drop.
        assert!(left.is_empty(), "{left:?}");
    }

    /// `issue` removes used-up records and keeps live ones; a pending one
    /// is kept while its issuer may still be writing it.
    #[test]
    fn issue_removes_used_up_records_and_keeps_live_and_pending_ones() {
        let (dir, store, keys) = account();
        let spent = issue(&store, &keys, 1);
        store.recover(&spent.keys).unwrap();
        let live = issue(&store, &keys, 2);
        let launch_dir = dir.path().join("store.cbor.launch");
        // A pending record its issuer is still writing: empty so far.
        let pending = launch_dir.join("0123456789abcdef0123456789abcdef.new");
        std::fs::write(&pending, b"").unwrap();
        let _third = issue(&store, &keys, 1);
        let id = |l: &LaunchKeys, k| launch_dir.join(record_name(&l.keys.record_id(), k));
        assert!(!id(&spent, 1).exists());
        assert!(id(&live, 0).exists());
        assert!(pending.exists(), "a fresh pending record was removed");
        assert_eq!(store.recover(&live.keys).unwrap().username(), "scott");
        let infos = store.accounts().unwrap();
        assert_eq!(infos[0].launch_records, 2);
    }

    /// Launch keys never outlive the account they open.
    #[test]
    fn launch_keys_of_an_expiring_account_expire_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("store.cbor"));
        let not_after = clock::now().unwrap() + 100;
        let keys = store
            .secure_account_expiring("db", &creds(), 25, Some(not_after))
            .and_then(Pending::commit)
            .unwrap();
        let limits = LaunchLimits {
            uses: 1,
            ttl: MAX_TTL,
        };
        let launch = store
            .issue(&keys, limits)
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(launch.not_after, not_after);
        let short = LaunchLimits {
            uses: 1,
            ttl: Duration::from_secs(10),
        };
        let launch = store.issue(&keys, short).and_then(Pending::commit).unwrap();
        assert!(launch.not_after < not_after);
    }

    #[test]
    fn limits_outside_their_bounds_are_refused_before_anything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("missing.cbor"));
        let (_d, _s, keys) = account();
        for (uses, ttl) in [(0, 60), (MAX_USES + 1, 60), (1, 0), (1, 7 * 86_400 + 1)] {
            let limits = LaunchLimits {
                uses,
                ttl: Duration::from_secs(ttl),
            };
            let err = store.issue(&keys, limits).unwrap_err();
            assert!(matches!(err, Error::InvalidLaunchLimits { .. }), "{err:?}");
            assert_eq!(err.exit_code(), 2);
        }
        let launch = {
            let (_d2, s2, k2) = account();
            issue(&s2, &k2, 1).keys
        };
        for err in [
            store.issue(&launch, LaunchLimits::default()).unwrap_err(),
            store.rotate(&launch).unwrap_err(),
        ] {
            assert!(matches!(err, Error::AccountKeysNeeded { .. }), "{err:?}");
            assert_eq!(err.exit_code(), 3);
        }
    }
}
