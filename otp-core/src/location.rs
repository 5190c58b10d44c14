//! Where the store is when no path is given.
//!
//! `$OTP_LINK_STORE` first, so a host can point every child at one store;
//! then a systemd credential named `otp-link-store`, so a unit with
//! `LoadCredential=otp-link-store:/etc/otp-link/store.cbor` needs no other
//! configuration; else the platform's per-user data directory, so an
//! administrator and the children of the same account agree without
//! configuration.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::Error;

/// The environment variable that names the store.
pub const STORE_ENV: &str = "OTP_LINK_STORE";

/// The name of the systemd credential that holds the store
/// (`LoadCredential=otp-link-store:PATH`): the file
/// `$CREDENTIALS_DIRECTORY/otp-link-store`.
pub const CREDENTIAL_NAME: &str = "otp-link-store";

/// The environment variable systemd sets to the directory of a service's
/// credentials.
const CREDENTIALS_ENV: &str = "CREDENTIALS_DIRECTORY";

/// The store path used when none is given: `$OTP_LINK_STORE` when set and
/// not empty; else `$CREDENTIALS_DIRECTORY/otp-link-store` when
/// `CREDENTIALS_DIRECTORY` is an absolute path and that file exists (a
/// systemd credential, see [`CREDENTIAL_NAME`]); else, on Linux and other
/// Unixes, `$XDG_DATA_HOME/otp-link/store.cbor` (when `XDG_DATA_HOME` is an
/// absolute path) or `~/.local/share/otp-link/store.cbor`; on macOS
/// `~/Library/Application Support/otp-link/store.cbor`; on Windows
/// `%APPDATA%\otp-link\store.cbor`.
pub fn default_store_path() -> Result<PathBuf, Error> {
    if let Some(path) = env::var_os(STORE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = credential_store() {
        return Ok(path);
    }
    platform_data_dir()
        .map(|dir| dir.join("otp-link").join("store.cbor"))
        .ok_or(Error::NoStoreLocation)
}

/// `$CREDENTIALS_DIRECTORY`, when it is an absolute path.
fn credentials_directory() -> Option<PathBuf> {
    env::var_os(CREDENTIALS_ENV)
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
}

/// The store systemd handed this service, if it handed one. A credential
/// that exists but cannot be looked at (the directory not searchable) is
/// still the store: its reader then says what is wrong, rather than
/// another store being used in silence.
fn credential_store() -> Option<PathBuf> {
    let path = credentials_directory()?.join(CREDENTIAL_NAME);
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        _ => Some(path),
    }
}

/// Whether `path` names a file in `$CREDENTIALS_DIRECTORY`: a systemd
/// credential, which is read-only for the life of the service and is
/// changed by changing the file the unit loads.
pub(crate) fn is_credential(path: &Path) -> bool {
    let Some(dir) = credentials_directory().and_then(|d| fs::canonicalize(d).ok()) else {
        return false;
    };
    let parent = match fs::canonicalize(path) {
        Ok(resolved) => resolved.parent().map(Path::to_owned),
        Err(_) => path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .and_then(|p| fs::canonicalize(p).ok()),
    };
    parent.is_some_and(|parent| parent == dir)
}

fn home() -> Option<PathBuf> {
    env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

#[cfg(target_os = "macos")]
fn platform_data_dir() -> Option<PathBuf> {
    home().map(|h| h.join("Library").join("Application Support"))
}

#[cfg(windows)]
fn platform_data_dir() -> Option<PathBuf> {
    env::var_os("APPDATA")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join("AppData").join("Roaming")))
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_data_dir() -> Option<PathBuf> {
    env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(".local").join("share")))
}
