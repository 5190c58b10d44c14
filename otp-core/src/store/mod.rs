//! The store: named accounts, each two sealed values, in one CBOR file.
//!
//! [`Store`] is a handle to a path. Reading methods load the file, find the
//! one account they need and decode only that; writing methods take the
//! writers' lock, re-read the file under it, change it and write the new
//! store beside it, returning a [`Pending`] change. The caller delivers the
//! keys the change issues and then commits it, so that at every instant
//! some key pair the caller holds opens each account: the old keys until the
//! rename, the new ones (already delivered) after it. Concurrent writers lose
//! nothing, and a failed command leaves the store as it was.
//!
//! Launch records ([`Store::issue`], module `launch`) live beside the store,
//! in a directory of their own, so that issuing and spending them never
//! rewrites it.

mod file;
pub(crate) mod format;
pub(crate) mod launch;
mod scan;

pub use file::harden_process;
pub use launch::{LaunchKeys, LaunchLimits, MAX_TTL, MAX_USES};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::clock::{self, now_or_epoch};
use crate::key::{Key, KeyKind, Keys};
use crate::primitives::{Field, RecordId};
use crate::seal::{self, Sealed};
use crate::{Credentials, Error, Expired};
use format::{Entry, FormatError, Record};
use scan::{FoundEntry, ScanError};

/// What `list` shows of an account: never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account's name, a label chosen by the administrator.
    pub name: String,
    /// Its record id, which its keys carry (not a secret).
    pub record_id: RecordId,
    /// The frame width W: values of up to W-2 bytes fit.
    pub width: usize,
    /// When the account was first secured, in seconds since the Unix epoch.
    pub created: u64,
    /// When its keys were last re-issued (rotate or replace), if ever.
    pub rotated: Option<u64>,
    /// The last second at which it opens, if it expires: its keys open it
    /// up to and including this time, seconds since the Unix epoch.
    pub not_after: Option<u64>,
    /// How many of its launch records are outstanding: not used up, not
    /// expired, and issued since the account was last rotated or replaced.
    pub launch_records: usize,
}

impl AccountInfo {
    /// Whether the account has expired at `now` (seconds since the epoch):
    /// it has a not-after time and `now` is past it.
    pub fn expired_at(&self, now: u64) -> bool {
        self.not_after.is_some_and(|t| now > t)
    }
}

/// What a writer that re-seals an existing account (`replace`, `rotate`)
/// does with its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Keep the account's not-after time, or its lack of one. Refused when
    /// the time has passed: the new keys would open nothing.
    Keep,
    /// Remove it: the account no longer expires.
    Never,
    /// Set it, in seconds since the Unix epoch: the account opens up to and
    /// including that second. Must be in the future.
    NotAfter(u64),
}

impl Expiry {
    /// The not-after time the account gets, given the one it has.
    fn apply(self, current: Option<u64>) -> Option<u64> {
        match self {
            Expiry::Keep => current,
            Expiry::Never => None,
            Expiry::NotAfter(t) => Some(t),
        }
    }
}

/// What [`Store::prune`] removes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// The accounts that had expired, in store order.
    pub accounts: Vec<PrunedAccount>,
    /// How many dead launch records were removed (used up, expired, or
    /// revoked by a rotate, replace or remove). They are removed at once,
    /// before the change is committed: nothing could open them.
    pub launch_records: usize,
}

impl Pruned {
    /// Whether there is nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.launch_records == 0
    }
}

/// An expired account that [`Store::prune`] removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunedAccount {
    /// Its name.
    pub name: String,
    /// Its record id.
    pub record_id: RecordId,
    /// When it expired.
    pub not_after: u64,
}

/// What `list` shows of a store: its accounts, and the SHA-256 of the
/// exact bytes they were read from, so that a deployment can check that
/// every host holds the store it should.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listing {
    /// Every account, in store order.
    pub accounts: Vec<AccountInfo>,
    /// SHA-256 of the store file's bytes as read (what `sha256sum` prints).
    pub sha256: [u8; 32],
}

/// What [`Store::export`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exported {
    /// How many accounts the new store holds.
    pub accounts: usize,
    /// SHA-256 of the new store file.
    pub sha256: [u8; 32],
}

/// Who decrypts from the store: a reader (recover, verify, exec), or a
/// writer whose right to the store was checked before (`issue`, which root
/// may run for another user's store as it may `rotate` it).
#[derive(Clone, Copy)]
enum Reading {
    Reader,
    Writer,
}

/// A store file, named by its path.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

impl Store {
    /// The store at `path`: the one way to name a store. Does no I/O; the
    /// file need not exist yet. Readers then report [`Error::StoreMissing`],
    /// and securing an account creates it (mode 0600, with missing parent
    /// directories mode 0700). For the default location, pass
    /// [`default_store_path`](crate::default_store_path)`()?`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Store { path: path.into() }
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn format_error(&self, e: FormatError) -> Error {
        match e {
            FormatError::Corrupt(reason) => Error::corrupt(&self.path, reason),
            FormatError::Version(version) => Error::UnsupportedVersion {
                path: self.path.clone(),
                version,
            },
        }
    }

    /// Every account's name, width and times, in store order.
    pub fn accounts(&self) -> Result<Vec<AccountInfo>, Error> {
        self.list().map(|listing| listing.accounts)
    }

