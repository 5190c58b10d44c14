//! What each exported function does, in safe code over the wrappers of
//! `raw`: the panic boundary, the checks of NULL and unusable arguments,
//! and one call into otp-core.
//!
//! Every function runs inside [`boundary`], which catches panics and, on
//! any failure, zeroes every output before returning the code.

use std::ffi::{c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use otp_core::{Keys, Store};

use crate::codes::{self, Failure};
use crate::last_error;
use crate::raw::{RawOut, RawStr, TooSmall};
use crate::{OTP_LINK_ERR_INTERNAL, OTP_LINK_OK};

/// Whether a call's outcome becomes the thread's last error.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Record {
    /// `otp_link_recover`, `otp_link_verify`: the calls that can fail for
    /// reasons worth a message.
    LastError,
    /// `otp_link_strerror`, `otp_link_last_error`: reading messages does not
    /// replace the last one.
    Nothing,
}

/// Runs `call`; on a failure or a panic, zeroes every output (and stores
/// the length a [`Failure::TooSmall`] says is needed) and returns its code.
fn boundary(
    outputs: &[RawOut],
    record: Record,
    call: impl FnOnce() -> Result<(), Failure>,
) -> c_int {
    // Unwind safety: after a panic nothing `call` touched is used again,
    // except the outputs, which are overwritten.
    let (code, message) = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(())) => {
            if record == Record::LastError {
                last_error::clear();
            }
            return OTP_LINK_OK;
        }
        Ok(Err(failure)) => {
            for out in outputs {
                out.clear();
                if let Failure::TooSmall {
                    needed: Some(needed),
                    ..
                } = &failure
                {
                    out.set_len(*needed);
                }
            }
            (failure.code(), failure.message())
        }
        Err(_) => {
            for out in outputs {
                out.clear();
            }
            (OTP_LINK_ERR_INTERNAL, codes::INTERNAL_MESSAGE.to_owned())
        }
    };
    if record == Record::LastError {
        last_error::set(message);
    }
    code
}

/// A string argument that may not be NULL.
fn required<'a>(arg: &'a RawStr, name: &str, what: &str) -> Result<&'a CStr, Failure> {
    arg.get().ok_or_else(|| codes::null(name, what))
}

/// The two key arguments, checked for NULL (nothing parsed yet).
fn key_args<'a>(user: &'a RawStr, pass: &'a RawStr) -> Result<[&'a CStr; 2], Failure> {
    const WHAT: &str = "each key as a NUL-terminated string, user key first";
    Ok([
        required(user, "user_key", WHAT)?,
        required(pass, "pass_key", WHAT)?,
    ])
}

/// Parses the key texts. Bytes that are not UTF-8 are no key.
fn parse_keys([user, pass]: [&CStr; 2]) -> Result<Keys, Failure> {
    Ok(Keys::parse(key_text(user)?, key_text(pass)?)?)
}

fn key_text(key: &CStr) -> Result<&str, otp_core::Error> {
    key.to_str().map_err(|_| otp_core::Error::MalformedKey {
        reason: "it holds bytes that are not UTF-8, and keys are ASCII",
    })
}

/// The store argument: NULL for the default location, which the CLI uses
/// too (`otp_core::default_store_path`).
fn store_at(store: &RawStr) -> Result<Store, Failure> {
    let path = match store.get() {
        None => otp_core::default_store_path()?,
        Some(path) => path_of(path)?,
    };
    Ok(Store::at(path))
}

/// A path from its C string: its bytes on Unix, as the CLI takes them.
#[cfg(unix)]
fn path_of(path: &CStr) -> Result<PathBuf, Failure> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(OsStr::from_bytes(path.to_bytes())))
}

/// A path from its C string, which must be UTF-8 where paths are Unicode.
#[cfg(not(unix))]
fn path_of(path: &CStr) -> Result<PathBuf, Failure> {
    path.to_str()
        .map(PathBuf::from)
        .map_err(|_| Failure::Usage("the store path is not UTF-8; pass it encoded as UTF-8".into()))
}

/// A value or name that does not fit its buffer. The message names the
/// argument, never the length of a secret.
fn too_small(cap: &str, what: &str, bound: &str) -> impl FnOnce(TooSmall) -> Failure {
    let message = format!("{cap} is smaller than {what}; pass a buffer of {bound} bytes");
    move |TooSmall| Failure::TooSmall {
        message,
        needed: None,
    }
}

const VALUE_BOUND: &str = "OTP_LINK_MAX_VALUE_LEN (99)";

