//! One-time-pad sealed credentials for non-interactive programs.
//!
//! An administrator secures an account once: its username and password are
//! each framed, XORed with a fresh one-time pad from the operating system, and
//! the frame authenticated with a one-time Poly1305 key. The ciphertexts go into a CBOR
//! store file; the pads and MAC keys come back as two [`Key`]s. A child program
//! handed only the keys calls [`recover`] and gets the [`Credentials`] back.
//! The store alone and the keys alone are each uniformly random; together they
//! open exactly one account. The format is specified in `spec/README.md`.
//!
//! ```no_run
//! # fn main() -> Result<(), otp_core::Error> {
//! let args: Vec<String> = std::env::args().collect();
//! let keys = otp_core::Keys::parse(&args[1], &args[2])?;
//! let credentials = otp_core::recover(&keys)?;
//! # let _ = credentials.username();
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
mod clock;
mod credentials;
mod error;
mod key;
#[cfg(feature = "legacy")]
pub mod legacy;
mod location;
mod primitives;
mod seal;
mod store;
#[cfg(feature = "test-vectors")]
pub mod vectors;

/// The secret wrappers of the API ([`Key::to_secret_text`] gives a
/// `secrecy::SecretString`), so callers need no version of their own.
pub use secrecy;

pub use clock::rfc3339;
pub use credentials::Credentials;
pub use error::{one_line, printable, Error, Expired};
pub use key::{Key, KeyKind, Keys};
pub use location::{default_store_path, CREDENTIAL_NAME, STORE_ENV};
pub use primitives::{Field, RecordId, DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH};
pub use store::format::MAX_NAME_BYTES;
pub use store::{
    harden_process, AccountInfo, Expiry, Exported, LaunchKeys, LaunchLimits, Listing, Pending,
    Pruned, PrunedAccount, Store, MAX_TTL, MAX_USES,
};

/// Recovers the credentials the keys open from the store at the default
/// location ([`default_store_path`]), as `otp-link recover` does: an
/// account that has expired is [`Error::KeysExpired`], launch keys spend
/// one of their uses ([`Store::recover`]), and when `OTP_LINK_AUDIT` names
/// an audit log the use is recorded there first (a log that cannot be
/// written fails the call, [`Error::AuditLog`]). For another store use
/// [`Store::at`] and [`Store::recover`], which write no audit record.
pub fn recover(keys: &Keys) -> Result<Credentials, Error> {
    let store = Store::at(default_store_path()?);
    match audit::AuditLog::from_env()? {
        Some(log) => audit::recover_logged(&log, &store, keys),
        None => store.recover(keys),
    }
}
