//! Return codes: what a failed call returns and the message it leaves for
//! `otp_link_last_error`, and the one generic message per code that
//! `otp_link_strerror` gives.
//!
//! Errors of otp-core return `Error::exit_code`, the one mapping from
//! errors to codes, and its message; this module adds only what belongs to
//! the ABI itself: a NULL or unusable argument (the CLI's usage code, 2), a
//! buffer too small and an internal error.

use std::ffi::c_int;

use crate::{OTP_LINK_ERR_BUFFER_TOO_SMALL, OTP_LINK_ERR_INTERNAL, OTP_LINK_OK};

/// The CLI's exit code for a usage error (bad or missing arguments), which
/// an unusable argument of a call is too.
pub(crate) const USAGE: c_int = 2;

/// Why a call failed.
pub(crate) enum Failure {
    /// An error of otp-core.
    Core(otp_core::Error),
    /// An argument the call cannot use: what is wrong and what to pass.
    Usage(String),
    /// An output buffer is too small: which one and what to pass, and the
    /// length the caller needs to be told, if any.
    TooSmall {
        /// What to do, e.g. "user_cap is smaller than the username; ...".
        message: String,
        /// Stored as the output's length after it is zeroed, where the
        /// call promises it (`otp_link_last_error`).
        needed: Option<usize>,
    },
}

impl From<otp_core::Error> for Failure {
    fn from(e: otp_core::Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    /// The code the call returns.
    pub(crate) fn code(&self) -> c_int {
        match self {
            Failure::Core(e) => c_int::from(e.exit_code()),
            Failure::Usage(_) => USAGE,
            Failure::TooSmall { .. } => OTP_LINK_ERR_BUFFER_TOO_SMALL,
        }
    }

    /// The one line `otp_link_last_error` gives: for an error of otp-core,
    /// the line `otp-link` prints (without its `otp-link: ` prefix).
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Core(e) => e.to_string(),
            Failure::Usage(m) | Failure::TooSmall { message: m, .. } => m.clone(),
        }
    }
}

/// A required pointer argument was NULL.
pub(crate) fn null(argument: &str, what: &str) -> Failure {
    Failure::Usage(format!("{argument} is NULL; pass {what}"))
}

/// The message of [`OTP_LINK_ERR_INTERNAL`] in `otp_link_last_error`.
pub(crate) const INTERNAL_MESSAGE: &str =
    "internal error: libotp_link panicked, which is a bug; please report it with what the call was given (never the keys)";

/// The generic message of a return code, for `otp_link_strerror`: the same
/// for every failure with that code, so it holds no path, name or secret.
/// Codes 1 to 12 are `otp-link`'s exit codes (README, "Exit codes"), in the
/// words of a library call.
pub(crate) fn generic_message(code: c_int) -> &'static str {
    match code {
        OTP_LINK_OK => "success",
        1 => "the operating system's random number generator failed",
        USAGE => "usage: a NULL or unusable argument, or no store location (HOME unset: set OTP_LINK_STORE)",
        3 => "malformed key, or two keys that do not belong together (pass the user key first)",
        4 => "authentication failed: a key is wrong or rotated away, or the store was altered",
        5 => "unknown account: no account of the store has these keys' record id",
        6 => "the account already exists",
        7 => "the store does not exist",
        8 => "the store is corrupt, of an unsupported version, or not a regular file",
        9 => "permission: the store may be read by others or is another user's, or access was denied",
        10 => "input/output error, a busy store lock, or a change not put into effect",
        11 => "a value, account name or store size was rejected",
        12 => "keys used up or expired: issue new keys, or rotate the account with a new expiry",
        OTP_LINK_ERR_BUFFER_TOO_SMALL => "an output buffer is too small",
        OTP_LINK_ERR_INTERNAL => "internal error in libotp_link (a bug: please report it)",
        _ => "unknown otp-link code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OTP_LINK_STRERROR_CAP;

    /// Every code any call returns, and a few it does not.
    fn codes() -> impl Iterator<Item = c_int> {
        (-3..=140).chain([255, 256, c_int::MIN, c_int::MAX])
    }

    #[test]
    fn every_generic_message_fits_the_strerror_buffer_with_its_nul() {
        for code in codes() {
            let message = generic_message(code);
            assert!(!message.is_empty(), "{code}");
            assert!(message.len() < OTP_LINK_STRERROR_CAP, "{code}: {message}");
        }
    }

    #[test]
    fn the_codes_of_the_library_are_distinct_and_not_the_clis() {
        let cli = (0..=12).chain([126, 127, 130]);
        for ours in [OTP_LINK_ERR_BUFFER_TOO_SMALL, OTP_LINK_ERR_INTERNAL] {
            assert!(cli.clone().all(|code| code != ours), "{ours}");
            // A child may exit with the code unchanged (exit statuses are
            // 0 to 255, and 126 and up mean something to shells).
            assert!((1..126).contains(&ours), "{ours}");
        }
        assert_ne!(OTP_LINK_ERR_BUFFER_TOO_SMALL, OTP_LINK_ERR_INTERNAL);
    }

    #[test]
    fn each_code_of_otp_link_has_its_own_message() {
        let unknown = generic_message(-1);
        let known: Vec<c_int> = (0..=12)
            .chain([OTP_LINK_ERR_BUFFER_TOO_SMALL, OTP_LINK_ERR_INTERNAL])
            .collect();
        for &code in &known {
            assert_ne!(generic_message(code), unknown, "{code}");
        }
        let mut messages: Vec<&str> = known.iter().map(|&c| generic_message(c)).collect();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(messages.len(), known.len());
    }

    #[test]
    fn a_core_error_returns_its_exit_code_and_its_message() {
        let e = otp_core::Error::AuthenticationFailed;
        let (code, message) = (c_int::from(e.exit_code()), e.to_string());
        let failure = Failure::from(e);
        assert_eq!(failure.code(), code);
        assert_eq!(failure.message(), message);
    }
}