/// `otp_link_recover`.
pub(crate) fn recover(
    store: RawStr,
    user_key: RawStr,
    pass_key: RawStr,
    user: RawOut,
    pass: RawOut,
) -> c_int {
    boundary(&[user, pass], Record::LastError, || {
        let keys = key_args(&user_key, &pass_key)?;
        for (out, buf, len) in [
            (&user, "user_buf", "user_len"),
            (&pass, "pass_buf", "pass_len"),
        ] {
            if !out.has_buf() {
                return Err(codes::null(buf, "a buffer of OTP_LINK_MAX_VALUE_LEN bytes"));
            }
            if !out.has_len() {
                return Err(codes::null(len, "where the value's length goes"));
            }
        }
        if user.overlaps(&pass) {
            return Err(Failure::Usage(
                "user_buf and pass_buf overlap; pass two separate buffers".into(),
            ));
        }
        let keys = parse_keys(keys)?;
        let credentials = store_at(&store)?.recover(&keys)?;
        user.put(credentials.username().as_bytes())
            .map_err(too_small("user_cap", "the username", VALUE_BOUND))?;
        pass.put(credentials.password().as_bytes())
            .map_err(too_small("pass_cap", "the password", VALUE_BOUND))?;
        Ok(())
    })
}

/// `otp_link_verify`.
pub(crate) fn verify(store: RawStr, user_key: RawStr, pass_key: RawStr, name: RawOut) -> c_int {
    boundary(&[name], Record::LastError, || {
        let keys = parse_keys(key_args(&user_key, &pass_key)?)?;
        let account = store_at(&store)?.verify(&keys)?;
        if name.has_buf() {
            name.put(account.as_bytes()).map_err(too_small(
                "name_cap",
                "the account's name",
                "OTP_LINK_MAX_NAME_LEN (256)",
            ))?;
        } else {
            name.set_len(account.len());
        }
        Ok(())
    })
}

/// `otp_link_strerror`.
pub(crate) fn strerror(code: c_int, out: RawOut) -> c_int {
    boundary(&[out], Record::Nothing, || {
        if !out.has_buf() {
            return Err(codes::null(
                "buf",
                "a buffer of OTP_LINK_STRERROR_CAP bytes",
            ));
        }
        out.put_c_string(codes::generic_message(code))
            .map_err(too_small(
                "cap",
                "the message",
                "OTP_LINK_STRERROR_CAP (128)",
            ))
    })
}

/// `otp_link_last_error`.
pub(crate) fn last_error(out: RawOut) -> c_int {
    boundary(&[out], Record::Nothing, || {
        if !out.has_buf() {
            return Err(codes::null("buf", "a buffer for the message"));
        }
        let message = last_error::get();
        out.put_c_string(&message)
            .map_err(|TooSmall| Failure::TooSmall {
                message: "cap is smaller than the message and its NUL".into(),
                needed: Some(message.len()),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(buf: &mut [u8], len: &mut usize) -> RawOut {
        // SAFETY: `buf` and `len` outlive the returned value in each test,
        // which reads them only after its last use.
        unsafe { RawOut::new(buf.as_mut_ptr().cast(), buf.len(), len) }
    }

    #[test]
    fn a_panic_is_caught_and_zeroes_every_output() {
        let (mut a, mut b) = ([0xa5u8; 8], [0xa5u8; 8]);
        let (mut a_len, mut b_len) = (7, 7);
        let outputs = [out(&mut a, &mut a_len), out(&mut b, &mut b_len)];
        let code = boundary(&outputs, Record::LastError, || panic!("a bug"));
        assert_eq!(code, OTP_LINK_ERR_INTERNAL);
        assert_eq!((a, b, a_len, b_len), ([0; 8], [0; 8], 0, 0));
        assert_eq!(last_error::get(), codes::INTERNAL_MESSAGE);
    }

    #[test]
    fn a_failure_zeroes_every_output_and_becomes_the_last_error() {
        let (mut a, mut a_len) = ([0xa5u8; 8], 7);
        let outputs = [out(&mut a, &mut a_len)];
        let code = boundary(&outputs, Record::LastError, || {
            Err(otp_core::Error::AuthenticationFailed.into())
        });
        assert_eq!(code, 4);
        assert_eq!((a, a_len), ([0; 8], 0));
        assert!(last_error::get().starts_with("authentication failed"));
        let code = boundary(&outputs, Record::LastError, || Ok(()));
        assert_eq!(code, OTP_LINK_OK);
        assert_eq!(last_error::get(), "");
    }

    #[test]
    fn reading_messages_keeps_the_last_error() {
        last_error::set("store /x does not exist".into());
        let (mut a, mut a_len) = ([0u8; 4], 0);
        let code = boundary(&[out(&mut a, &mut a_len)], Record::Nothing, || {
            Err(Failure::Usage("buf is NULL".into()))
        });
        assert_eq!(code, codes::USAGE);
        assert_eq!(last_error::get(), "store /x does not exist");
    }
}