    /// Every account's name, width and times, in store order, and the
    /// SHA-256 of the bytes they were read from.
    pub fn list(&self) -> Result<Listing, Error> {
        let bytes = file::read_store(&self.path, file::MAX_REPAIR_BYTES)?;
        let entries = format::parse_header(&bytes.bytes)
            .and_then(|a| a.collect_all())
            .map_err(|e| self.format_error(e))?;
        let mut tags = HashMap::with_capacity(entries.len());
        let mut infos = entries
            .iter()
            .map(|entry| {
                let record =
                    format::decode_record(entry.record).map_err(|e| self.format_error(e))?;
                tags.insert(
                    entry.id,
                    launch::account_tags(&record.username, &record.password),
                );
                Ok(AccountInfo {
                    name: entry.name.to_owned(),
                    record_id: entry.id,
                    width: record.width,
                    created: record.created,
                    rotated: record.rotated,
                    not_after: record.not_after,
                    launch_records: 0,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let outstanding = launch::outstanding(&self.path, &tags)?;
        for (info, entry) in infos.iter_mut().zip(&entries) {
            info.launch_records = outstanding.get(&entry.id).copied().unwrap_or(0);
        }
        Ok(Listing {
            accounts: infos,
            sha256: sha256(&bytes.bytes),
        })
    }

    /// Writes a new store at `output` holding only the accounts named, their
    /// entries copied byte for byte (in this store's order, each once), so
    /// that their keys open them there and no other key does. Nothing is
    /// decrypted and no key is issued.
    ///
    /// Refuses, writing nothing: a name this store lacks
    /// ([`Error::UnknownAccount`], the first such name), an `output` that
    /// exists unless `replace` ([`Error::OutputExists`]; with `replace` it
    /// must be an otp-link store), that is a symbolic link
    /// ([`Error::UnsafeFile`]) or that is this store
    /// ([`Error::ExportOverSource`]). The new file is written as every
    /// writer writes: a temporary file beside it, mode 0600, synced, and
    /// renamed into place (never over a file that appeared meanwhile,
    /// unless `replace`), under the lock `output.lock`.
    pub fn export<'n>(
        &self,
        names: impl IntoIterator<Item = &'n str>,
        output: &Path,
        replace: bool,
    ) -> Result<Exported, Error> {
        let bytes = file::read_store(&self.path, file::MAX_REPAIR_BYTES)?;
        let entries = format::parse_header(&bytes.bytes)
            .and_then(|a| a.collect_all())
            .map_err(|e| self.format_error(e))?;
        let present: HashSet<&str> = entries.iter().map(|e| e.name).collect();
        let mut wanted: HashSet<&str> = HashSet::new();
        for name in names {
            if !present.contains(name) {
                return Err(Error::UnknownAccount {
                    name: name.to_owned(),
                    path: self.path.clone(),
                });
            }
            wanted.insert(name);
        }
        let kept: Vec<&format::Entry<'_>> =
            entries.iter().filter(|e| wanted.contains(e.name)).collect();
        // The version the kept accounts call for: a host store cut from a
        // version 2 store of which no kept account expires is version 1.
        let version = format::version_for(kept.iter().any(|e| e.expires));
        let encoded = format::encode_store(kept.iter().map(|e| e.raw), version);
        let size = encoded.len() as u64;
        if size > format::MAX_STORE_BYTES {
            return Err(Error::StoreTooLarge {
                path: output.to_owned(),
                size,
                limit: format::MAX_STORE_BYTES,
            });
        }
        file::write_store_file(output, &encoded, replace, (&self.path, &bytes.metadata))?;
        Ok(Exported {
            accounts: kept.len(),
            sha256: sha256(&encoded),
        })
    }

    /// Opens the account the keys belong to and returns its name and
    /// credentials. Refuses a store others could read, and makes the process
    /// non-dumpable before decrypting. An account that has expired is
    /// refused once both its tags have verified ([`Error::KeysExpired`]), so
    /// that a not_after time changed on disk fails authentication instead.
    ///
    /// The store is read through a window ([`file::StoreStream`]) rather
    /// than whole, and always to its end, so the outcome is the same as
    /// reading it whole and then checking it: errors of the read first, then
    /// the permission check, then the first thing wrong with its content.
    fn open_account(&self, keys: &Keys) -> Result<(String, Credentials), Error> {
        self.open_account_windowed(keys, file::WINDOW)
    }

    fn open_account_windowed(
        &self,
        keys: &Keys,
        window: usize,
    ) -> Result<(String, Credentials), Error> {
        let (found, record) = self.find(keys.record_id(), window, Reading::Reader)?;
        file::harden_process();
        let credentials = open_record(&found.id, &found.name, &record, keys)?;
        check_expiry(&found.name, &record, clock::now)?;
        Ok((found.name, credentials))
    }

    /// The account of record id `id` and its decoded record, read as
    /// `recover` reads the store (through a window, to its end, refusing a
    /// store others could read, and for a reader one of another owner);
    /// [`Error::UnknownRecord`] when it has none.
    fn find(
        &self,
        id: RecordId,
        window: usize,
        reading: Reading,
    ) -> Result<(FoundEntry, Record), Error> {
        let open = || file::StoreStream::open(&self.path, window);
        let (mut stream, scanned) = scan::find_entry(open, id)?;
        let scanned = match scanned {
            Ok(found) => Ok(found),
            Err(ScanError::Read(e)) => return Err(e),
            Err(ScanError::Store(e)) => {
                stream.drain()?;
                Err(self.format_error(e))
            }
        };
        match reading {
            Reading::Reader => stream.check_private(&self.path)?,
            Reading::Writer => stream.check_mode(&self.path)?,
        }
        self.decode_found(scanned?)
    }

    /// Opens the launch record the launch keys name, and spends one of its
    /// uses when `consume`: its account's name and credentials. Its account
    /// must still be as it was when the launch record was issued, and not
    /// expired.
    fn open_launch(&self, keys: &Keys, consume: bool) -> Result<(String, Credentials), Error> {
        launch::open(&self.path, keys, consume, |account| {
            match self.find(*account, file::WINDOW, Reading::Reader) {
                Ok((found, record)) => {
                    check_expiry(&found.name, &record, clock::now)?;
                    let tags = launch::account_tags(&record.username, &record.password);
                    Ok(Some((found.name, tags)))
                }
                Err(Error::UnknownRecord { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// The account a scan found and its decoded record, or
    /// [`Error::UnknownRecord`] when it found none.
    fn decode_found(&self, found: Option<FoundEntry>) -> Result<(FoundEntry, Record), Error> {
        let found = found.ok_or_else(|| Error::UnknownRecord {
            path: self.path.clone(),
        })?;
        let record = format::decode_record(&found.record).map_err(|e| self.format_error(e))?;
        Ok((found, record))
    }

    /// What [`Store::recover`] gives when the store's file holds `bytes`
    /// and is private, read through a window of `window` bytes, and the
    /// clock reads `now` (the system clock when `None`): the same scan over
    /// bytes in memory (errors name this store's path). The process is not
    /// made non-dumpable, which would stop LeakSanitizer.
    #[cfg(any(test, feature = "test-vectors"))]
    pub(crate) fn open_account_in(
        &self,
        bytes: &[u8],
        window: usize,
        keys: &Keys,
        now: Option<u64>,
    ) -> Result<(String, Credentials), Error> {
        if bytes.len() as u64 > format::MAX_STORE_BYTES {
            return Err(Error::corrupt(
                &self.path,
                "it is larger than the 64 MiB limit",
            ));
        }
        let open = || Ok(scan::MemoryStream::open(bytes, window));
        let (_, scanned) = scan::find_entry(open, keys.record_id())?;
        let found = scanned.map_err(|e| match e {
            ScanError::Read(e) => e,
            ScanError::Store(e) => self.format_error(e),
        })?;
        let (found, record) = self.decode_found(found)?;
        let credentials = open_record(&found.id, &found.name, &record, keys)?;
        check_expiry(&found.name, &record, || now.map_or_else(clock::now, Ok))?;
        Ok((found.name, credentials))
    }

    /// The credentials the keys open; [`Error::KeysExpired`] once the
    /// account has expired. Launch keys ([`Store::issue`]) open them only
    /// while a use is left and their not-after time has not passed, and
    /// spend a use first: [`Error::KeysExpired`] once they cannot.
    pub fn recover(&self, keys: &Keys) -> Result<Credentials, Error> {
        self.open(keys).map(|(_, credentials)| credentials)
    }

    /// The name of the account the keys open, and its credentials: what
    /// [`Store::recover`] and [`Store::verify`] give, in one read. Launch
    /// keys spend a use, as for [`Store::recover`].
    pub fn open(&self, keys: &Keys) -> Result<(String, Credentials), Error> {
        match keys.kind() {
            KeyKind::Account => self.open_account(keys),
            KeyKind::Launch => self.open_launch(keys, true),
        }
    }

    /// The name of the account the keys open; fails exactly where
    /// [`Store::recover`] fails, expiry included. Launch keys are checked,
    /// not spent: this hands out no credentials.
    pub fn verify(&self, keys: &Keys) -> Result<String, Error> {
        match keys.kind() {
            KeyKind::Account => self.open_account(keys),
            KeyKind::Launch => self.open_launch(keys, false),
        }
        .map(|(name, _)| name)
    }

    /// Issues launch keys for the account the keys open: its credentials
    /// sealed again, under fresh pads and one-time MAC keys, into a launch
    /// record beside the store, which the launch keys open at most
    /// `limits.uses` times and not once `limits.ttl` has passed. The store
    /// itself is only read. Deliver the keys, then commit the change; until
    /// then they open nothing. Dead launch records (used up, expired) are
    /// removed first.
    ///
    /// Rotating, replacing or removing the account revokes its launch keys.
    pub fn issue(&self, keys: &Keys, limits: LaunchLimits) -> Result<Pending<LaunchKeys>, Error> {
        if keys.kind() == KeyKind::Launch {
            return Err(Error::AccountKeysNeeded {
                command: "issue launch keys",
            });
        }
        limits.check()?;
        let target = file::target_for_write(&self.path, false)?;
        let (found, record) = self.find(keys.record_id(), file::WINDOW, Reading::Writer)?;
        file::harden_process();
        let credentials = open_record(&found.id, &found.name, &record, keys)?;
        check_expiry(&found.name, &record, clock::now)?;
        let account = launch::Account {
            id: &found.id,
            name: &found.name,
            tags: launch::account_tags(&record.username, &record.password),
            not_after: record.not_after,
        };
        let (value, staged) = launch::issue(&target, account, &credentials, record.width, limits)?;
        Ok(Pending {
            value,
            staged: Some(Staged::Launch(staged)),
        })
    }

    /// Removes every dead launch record: used up, expired, unreadable, or
    /// revoked (its account rotated, replaced or removed). Returns how many
    /// it removed. The store is only read.
    fn prune_launch_records(&self) -> Result<usize, Error> {
        let target = file::target_for_write(&self.path, false)?;
        launch::prune(&target, || {
            let bytes = file::read_store(&self.path, file::MAX_REPAIR_BYTES)?;
            let entries = format::parse_header(&bytes.bytes)
                .and_then(|a| a.collect_all())
                .map_err(|e| self.format_error(e))?;
            let mut tags = HashMap::with_capacity(entries.len());
            for entry in &entries {
                let record =
                    format::decode_record(entry.record).map_err(|e| self.format_error(e))?;
                tags.insert(
                    entry.id,
                    launch::account_tags(&record.username, &record.password),
                );
            }
            Ok(tags)
        })
    }

    /// Secures a new account: seals both values under fresh pads and
    /// returns the change with the keys, to deliver before committing it.
    /// Refuses a name that exists ([`Error::AccountExists`]), a name with
    /// control or format characters, and values that do not fit or hold a
    /// NUL byte. Creates the store when missing.
    pub fn secure_account(
        &self,
        name: &str,
        credentials: &Credentials,
        width: usize,
    ) -> Result<Pending<Keys>, Error> {
        self.secure_account_expiring(name, credentials, width, None)
    }

    /// [`Store::secure_account`] for an account that expires: its keys open
    /// it up to and including `not_after` (seconds since the Unix epoch,
    /// which must be in the future), and fail with [`Error::KeysExpired`]
    /// after. `None` is an account that never expires.
    pub fn secure_account_expiring(
        &self,
        name: &str,
        credentials: &Credentials,
        width: usize,
        not_after: Option<u64>,
    ) -> Result<Pending<Keys>, Error> {
        check_future(not_after)?;
        let pending =
            self.secure_batch_expiring(std::iter::once((name, credentials, not_after)), width);
        match pending {
            Ok(pending) => Ok(pending.map(|mut keys| keys.remove(0))),
            Err(Error::BatchItem { source, .. }) => Err(*source),
            Err(e) => Err(e),
        }
    }

    /// Secures many new accounts in one write, all or nothing: if any name
    /// exists, repeats, or any value is refused, nothing is written and the
    /// error ([`Error::BatchItem`]) says which account it was. The change
    /// holds the keys in input order. Creates the store when missing.
    pub fn secure_batch<'c>(
        &self,
        accounts: impl IntoIterator<Item = (&'c str, &'c Credentials)>,
        width: usize,
    ) -> Result<Pending<Vec<Keys>>, Error> {
        self.secure_batch_expiring(
            accounts
                .into_iter()
                .map(|(name, credentials)| (name, credentials, None)),
            width,
        )
    }

    /// [`Store::secure_batch`] with a not-after time for each account
    /// (`None`: it never expires), as [`Store::secure_account_expiring`].
    pub fn secure_batch_expiring<'c>(
        &self,
        accounts: impl IntoIterator<Item = (&'c str, &'c Credentials, Option<u64>)>,
        width: usize,
    ) -> Result<Pending<Vec<Keys>>, Error> {
        seal::check_width(width)?;
        let created = now_or_epoch();
        self.edit(true, |edit| {
            let mut names: HashSet<String> = edit.entries.iter().map(|e| e.name.clone()).collect();
            let mut ids: HashSet<RecordId> = edit.entries.iter().map(|e| e.id).collect();
            let mut issued = Vec::new();
            for (index, (name, credentials, not_after)) in accounts.into_iter().enumerate() {
                let item = |source| Error::BatchItem {
                    index,
                    source: Box::new(source),
                };
                format::check_new_name(name)
                    .map_err(|reason| item(Error::InvalidAccountName { reason }))?;
                check_values(credentials, width).map_err(item)?;
                check_future(not_after).map_err(item)?;
                if !names.insert(name.to_owned()) {
                    return Err(item(Error::AccountExists {
                        name: name.to_owned(),
                    }));
                }
                let id = fresh_id(&mut ids)?;
                let times = Times {
                    created,
                    rotated: None,
                    not_after,
                };
                let (record, keys) = seal_account(id, name, credentials, width, times)?;
                edit.entries.push(EditEntry::new(id, name, &record));
                issued.push(keys);
            }
            Ok(issued)
        })
    }

    /// Seals new credentials for an existing account (a password change):
    /// new pads, new keys, the old keys fail. Keeps the creation time and
    /// the expiry.
    pub fn replace(
        &self,
        name: &str,
        credentials: &Credentials,
        width: usize,
    ) -> Result<Pending<Keys>, Error> {
        self.replace_expiring(name, credentials, width, Expiry::Keep)
    }

    /// [`Store::replace`], setting, keeping or removing the account's
    /// expiry. An account that has expired may be replaced, when given a
    /// new expiry or none: that is how it is extended.
    pub fn replace_expiring(
        &self,
        name: &str,
        credentials: &Credentials,
        width: usize,
        expiry: Expiry,
    ) -> Result<Pending<Keys>, Error> {
        seal::check_width(width)?;
        check_values(credentials, width)?;
        if let Expiry::NotAfter(t) = expiry {
            check_future(Some(t))?;
        }
        self.edit(false, |edit| {
            let index = edit.by_name(name, &self.path)?;
            let id = edit.entries[index].id;
            let old = edit.entries[index].record(&self.path)?;
            let not_after = expiry.apply(old.not_after);
            check_future(not_after)?;
            let times = Times {
                created: old.created,
                rotated: Some(now_or_epoch()),
                not_after,
            };
            let (record, keys) = seal_account(id, name, credentials, width, times)?;
            edit.entries[index] = EditEntry::new(id, name, &record);
            Ok(keys)
        })
    }

    /// Re-seals the account the keys open under new pads, for the same
    /// credentials, width and expiry; once committed, the old keys fail. The
    /// change holds the account's name and its new keys.
    pub fn rotate(&self, keys: &Keys) -> Result<Pending<(String, Keys)>, Error> {
        self.rotate_expiring(keys, Expiry::Keep)
    }

    /// [`Store::rotate`], setting, keeping or removing the account's expiry.
    /// The keys of an account that has expired still rotate it when given a
    /// new expiry or none: that is how it is extended (whoever holds them
    /// and may write the store could XOR the halves anyway).
    pub fn rotate_expiring(
        &self,
        keys: &Keys,
        expiry: Expiry,
    ) -> Result<Pending<(String, Keys)>, Error> {
        if keys.kind() == KeyKind::Launch {
            return Err(Error::AccountKeysNeeded {
                command: "rotate an account",
            });
        }
        file::check_mode_of(&self.path)?;
        if let Expiry::NotAfter(t) = expiry {
            check_future(Some(t))?;
        }
        self.edit(false, |edit| {
            let index = edit
                .entries
                .iter()
                .position(|e| e.id == keys.record_id())
                .ok_or_else(|| Error::UnknownRecord {
                    path: self.path.clone(),
                })?;
            let (id, name) = (edit.entries[index].id, edit.entries[index].name.clone());
            let record = edit.entries[index].record(&self.path)?;
            file::harden_process();
            let credentials = open_record(&id, &name, &record, keys)?;
            let not_after = expiry.apply(record.not_after);
            check_future(not_after)?;
            let times = Times {
                created: record.created,
                rotated: Some(now_or_epoch()),
                not_after,
            };
            let (new_record, new_keys) =
                seal_account(id, &name, &credentials, record.width, times)?;
            edit.entries[index] = EditEntry::new(id, &name, &new_record);
            Ok((name, new_keys))
        })
    }

    /// Imports an account from a Secure-Python-Link account file: recovers its
    /// values with the old keys and seals them anew, under uniform pads, as a
    /// new account. The old file is only read. Only with the `legacy` feature.
    #[cfg(feature = "legacy")]
    pub fn import_legacy(
        &self,
        file: &Path,
        user_key: &crate::legacy::LegacyKey,
        pass_key: &crate::legacy::LegacyKey,
        name: &str,
        width: usize,
    ) -> Result<Pending<Keys>, Error> {
        self.import_legacy_expiring(file, user_key, pass_key, name, width, None)
    }

    /// [`Store::import_legacy`] into an account that expires at `not_after`
    /// (as [`Store::secure_account_expiring`]). Only with the `legacy`
    /// feature.
    #[cfg(feature = "legacy")]
    pub fn import_legacy_expiring(
        &self,
        file: &Path,
        user_key: &crate::legacy::LegacyKey,
        pass_key: &crate::legacy::LegacyKey,
        name: &str,
        width: usize,
        not_after: Option<u64>,
    ) -> Result<Pending<Keys>, Error> {
        check_future(not_after)?;
        let credentials = crate::legacy::recover_legacy(file, user_key, pass_key)?;
        self.secure_account_expiring(name, &credentials, width, not_after)
    }

    /// Removes an account by name, at once; its keys fail afterwards. Works
    /// on a store that an older otp-link let grow past the size readers
    /// accept, so that it can be shrunk.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        self.stage_remove(name)?.commit().map(drop)
    }

    /// [`Store::remove`] as a [`Pending`] change, holding the removed
    /// account's record id: for a caller that must do something (write an
    /// audit record) between staging the change and putting it in effect.
    pub fn stage_remove(&self, name: &str) -> Result<Pending<RecordId>, Error> {
        self.edit(false, |edit| {
            let index = edit.by_name(name, &self.path)?;
            Ok(edit.entries.remove(index).id)
        })
    }

    /// Removes every account that has expired, so that its ciphertexts are
    /// gone for good: the only way to make an expired account unrecoverable,
    /// since expiry is enforced by otp-link and the clock, not by the
    /// mathematics. The change holds what it removes; commit it. When
    /// nothing has expired it holds nothing, and committing it leaves the
    /// store's file untouched. Each account's not-after time is read from
    /// the store, without its keys.
    ///
    /// Dead launch records are removed too, at once (see
    /// [`Pruned::launch_records`]).
    pub fn prune(&self) -> Result<Pending<Pruned>, Error> {
        let now = clock::now()?;
        let mut pending = self.edit_if(false, |edit| {
            let mut pruned = Pruned::default();
            let mut kept = Vec::with_capacity(edit.entries.len());
            for entry in edit.entries.drain(..) {
                let not_after = if format::record_expires(&entry.record) {
                    entry.record(&self.path)?.not_after
                } else {
                    None
                };
                match not_after {
                    Some(not_after) if now > not_after => pruned.accounts.push(PrunedAccount {
                        name: entry.name.clone(),
                        record_id: entry.id,
                        not_after,
                    }),
                    _ => kept.push(entry),
                }
            }
            edit.entries = kept;
            let changed = !pruned.is_empty();
            Ok((pruned, changed))
        })?;
        pending.value.launch_records = self.prune_launch_records()?;
        Ok(pending)
    }

    /// Runs a change under the writers' lock on a fresh read of the store and
    /// writes the result to a synced temporary file, returned as a
    /// [`Pending`] change; when `change` fails nothing is written.
    ///
    /// Nothing is created beside the store before it is known to be absent
    /// or a regular file that starts like a store ([`file::target_for_write`]).
    /// A result larger than readers accept is refused, unless it shrinks a
    /// store that is already larger.
    fn edit<T>(
        &self,
        create: bool,
        change: impl FnOnce(&mut Edit) -> Result<T, Error>,
    ) -> Result<Pending<T>, Error> {
        self.edit_if(create, |edit| change(edit).map(|value| (value, true)))
    }

    /// [`Store::edit`] for a change that may find nothing to do: when
    /// `change` says so (`false`), nothing is written and the pending change
    /// commits without touching the store.
    fn edit_if<T>(
        &self,
        create: bool,
        change: impl FnOnce(&mut Edit) -> Result<(T, bool), Error>,
    ) -> Result<Pending<T>, Error> {
        let mut target = file::target_for_write(&self.path, create)?;
        let lock = file::lock(&target)?;
        let bytes = match file::read_for_write(&mut target)? {
            Some(bytes) => Some(bytes),
            None if create => None,
            None => {
                return Err(Error::StoreMissing {
                    path: self.path.clone(),
                })
            }
        };
        let entries = match &bytes {
            Some(bytes) => format::parse_header(&bytes.bytes)
                .and_then(|a| a.collect_all())
                .map_err(|e| self.format_error(e))?,
            None => Vec::new(),
        };
        // collect_all has refused repeated names and record ids.
        let mut edit = Edit {
            entries: entries.iter().map(EditEntry::kept).collect(),
        };
        let (value, changed) = change(&mut edit)?;
        if !changed {
            return Ok(Pending {
                value,
                staged: None,
            });
        }
        let version = format::version_for(
            edit.entries
                .iter()
                .any(|e| format::record_expires(&e.record)),
        );
        let encoded = format::encode_store(edit.entries.iter().map(|e| e.raw.as_ref()), version);
        let size = encoded.len() as u64;
        let old_size = bytes.as_ref().map_or(0, |b| b.bytes.len() as u64);
        if size > format::MAX_STORE_BYTES && size >= old_size {
            return Err(Error::StoreTooLarge {
                path: self.path.clone(),
                size,
                limit: format::MAX_STORE_BYTES,
            });
        }
        let staged = Staged::Store(file::stage(&target, &encoded, lock)?);
        Ok(Pending {
            value,
            staged: Some(staged),
        })
    }
}

/// A change to the store, written and synced beside it but not yet in
/// effect; what it issued (keys) is in [`Pending::value`].
///
/// Deliver the keys first — print them, flush, sync — and only then call
/// [`Pending::commit`]: until the commit the old keys keep working, and
/// after it the new ones, which the caller already holds. Dropping a pending
/// change (a failed delivery, a panic) discards it and leaves the store as
/// it was. The writers' lock is held until then, so commit promptly.
#[must_use = "a pending change does nothing until it is committed"]
pub struct Pending<T> {
    value: T,
    /// What the change puts in effect: a new store or a new launch record,
    /// or `None` for a change that changes nothing (a prune of a store where
    /// nothing has expired), which commits without a write.
    staged: Option<Staged>,
}

/// A written change, not yet in effect.
enum Staged {
    Store(file::Staged),
    Launch(launch::Staged),
}

impl Staged {
    fn commit(self) -> Result<(), Error> {
        match self {
            Staged::Store(staged) => staged.commit(),
            Staged::Launch(staged) => staged.commit(),
        }
    }
}

impl<T> Pending<T> {
    /// What the change issues: the keys to deliver before committing.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Puts the change in effect and returns what it issued.
    ///
    /// [`Error::NotCommitted`] means nothing changed (the old keys still
    /// work); [`Error::CommittedUnsynced`] means the change is in effect but
    /// its directory could not be synced.
    pub fn commit(self) -> Result<T, Error> {
        if let Some(staged) = self.staged {
            staged.commit()?;
        }
        Ok(self.value)
    }

    fn map<U>(self, f: impl FnOnce(T) -> U) -> Pending<U> {
        Pending {
            value: f(self.value),
            staged: self.staged,
        }
    }
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending { .. }")
    }
}

/// Refuses a not-after time that is not in the future: keys issued with it
/// would open nothing. Reads the clock only for a time to check.
fn check_future(not_after: Option<u64>) -> Result<(), Error> {
    if let Some(not_after) = not_after {
        let now = clock::now()?;
        if not_after <= now {
            return Err(Error::InvalidExpiry { not_after, now });
        }
    }
    Ok(())
}

/// Refuses an account that has expired: one with a not-after time earlier
/// than the clock's `now()`, which is read only for such an account (so a
/// clock before 1970 stops no account that never expires). The account
/// opens up to and including its not_after second.
fn check_expiry(
    name: &str,
    record: &Record,
    now: impl FnOnce() -> Result<u64, Error>,
) -> Result<(), Error> {
    if let Some(not_after) = record.not_after {
        let now = now()?;
        if now > not_after {
            return Err(Error::KeysExpired {
                name: name.to_owned(),
                reason: Expired::NotAfter { not_after, now },
            });
        }
    }
    Ok(())
}

/// Refuses new values that do not fit the width or that no program could be
/// handed (a NUL byte).
fn check_values(credentials: &Credentials, width: usize) -> Result<(), Error> {
    for (field, value) in [
        ("username", credentials.username()),
        ("password", credentials.password()),
    ] {
        if value.len() > width.saturating_sub(2) {
            return Err(Error::ValueTooLong {
                field,
                len: value.len(),
                width,
            });
        }
        if value.contains('\0') {
            return Err(Error::InvalidValue {
                field,
                reason: "holds a NUL byte",
            });
        }
    }
    Ok(())
}

/// The accounts a writer is changing: kept entries borrow the old bytes.
struct Edit<'a> {
    entries: Vec<EditEntry<'a>>,
}

struct EditEntry<'a> {
    id: RecordId,
    name: String,
    raw: std::borrow::Cow<'a, [u8]>,
    record: std::borrow::Cow<'a, [u8]>,
}

impl<'a> EditEntry<'a> {
    fn kept(entry: &Entry<'a>) -> Self {
        EditEntry {
            id: entry.id,
            name: entry.name.to_owned(),
            raw: entry.raw.into(),
            record: entry.record.into(),
        }
    }

    fn new(id: RecordId, name: &str, record: &Record) -> Self {
        let record = format::encode_record(record);
        EditEntry {
            id,
            name: name.to_owned(),
            raw: format::encode_entry(&id, name, &record).into(),
            record: record.into(),
        }
    }

    /// The decoded record; a corrupt one is reported against `path`, the
    /// store it was read from.
    fn record(&self, path: &Path) -> Result<Record, Error> {
        format::decode_record(&self.record).map_err(|e| match e {
            FormatError::Corrupt(reason) => Error::corrupt(path, reason),
            FormatError::Version(version) => Error::UnsupportedVersion {
                path: path.to_owned(),
                version,
            },
        })
    }
}

impl Edit<'_> {
    fn by_name(&self, name: &str, path: &Path) -> Result<usize, Error> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| Error::UnknownAccount {
                name: name.to_owned(),
                path: path.to_owned(),
            })
    }
}

