//! Where the store is when no path is given.
//!
//! `$OTP_LINK_STORE` first, so a host can point every child at one store;
//! else the platform's per-user data directory, so an administrator and the
//! children of the same account agree without configuration.

use std::env;
use std::path::PathBuf;

use crate::Error;

/// The environment variable that names the store.
pub const STORE_ENV: &str = "OTP_LINK_STORE";

/// The store path used when none is given: `$OTP_LINK_STORE` when set and
/// not empty; else, on Linux and other Unixes, `$XDG_DATA_HOME/otp-link/store.cbor`
/// (when `XDG_DATA_HOME` is an absolute path) or `~/.local/share/otp-link/store.cbor`;
/// on macOS `~/Library/Application Support/otp-link/store.cbor`; on Windows
/// `%APPDATA%\otp-link\store.cbor`.
pub fn default_store_path() -> Result<PathBuf, Error> {
    if let Some(path) = env::var_os(STORE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    platform_data_dir()
        .map(|dir| dir.join("otp-link").join("store.cbor"))
        .ok_or(Error::NoStoreLocation)
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