/// A record id that is not in `taken`, added to it. A set, not a scan of the
/// entries: a batch of n accounts into a store of m stays O(n + m).
fn fresh_id(taken: &mut HashSet<RecordId>) -> Result<RecordId, Error> {
    loop {
        let id = RecordId::random()?;
        if taken.insert(id) {
            return Ok(id);
        }
    }
}

/// An account's times, as its record holds them and its tags bind them.
#[derive(Clone, Copy)]
struct Times {
    created: u64,
    rotated: Option<u64>,
    not_after: Option<u64>,
}

/// Seals both values of an account under fresh pads, bound to its id, name
/// and times.
fn seal_account(
    id: RecordId,
    name: &str,
    credentials: &Credentials,
    width: usize,
    times: Times,
) -> Result<(Record, Keys), Error> {
    let Times {
        created,
        rotated,
        not_after,
    } = times;
    let binding = seal::Binding {
        record: &id,
        name,
        created,
        rotated,
        not_after,
    };
    let (username, user_secret) = seal::seal(
        &binding,
        Field::Username,
        width,
        credentials.username().as_bytes(),
    )?;
    let (password, pass_secret) = seal::seal(
        &binding,
        Field::Password,
        width,
        credentials.password().as_bytes(),
    )?;
    let record = Record {
        width,
        created,
        rotated,
        not_after,
        username,
        password,
    };
    let keys = Keys::new(
        Key::new(Field::Username, id, user_secret),
        Key::new(Field::Password, id, pass_secret),
    )?;
    Ok((record, keys))
}

/// Opens both values of an account; fails unless both tags verify.
fn open_record(
    id: &RecordId,
    name: &str,
    record: &Record,
    keys: &Keys,
) -> Result<Credentials, Error> {
    let binding = seal::Binding {
        record: id,
        name,
        created: record.created,
        rotated: record.rotated,
        not_after: record.not_after,
    };
    let open = |field, sealed: &Sealed, key: &Key| {
        let secret = key.secret();
        seal::open(&binding, field, sealed, &secret.pad, &secret.mac_key)
    };
    let mut username = open(Field::Username, &record.username, keys.user())?;
    let mut password = open(Field::Password, &record.password, keys.pass())?;
    Ok(Credentials::new(
        std::mem::take(&mut *username),
        std::mem::take(&mut *password),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials::new(u.into(), p.into())
    }

    fn private_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("s").join("store.cbor"));
        // An empty store, so tests can compare its bytes before and after.
        store.edit(true, |_| Ok(())).unwrap().commit().unwrap();
        (dir, store)
    }

    #[test]
    fn secure_then_recover_then_rotate_then_remove() {
        let (_dir, store) = private_store();
        let keys = store
            .secure_account("db", &creds("alice", "pä$$ wörd"), 64)
            .and_then(Pending::commit)
            .unwrap();
        let got = store.recover(&keys).unwrap();
        assert_eq!((got.username(), got.password()), ("alice", "pä$$ wörd"));
        assert_eq!(store.verify(&keys).unwrap(), "db");

        let (name, new_keys) = store.rotate(&keys).and_then(Pending::commit).unwrap();
        assert_eq!(name, "db");
        assert!(matches!(
            store.recover(&keys),
            Err(Error::AuthenticationFailed)
        ));
        let got = store.recover(&new_keys).unwrap();
        assert_eq!(got.password(), "pä$$ wörd");
        let info = store.accounts().unwrap();
        assert_eq!(info.len(), 1);
        assert!(info[0].rotated.is_some());

        store.remove("db").unwrap();
        assert!(matches!(
            store.recover(&new_keys),
            Err(Error::UnknownRecord { .. })
        ));
        assert!(matches!(
            store.remove("db"),
            Err(Error::UnknownAccount { .. })
        ));
    }

    #[test]
    fn existing_name_is_refused_and_store_is_unchanged() {
        let (_dir, store) = private_store();
        store
            .secure_account("db", &creds("a", "b"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let before = std::fs::read(store.path()).unwrap();
        assert!(matches!(
            store.secure_account("db", &creds("c", "d"), 25),
            Err(Error::AccountExists { .. })
        ));
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
    }

    #[test]
    fn replace_issues_new_keys_and_old_ones_fail() {
        let (_dir, store) = private_store();
        let old = store
            .secure_account("db", &creds("a", "old"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let new = store
            .replace("db", &creds("a", "new"), 40)
            .and_then(Pending::commit)
            .unwrap();
        assert!(matches!(
            store.recover(&old),
            Err(Error::AuthenticationFailed)
        ));
        assert_eq!(store.recover(&new).unwrap().password(), "new");
        assert_eq!(store.accounts().unwrap()[0].width, 40);
        assert!(matches!(
            store.replace("nope", &creds("a", "b"), 25),
            Err(Error::UnknownAccount { .. })
        ));
    }

    #[test]
    fn batch_is_all_or_nothing() {
        let (_dir, store) = private_store();
        let a = creds("u1", "p1");
        let b = creds("u2", "p2");
        let long = creds("u3", &"x".repeat(30));
        let before = std::fs::read(store.path()).unwrap();
        let err = store
            .secure_batch([("a", &a), ("b", &b), ("c", &long)], 25)
            .unwrap_err();
        let Error::BatchItem { index: 2, source } = err else {
            panic!("not the third item: {err:?}");
        };
        assert!(matches!(*source, Error::ValueTooLong { .. }));
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        assert!(matches!(
            store.secure_batch([("a", &a), ("a", &b)], 25),
            Err(Error::BatchItem { index: 1, source }) if matches!(*source, Error::AccountExists { .. })
        ));
        let keys = store
            .secure_batch([("a", &a), ("b", &b)], 25)
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(store.recover(&keys[1]).unwrap().username(), "u2");
    }

    #[test]
    fn a_pending_change_does_nothing_until_committed() {
        let (_dir, store) = private_store();
        let old = store
            .secure_account("db", &creds("a", "b"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let before = std::fs::read(store.path()).unwrap();
        let pending = store.rotate(&old).unwrap();
        let (name, new) = pending.value();
        assert_eq!(name, "db");
        // Until the commit the old keys open the account and the new do not.
        assert_eq!(store.recover(&old).unwrap().password(), "b");
        assert!(matches!(
            store.recover(new),
            Err(Error::AuthenticationFailed)
        ));
        drop(pending);
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        let tmp = store.path().with_file_name("store.cbor.tmp");
        assert!(!tmp.exists(), "the discarded change left its file");

        let pending = store.rotate(&old).unwrap();
        let (_, new) = pending.commit().unwrap();
        assert!(matches!(
            store.recover(&old),
            Err(Error::AuthenticationFailed)
        ));
        assert_eq!(store.recover(&new).unwrap().password(), "b");
    }

    #[test]
    fn new_values_with_nul_and_new_names_with_format_characters_are_refused() {
        let (_dir, store) = private_store();
        for (u, p, field) in [("a\0b", "pw", "username"), ("user", "p\0", "password")] {
            let err = store.secure_account("db", &creds(u, p), 25).unwrap_err();
            assert!(
                matches!(err, Error::InvalidValue { field: f, .. } if f == field),
                "{err:?}"
            );
            assert_eq!(err.exit_code(), 11);
        }
        for name in ["db\u{202e}", "\u{200b}db", "d\u{feff}b"] {
            let err = store
                .secure_account(name, &creds("u", "p"), 25)
                .unwrap_err();
            assert!(matches!(err, Error::InvalidAccountName { .. }), "{err:?}");
        }
        let keys = store
            .secure_account("db", &creds("u", "p"), 25)
            .and_then(Pending::commit)
            .unwrap();
        assert!(matches!(
            store.replace("db", &creds("u", "\0"), 25),
            Err(Error::InvalidValue { .. })
        ));
        assert_eq!(store.recover(&keys).unwrap().password(), "p");
    }

    #[test]
    fn keys_of_one_account_do_not_open_another() {
        let (_dir, store) = private_store();
        let ka = store
            .secure_account("a", &creds("ua", "pa"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let kb = store
            .secure_account("b", &creds("ub", "pb"), 25)
            .and_then(Pending::commit)
            .unwrap();
        // Each opens its own account and no other.
        assert_eq!(store.recover(&ka).unwrap().username(), "ua");
        assert_eq!(store.recover(&kb).unwrap().username(), "ub");
        // A's pads and MAC keys under B's record id (well-formed keys, as
        // someone who knows A's keys could build them): B stays shut.
        let spliced = |key: &Key, onto: RecordId| {
            let secret = key.secret();
            Key::new(
                key.field(),
                onto,
                crate::primitives::PadMaterial {
                    pad: secret.pad.clone(),
                    mac_key: secret.mac_key.clone(),
                },
            )
        };
        let forged = Keys::new(
            spliced(ka.user(), kb.record_id()),
            spliced(ka.pass(), kb.record_id()),
        )
        .unwrap();
        assert!(matches!(
            store.recover(&forged),
            Err(Error::AuthenticationFailed)
        ));
        // Whole keys of two accounts do not even make a pair.
        use secrecy::ExposeSecret;
        let mixed = Keys::parse(
            ka.user().to_secret_text().expose_secret(),
            kb.pass().to_secret_text().expose_secret(),
        );
        assert!(matches!(mixed, Err(Error::MismatchedKeys { .. })));
    }

    #[cfg(unix)]
    /// How recover read the store before it read through a window: whole,
    /// then checked (structure, and names and record ids that repeat, in
    /// store order), then searched. The windowed reader must agree with it
    /// on every input, error messages included (permissions aside: the
    /// stores below are private).
    fn open_whole(store: &Store, keys: &Keys) -> Result<(String, Credentials), Error> {
        let bytes = file::read_store(&store.path, format::MAX_STORE_BYTES)?;
        let entries = format::parse_header(&bytes.bytes)
            .and_then(|a| a.collect_all())
            .map_err(|e| store.format_error(e))?;
        let found = entries.into_iter().find(|e| e.id == keys.record_id());
        let entry = found.ok_or_else(|| Error::UnknownRecord {
            path: store.path.clone(),
        })?;
        let record = format::decode_record(entry.record).map_err(|e| store.format_error(e))?;
        let credentials = open_record(&entry.id, entry.name, &record, keys)?;
        Ok((entry.name.to_owned(), credentials))
    }

    #[cfg(unix)]
    fn outcome(result: Result<(String, Credentials), Error>) -> String {
        match result {
            Ok((name, c)) => format!("ok {name} {} {}", c.username(), c.password()),
            Err(e) => format!("error {e:?}: {e}"),
        }
    }

    #[cfg(unix)]
    /// Writes `bytes` as the store (mode 0600) and checks that every window
    /// size gives what reading the store whole gives, through the file and
    /// through the in-memory window the fuzz target uses.
    fn check_windows_agree(store: &Store, keys: &Keys, bytes: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(store.path(), bytes).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let expected = outcome(open_whole(store, keys));
        for window in [1, 7, 64, 300, file::WINDOW] {
            let got = outcome(store.open_account_windowed(keys, window));
            assert_eq!(got, expected, "window {window}, store {bytes:02x?}");
            let got = outcome(store.open_account_in(bytes, window, keys, None));
            assert_eq!(
                got, expected,
                "in memory, window {window}, store {bytes:02x?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn windowed_reads_agree_with_whole_reads_on_damaged_stores() {
        let (_dir, store) = private_store();
        let accounts: Vec<(String, Credentials)> = (0..4)
            .map(|i| (format!("account {i}"), creds(&format!("user{i}"), "pw")))
            .collect();
        let keys = store
            .secure_batch(accounts.iter().map(|(n, c)| (n.as_str(), c)), 25)
            .and_then(Pending::commit)
            .unwrap();
        let good = std::fs::read(store.path()).unwrap();
        // The last account, the middle one and one the store lacks.
        let other = {
            let (_d, s) = private_store();
            s.secure_account("x", &creds("a", "b"), 25)
                .and_then(Pending::commit)
                .unwrap()
        };
        for keys in [&keys[3], &keys[2], &other] {
            check_windows_agree(&store, keys, &good);
        }
        let keys = &keys[2];
        for len in 0..good.len() {
            check_windows_agree(&store, keys, &good[..len]);
        }
        for i in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                check_windows_agree(&store, keys, &bad);
            }
        }
        let mut trailing = good.clone();
        trailing.push(0);
        check_windows_agree(&store, keys, &trailing);

        // A record id that appears twice, with a damaged entry after it.
        let raw: Vec<Vec<u8>> = {
            let mut accounts = format::parse_header(&good).unwrap();
            let mut raw = Vec::new();
            while let Some(entry) = accounts.next_entry().unwrap() {
                raw.push(entry.raw.to_vec());
            }
            raw
        };
        let mut twice: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
        twice.push(&raw[2]);
        twice.push(&[0xff]);
        check_windows_agree(
            &store,
            keys,
            &format::encode_store(twice.into_iter(), format::VERSION_PLAIN),
        );

        // Names and record ids that repeat, the wanted account's or not,
        // alone or with damage after them: every one is refused, whatever
        // the keys ask for.
        let entries = format::parse_header(&good).unwrap().collect_all().unwrap();
        let copy = |id: RecordId, name: &str, of: usize| {
            format::encode_entry(&id, name, entries[of].record)
        };
        let fresh = RecordId::from_bytes([0x5a; 16]);
        let repeats = [
            ("the wanted name", copy(fresh, entries[2].name, 2)),
            ("another name", copy(fresh, entries[0].name, 0)),
            ("another id", copy(entries[0].id, "renamed", 0)),
            ("the wanted id", copy(entries[2].id, "renamed", 2)),
        ];
        for (what, repeat) in &repeats {
            for damaged in [false, true] {
                let mut all: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
                all.insert(1, repeat);
                if damaged {
                    all.push(&[0xff]);
                }
                let bytes = format::encode_store(all.into_iter(), format::VERSION_PLAIN);
                check_windows_agree(&store, keys, &bytes);
                let got = outcome(store.open_account_windowed(keys, 64));
                assert!(got.contains("appears twice"), "{what}: {got}");
            }
        }

        // Heads not in their shortest form: the accounts array's length,
        // the wanted record's width, another record's length.
        let accounts_head = good.windows(9).position(|w| w == b"\x68accounts").unwrap() + 9;
        assert_eq!(good[accounts_head], 0x84);
        let long_count = [
            &good[..accounts_head],
            &[0x98, 4],
            &good[accounts_head + 1..],
        ]
        .concat();
        let long_width = {
            let record = entries[2].record;
            let at = record.windows(6).position(|w| w == b"\x65width").unwrap() + 6;
            let record = [&record[..at], &[0x19, 0x00], &record[at + 1..]].concat();
            let mut all: Vec<Vec<u8>> = raw.clone();
            all[2] = format::encode_entry(&entries[2].id, entries[2].name, &record);
            format::encode_store(all.iter().map(Vec::as_slice), format::VERSION_PLAIN)
        };
        let long_record = {
            let mut entry = raw[1].clone();
            let at = 1 + 17 + 1 + entries[1].name.len();
            assert_eq!(entry[at], 0x58);
            entry.splice(at..at + 1, [0x59, 0x00]);
            let mut all: Vec<Vec<u8>> = raw.clone();
            all[1] = entry;
            format::encode_store(all.iter().map(Vec::as_slice), format::VERSION_PLAIN)
        };
        for bytes in [long_count, long_width, long_record] {
            check_windows_agree(&store, keys, &bytes);
            let got = outcome(store.open_account_windowed(keys, 64));
            assert!(got.contains("non-canonical CBOR"), "{got}");
        }
    }

    /// A window of every size from one byte to the whole store, over the
    /// file and in memory, gives what a whole read gives, so no entry
    /// boundary, end of the accounts array or repeat is missed where a
    /// window happens to end.
    #[cfg(unix)]
    #[test]
    fn every_window_size_agrees_with_a_whole_read() {
        let (_dir, store) = private_store();
        let accounts: Vec<(String, Credentials)> = (0..3)
            .map(|i| (format!("a{i}"), creds(&format!("u{i}"), "")))
            .collect();
        let keys = store
            .secure_batch(accounts.iter().map(|(n, c)| (n.as_str(), c)), 4)
            .and_then(Pending::commit)
            .unwrap();
        let good = std::fs::read(store.path()).unwrap();
        let entries = format::parse_header(&good).unwrap().collect_all().unwrap();
        let raw: Vec<&[u8]> = entries.iter().map(|e| e.raw).collect();
        let renamed = format::encode_entry(&entries[0].id, "other", entries[0].record);
        let stores = [
            good.clone(),
            [&good[..], &[0]].concat(),
            good[..good.len() - 1].to_vec(),
            format::encode_store(
                [raw[0], raw[1], raw[2], raw[1]].into_iter(),
                format::VERSION_PLAIN,
            ),
            format::encode_store(
                [raw[0], raw[1], raw[2], &renamed].into_iter(),
                format::VERSION_PLAIN,
            ),
        ];
        for bytes in &stores {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(store.path(), bytes).unwrap();
            std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
            for keys in [&keys[0], &keys[2]] {
                let expected = outcome(open_whole(&store, keys));
                for window in 1..=bytes.len() + 1 {
                    let got = outcome(store.open_account_in(bytes, window, keys, None));
                    assert_eq!(got, expected, "window {window}, store {bytes:02x?}");
                    let got = outcome(store.open_account_windowed(keys, window));
                    assert_eq!(got, expected, "file, window {window}, store {bytes:02x?}");
                }
            }
        }
    }

    /// Every reader and every writer refuses a store whose names or record
    /// ids repeat, and the writers leave it as it was.
    #[cfg(unix)]
    #[test]
    fn readers_and_writers_refuse_a_store_whose_names_or_ids_repeat() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = private_store();
        let (a, b) = (creds("ua", "pa"), creds("ub", "pb"));
        let keys = store
            .secure_batch([("a", &a), ("b", &b)], 25)
            .and_then(Pending::commit)
            .unwrap();
        let good = std::fs::read(store.path()).unwrap();
        let entries = format::parse_header(&good).unwrap().collect_all().unwrap();
        let (first, second) = (&entries[0], &entries[1]);
        let name_twice = format::encode_entry(&second.id, first.name, second.record);
        let id_twice = format::encode_entry(&first.id, second.name, second.record);
        for (repeat, reason) in [
            (name_twice, "an account name appears twice"),
            (id_twice, "a record id appears twice"),
        ] {
            let bytes =
                format::encode_store([first.raw, &repeat[..]].into_iter(), format::VERSION_PLAIN);
            std::fs::write(store.path(), &bytes).unwrap();
            std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
            let refused = |what: &str, result: Result<(), Error>| match result {
                Err(Error::StoreCorrupt { reason: r, .. }) => assert_eq!(r, reason, "{what}"),
                other => panic!("{what}: {other:?}, expected {reason}"),
            };
            refused("list", store.accounts().map(drop));
            refused("recover", store.recover(&keys[0]).map(drop));
            refused("verify", store.verify(&keys[1]).map(drop));
            refused("secure", store.secure_account("c", &a, 25).map(drop));
            refused("replace", store.replace("a", &a, 25).map(drop));
            refused("rotate", store.rotate(&keys[0]).map(drop));
            refused("remove", store.remove("a"));
            assert_eq!(std::fs::read(store.path()).unwrap(), bytes);
        }
    }

    fn now() -> u64 {
        clock::now().unwrap()
    }

    /// Secures an account whose not-after time is `not_after`, even one in
    /// the past, which the API refuses: as if it had been secured earlier.
    fn secure_with_not_after(store: &Store, name: &str, c: &Credentials, not_after: u64) -> Keys {
        store
            .edit(true, |edit| {
                let mut ids: HashSet<RecordId> = edit.entries.iter().map(|e| e.id).collect();
                let id = fresh_id(&mut ids)?;
                let times = Times {
                    created: not_after.saturating_sub(100),
                    rotated: None,
                    not_after: Some(not_after),
                };
                let (record, keys) = seal_account(id, name, c, 25, times)?;
                edit.entries.push(EditEntry::new(id, name, &record));
                Ok(keys)
            })
            .and_then(Pending::commit)
            .unwrap()
    }

    fn version_of(store: &Store) -> u64 {
        let bytes = std::fs::read(store.path()).unwrap();
        format::parse_header(&bytes).unwrap().version()
    }

    #[test]
    fn an_expiring_account_opens_up_to_its_not_after_second_then_fails_with_exit_12() {
        let (_dir, store) = private_store();
        let not_after = now() + 3600;
        let keys = store
            .secure_account_expiring("db", &creds("u", "p"), 25, Some(not_after))
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(store.recover(&keys).unwrap().password(), "p");
        assert_eq!(store.verify(&keys).unwrap(), "db");
        assert_eq!(store.accounts().unwrap()[0].not_after, Some(not_after));
        let bytes = std::fs::read(store.path()).unwrap();
        let at = |t| store.open_account_in(&bytes, file::WINDOW, &keys, Some(t));
        assert_eq!(at(not_after).unwrap().1.username(), "u");
        let err = at(not_after + 1).unwrap_err();
        assert!(
            matches!(&err, Error::KeysExpired { name, reason: Expired::NotAfter { not_after: t, now: n } }
                if name == "db" && *t == not_after && *n == not_after + 1),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), 12);
        let message = err.to_string();
        assert!(message.contains(&clock::rfc3339(not_after)), "{message}");
        assert!(
            message.contains("otp-link rotate --expires-in"),
            "{message}"
        );
        assert!(message.contains("--replace"), "{message}");
    }

    #[test]
    fn expired_keys_fail_for_recover_and_verify_but_rotate_with_a_new_expiry() {
        let (_dir, store) = private_store();
        let keys = secure_with_not_after(&store, "old", &creds("u", "p"), now() - 10);
        for result in [
            store.recover(&keys).map(drop),
            store.verify(&keys).map(drop),
        ] {
            assert!(
                matches!(result, Err(Error::KeysExpired { .. })),
                "{result:?}"
            );
        }
        let before = std::fs::read(store.path()).unwrap();
        // Keeping the expiry that has passed would issue keys that open
        // nothing: refused, the store unchanged.
        for result in [
            store.rotate(&keys).map(drop),
            store.replace("old", &creds("u", "p2"), 25).map(drop),
            store
                .rotate_expiring(&keys, Expiry::NotAfter(now() - 1))
                .map(drop),
        ] {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::InvalidExpiry { .. }), "{err:?}");
            assert_eq!(err.exit_code(), 11);
        }
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        // A wrong key still fails authentication, expired or not.
        let other = {
            let (_d, s) = private_store();
            secure_with_not_after(&s, "x", &creds("a", "b"), now() - 10)
        };
        let forged = Keys::new(
            Key::new(
                Field::Username,
                keys.record_id(),
                crate::primitives::PadMaterial {
                    pad: other.user().secret().pad.clone(),
                    mac_key: other.user().secret().mac_key.clone(),
                },
            ),
            Key::new(
                Field::Password,
                keys.record_id(),
                crate::primitives::PadMaterial {
                    pad: other.pass().secret().pad.clone(),
                    mac_key: other.pass().secret().mac_key.clone(),
                },
            ),
        )
        .unwrap();
        assert!(matches!(
            store.recover(&forged),
            Err(Error::AuthenticationFailed)
        ));
        // Extended by rotate: new keys that open it, the old ones fail.
        let later = now() + 86_400;
        let (name, new_keys) = store
            .rotate_expiring(&keys, Expiry::NotAfter(later))
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(name, "old");
        assert_eq!(store.recover(&new_keys).unwrap().password(), "p");
        assert!(matches!(
            store.recover(&keys),
            Err(Error::AuthenticationFailed)
        ));
        assert_eq!(store.accounts().unwrap()[0].not_after, Some(later));
        // Kept by a plain rotate, removed by Never (and the store is
        // version 1 again).
        let (_, kept) = store.rotate(&new_keys).and_then(Pending::commit).unwrap();
        assert_eq!(store.accounts().unwrap()[0].not_after, Some(later));
        assert_eq!(version_of(&store), 2);
        let (_, never) = store
            .rotate_expiring(&kept, Expiry::Never)
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(store.accounts().unwrap()[0].not_after, None);
        assert_eq!(version_of(&store), 1);
        assert_eq!(store.recover(&never).unwrap().username(), "u");
        // Replace extends an expired account by name.
        secure_with_not_after(&store, "old2", &creds("v", "q"), now() - 5);
        let replaced = store
            .replace_expiring("old2", &creds("v", "q2"), 25, Expiry::NotAfter(later))
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(store.recover(&replaced).unwrap().password(), "q2");
    }

    #[test]
    fn an_expiry_that_is_not_in_the_future_is_refused_and_nothing_changes() {
        let (_dir, store) = private_store();
        let before = std::fs::read(store.path()).unwrap();
        for t in [0, now() - 1, now()] {
            let err = store
                .secure_account_expiring("db", &creds("u", "p"), 25, Some(t))
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidExpiry { not_after, .. } if not_after == t),
                "{err:?}"
            );
            assert!(err.to_string().contains("not in the future"), "{err}");
        }
        let (a, b) = (creds("a", "1"), creds("b", "2"));
        let err = store
            .secure_batch_expiring([("a", &a, None), ("b", &b, Some(1))], 25)
            .unwrap_err();
        assert!(
            matches!(&err, Error::BatchItem { index: 1, source } if matches!(**source, Error::InvalidExpiry { .. })),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), 11);
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
    }

    #[test]
    fn a_store_is_version_2_exactly_while_an_account_in_it_expires() {
        let (_dir, store) = private_store();
        let plain = store
            .secure_account("plain", &creds("u", "p"), 25)
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(version_of(&store), 1);
        let plain_entry = {
            let bytes = std::fs::read(store.path()).unwrap();
            format::parse_header(&bytes).unwrap().collect_all().unwrap()[0]
                .raw
                .to_vec()
        };
        let expiring = store
            .secure_account_expiring("exp", &creds("e", "q"), 25, Some(now() + 60))
            .and_then(Pending::commit)
            .unwrap();
        assert_eq!(version_of(&store), 2);
        // Both open; the plain account's entry was copied verbatim.
        assert_eq!(store.recover(&plain).unwrap().username(), "u");
        assert_eq!(store.recover(&expiring).unwrap().username(), "e");
        let bytes = std::fs::read(store.path()).unwrap();
        assert!(bytes.windows(plain_entry.len()).any(|w| w == plain_entry));
        store.remove("exp").unwrap();
        assert_eq!(version_of(&store), 1);
        assert_eq!(store.recover(&plain).unwrap().username(), "u");
    }

    #[test]
    fn a_version_that_does_not_fit_the_records_is_refused() {
        let (_dir, store) = private_store();
        let keys = store
            .secure_account_expiring("exp", &creds("e", "q"), 25, Some(now() + 60))
            .and_then(Pending::commit)
            .unwrap();
        let good = std::fs::read(store.path()).unwrap();
        let entries = format::parse_header(&good).unwrap().collect_all().unwrap();
        let v1 = format::encode_store([entries[0].raw].into_iter(), format::VERSION_PLAIN);
        let plain = {
            let (_d, s) = private_store();
            s.secure_account("plain", &creds("u", "p"), 25)
                .and_then(Pending::commit)
                .unwrap();
            std::fs::read(s.path()).unwrap()
        };
        let plain_entries = format::parse_header(&plain).unwrap().collect_all().unwrap();
        let v2 = format::encode_store([plain_entries[0].raw].into_iter(), format::VERSION_EXPIRY);
        for (bytes, reason) in [
            (
                v1,
                "an account record holds a not_after time, which a version 1 store cannot hold",
            ),
            (
                v2,
                "it is of version 2 but no account in it expires (such a store is version 1)",
            ),
        ] {
            check_windows_agree(&store, &keys, &bytes);
            let got = outcome(store.open_account_windowed(&keys, 64));
            assert!(got.contains(reason), "{got}");
            assert!(
                matches!(store.accounts(), Err(Error::StoreCorrupt { reason: r, .. }) if r == reason)
            );
        }
    }

    /// The tag binds the not_after time: changed, removed or added on disk,
    /// the keys fail authentication (exit 4), never open the account as if
    /// it expired later or never.
    #[test]
    fn a_not_after_time_changed_in_the_store_fails_authentication() {
        let (_dir, store) = private_store();
        let not_after = now() + 60;
        let expiring = store
            .secure_account_expiring("exp", &creds("e", "q"), 25, Some(not_after))
            .and_then(Pending::commit)
            .unwrap();
        let plain = store
            .secure_account("plain", &creds("u", "p"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let good = std::fs::read(store.path()).unwrap();
        let entries = format::parse_header(&good).unwrap().collect_all().unwrap();
        let with = |of: usize, not_after: Option<u64>| {
            let mut record = format::decode_record(entries[of].record).unwrap();
            record.not_after = not_after;
            let record = format::encode_record(&record);
            let entry = format::encode_entry(&entries[of].id, entries[of].name, &record);
            let mut all: Vec<&[u8]> = entries.iter().map(|e| e.raw).collect();
            all[of] = &entry;
            let version = format::version_for(all.iter().enumerate().any(|(i, _)| {
                if i == of {
                    not_after.is_some()
                } else {
                    entries[i].expires
                }
            }));
            format::encode_store(all.into_iter(), version)
        };
        for (bytes, keys) in [
            (with(0, Some(not_after + 1)), &expiring),
            (with(0, Some(u64::MAX)), &expiring),
            (with(0, None), &expiring),
            (with(1, Some(not_after)), &plain),
        ] {
            check_windows_agree(&store, keys, &bytes);
            assert!(matches!(
                store.recover(keys),
                Err(Error::AuthenticationFailed)
            ));
        }
    }

    #[test]
    fn prune_removes_expired_accounts_only_and_does_nothing_when_none_has() {
        let (_dir, store) = private_store();
        let plain = store
            .secure_account("plain", &creds("u", "p"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let gone = secure_with_not_after(&store, "gone", &creds("g", "h"), now() - 10);
        let later = store
            .secure_account_expiring("later", &creds("l", "m"), 25, Some(now() + 3600))
            .and_then(Pending::commit)
            .unwrap();
        let before = std::fs::read(store.path()).unwrap();
        // A pruning not committed changes nothing.
        let pending = store.prune().unwrap();
        assert_eq!(pending.value().accounts.len(), 1);
        drop(pending);
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        let pruned = store.prune().and_then(Pending::commit).unwrap();
        assert_eq!(
            pruned.accounts,
            vec![PrunedAccount {
                name: "gone".into(),
                record_id: gone.record_id(),
                not_after: store_not_after(&before, "gone"),
            }]
        );
        assert!(matches!(
            store.recover(&gone),
            Err(Error::UnknownRecord { .. })
        ));
        assert_eq!(store.recover(&plain).unwrap().username(), "u");
        assert_eq!(store.recover(&later).unwrap().username(), "l");
        let names: Vec<String> = store
            .accounts()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["plain", "later"]);
        // Nothing more to prune: the file is not even rewritten.
        let inode = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).unwrap().ino()
        };
        let (bytes, ino) = (std::fs::read(store.path()).unwrap(), inode(store.path()));
        assert!(store.prune().and_then(Pending::commit).unwrap().is_empty());
        assert_eq!(std::fs::read(store.path()).unwrap(), bytes);
        assert_eq!(inode(store.path()), ino);
    }

    fn store_not_after(bytes: &[u8], name: &str) -> u64 {
        let entries = format::parse_header(bytes).unwrap().collect_all().unwrap();
        let entry = entries.iter().find(|e| e.name == name).unwrap();
        format::decode_record(entry.record)
            .unwrap()
            .not_after
            .unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn damaged_store_readable_by_others_is_refused_as_insecure() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = private_store();
        let keys = store
            .secure_account("db", &creds("a", "b"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let mut bytes = std::fs::read(store.path()).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(store.path(), &bytes).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            store.recover(&keys),
            Err(Error::InsecureStore { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn store_readable_by_others_is_refused_for_recover() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = private_store();
        let keys = store
            .secure_account("db", &creds("a", "b"), 25)
            .and_then(Pending::commit)
            .unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Others may read it: refused whoever owns it (a store of root's,
        // when the tests run as root, may be readable by its group only).
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o604)).unwrap();
        let err = store.recover(&keys).unwrap_err();
        assert!(matches!(err, Error::InsecureStore { .. }));
        let fix = if rustix::process::geteuid().is_root() {
            "chmod 640"
        } else {
            "chmod 600"
        };
        assert!(err.to_string().contains(fix), "{err}");
    }
}
