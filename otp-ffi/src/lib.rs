//! `libotp_link`: the C ABI of otp-link, for child programs that are not
//! written in Rust (Java through JNA, .NET through `[LibraryImport]`, C, and
//! anything else that can call a C function) and must recover their
//! credentials without starting `otp-link recover`.
//!
//! The ABI is small and versioned ([`otp_link_abi_version`]): recover the
//! two values ([`otp_link_recover`]), check a key pair and name its account
//! ([`otp_link_verify`]), and describe a return code
//! ([`otp_link_strerror`]) or the last failure of the calling thread
//! ([`otp_link_last_error`]). The header `include/otp_link.h` is generated
//! from this file by cbindgen and committed; a test checks that it is
//! current.
//!
//! Rules every function keeps:
//!
//! - Return codes are `otp-link`'s exit codes (README, "Exit codes"), from
//!   `otp_core::Error::exit_code`, plus [`OTP_LINK_ERR_BUFFER_TOO_SMALL`]
//!   and [`OTP_LINK_ERR_INTERNAL`]. A NULL argument that may not be NULL is
//!   a usage error, 2, as a missing argument is for the CLI.
//! - The library owns no memory the caller sees: values are copied into the
//!   caller's buffers, and the library's own copies are wiped before the
//!   call returns. On any failure every output buffer is zeroed.
//! - No panic crosses the boundary: each call catches it and returns
//!   [`OTP_LINK_ERR_INTERNAL`] (with the default `panic = "unwind"`, which
//!   the workspace's profiles keep; under `panic = "abort"` a panic would
//!   end the process instead).
//! - Strings going in (store path, keys) are NUL-terminated; values coming
//!   out are byte spans with a length, the rest of the buffer zeroed.
//!
//! `unsafe` lives in this crate only: in the module `raw`, the one that
//! reads and writes caller memory, and in the exported functions, which
//! hand their pointers to it. Every block says why it is sound.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod calls;
mod codes;
mod last_error;
mod raw;

use std::ffi::{c_char, c_int};

use raw::{RawOut, RawStr};

/// The version of this ABI. A program built against a header whose
/// `OTP_LINK_ABI_VERSION` differs from what [`otp_link_abi_version`]
/// returns must not use the library. Any change to an existing function's
/// signature or meaning, or to a return code, increments it; adding a
/// function does not.
pub const OTP_LINK_ABI_VERSION: u32 = 1;

/// The longest value [`otp_link_recover`] returns, in bytes (a frame of the
/// widest width, 101, holds 99): buffers of this size always suffice.
pub const OTP_LINK_MAX_VALUE_LEN: usize = 99;
const _: () = assert!(OTP_LINK_MAX_VALUE_LEN == otp_core::MAX_WIDTH - 2);

/// The longest account name [`otp_link_verify`] returns, in bytes: buffers
/// of this size always suffice.
pub const OTP_LINK_MAX_NAME_LEN: usize = 256;
const _: () = assert!(OTP_LINK_MAX_NAME_LEN == otp_core::MAX_NAME_BYTES);

/// The size of a buffer that holds every message of
/// [`otp_link_strerror`], its terminating NUL included.
pub const OTP_LINK_STRERROR_CAP: usize = 128;

/// Success.
pub const OTP_LINK_OK: c_int = 0;

/// An output buffer is too small for what the call would write. No
/// `otp-link` exit code; chosen below 126 so that a child may exit with
/// any return code unchanged, and apart from the CLI's codes (0 to 12,
/// 126, 127, 130).
pub const OTP_LINK_ERR_BUFFER_TOO_SMALL: c_int = 100;

/// The library failed in a way that is a bug of otp-link (a panic, caught
/// at the boundary). No `otp-link` exit code, as for
/// [`OTP_LINK_ERR_BUFFER_TOO_SMALL`].
pub const OTP_LINK_ERR_INTERNAL: c_int = 101;

/// The ABI version of the loaded library, to compare with the header's
/// `OTP_LINK_ABI_VERSION`.
#[no_mangle]
pub extern "C" fn otp_link_abi_version() -> u32 {
    OTP_LINK_ABI_VERSION
}

/// Recovers the username and the password that two keys open.
///
/// - `store`: the store file's path, or NULL for the default location,
///   as the CLI finds it: `$OTP_LINK_STORE` when set and not empty, else
///   the per-user data directory (`~/.local/share/otp-link/store.cbor` on
///   Linux). On Unix the path's bytes are used as they are; elsewhere it
///   must be UTF-8.
/// - `user_key`, `pass_key`: the two key texts as `otp-link secure-account`
///   printed them, user key first.
/// - `user_buf`, `user_cap`: where the username goes, and its size in
///   bytes; `user_len` receives the username's length. Likewise `pass_buf`,
///   `pass_cap` and `pass_len` for the password. Buffers of
///   [`OTP_LINK_MAX_VALUE_LEN`] bytes always suffice.
///
/// A value is its UTF-8 bytes without a terminating NUL (values hold no
/// NUL); the rest of its buffer is zeroed, so a buffer one byte longer
/// than the value holds it as a C string.
///
/// Returns [`OTP_LINK_OK`], or `otp-link recover`'s exit code for the same
/// failure (3 malformed or mismatched keys, 4 authentication failed, 5 no
/// such account, 7 store missing, 8 corrupt store, 9 a store others may
/// read, 10 I/O error, 2 no store location or a NULL argument), or
/// [`OTP_LINK_ERR_BUFFER_TOO_SMALL`] or [`OTP_LINK_ERR_INTERNAL`]. On
/// every failure both buffers are zeroed and both lengths set to 0.
///
/// Like the Rust library, it makes the calling process non-dumpable on
/// Linux before it decrypts (see `otp_core::harden_process`).
///
/// # Safety
///
/// `store` is NULL or a NUL-terminated string; `user_key` and `pass_key`
/// are NUL-terminated strings. `user_buf` is valid for writes of
/// `user_cap` bytes and `pass_buf` of `pass_cap` bytes; `user_len` and
/// `pass_len` are each valid for a write of one `size_t`. No other thread
/// writes any of them during the call. Any of the pointers but `store`
/// may be NULL: the call then fails with 2 and writes only through the
/// others.
#[no_mangle]
pub unsafe extern "C" fn otp_link_recover(
    store: *const c_char,
    user_key: *const c_char,
    pass_key: *const c_char,
    user_buf: *mut c_char,
    user_cap: usize,
    user_len: *mut usize,
    pass_buf: *mut c_char,
    pass_cap: usize,
    pass_len: *mut usize,
) -> c_int {
    // SAFETY: this function's contract is the contract of `RawStr::new`
    // and `RawOut::new` for each pointer.
    let (store, user_key, pass_key, user, pass) = unsafe {
        (
            RawStr::new(store),
            RawStr::new(user_key),
            RawStr::new(pass_key),
            RawOut::new(user_buf, user_cap, user_len),
            RawOut::new(pass_buf, pass_cap, pass_len),
        )
    };
    calls::recover(store, user_key, pass_key, user, pass)
}

/// Checks that two keys open their account, and gives the account's name:
/// what `otp-link verify` does. It fails exactly where
/// [`otp_link_recover`] fails, with the same codes, and never copies a
/// credential out.
///
/// `store`, `user_key` and `pass_key` are as for [`otp_link_recover`].
/// `name_buf`, `name_cap` and `name_len` receive the account's name as
/// `otp_link_recover` gives a value (UTF-8, no terminating NUL, the rest
/// of the buffer zeroed; [`OTP_LINK_MAX_NAME_LEN`] bytes always suffice).
/// To check the keys only, pass NULL for `name_buf` (then `name_cap` is
/// ignored); `name_len` may be NULL too. On failure the buffer is zeroed
/// and the length set to 0.
///
/// # Safety
///
/// `store` is NULL or a NUL-terminated string; `user_key` and `pass_key`
/// are NUL-terminated strings. `name_buf` is NULL or valid for writes of
/// `name_cap` bytes; `name_len` is NULL or valid for a write of one
/// `size_t`. No other thread writes any of them during the call.
#[no_mangle]
pub unsafe extern "C" fn otp_link_verify(
    store: *const c_char,
    user_key: *const c_char,
    pass_key: *const c_char,
    name_buf: *mut c_char,
    name_cap: usize,
    name_len: *mut usize,
) -> c_int {
    // SAFETY: this function's contract is the contract of `RawStr::new`
    // and `RawOut::new` for each pointer.
    let (store, user_key, pass_key, name) = unsafe {
        (
            RawStr::new(store),
            RawStr::new(user_key),
            RawStr::new(pass_key),
            RawOut::new(name_buf, name_cap, name_len),
        )
    };
    calls::verify(store, user_key, pass_key, name)
}

/// Writes a short, generic description of a return code into `buf`, as a
/// NUL-terminated string: one message per code, the same for every
/// failure with that code, so it never holds a path, a name or anything
/// secret. For what went wrong in particular, ask
/// [`otp_link_last_error`]. Codes that otp-link never returns get
/// "unknown otp-link code". A buffer of [`OTP_LINK_STRERROR_CAP`] bytes
/// holds every message.
///
/// Returns [`OTP_LINK_OK`]; [`OTP_LINK_ERR_BUFFER_TOO_SMALL`] when the
/// message and its NUL do not fit in `cap` bytes (the buffer is then
/// zeroed); 2 when `buf` is NULL.
///
/// # Safety
///
/// `buf` is NULL or valid for writes of `cap` bytes, which no other thread
/// writes during the call.
#[no_mangle]
pub unsafe extern "C" fn otp_link_strerror(code: c_int, buf: *mut c_char, cap: usize) -> c_int {
    // SAFETY: this function's contract is the contract of `RawOut::new`;
    // there is no length to write.
    let out = unsafe { RawOut::new(buf, cap, std::ptr::null_mut()) };
    calls::strerror(code, out)
}

/// Writes the message of the calling thread's last failed
/// [`otp_link_recover`] or [`otp_link_verify`] into `buf`, as a
/// NUL-terminated string: the one line `otp-link` would print for the same
/// failure (it may name the store's path, never a key or a value). The
/// message is empty when that thread's last such call succeeded or it made
/// none. Calling this function, or [`otp_link_strerror`], does not change
/// it.
///
/// `len`, when not NULL, receives the message's length without the NUL.
/// Returns [`OTP_LINK_OK`]; [`OTP_LINK_ERR_BUFFER_TOO_SMALL`] when the
/// message and its NUL do not fit in `cap` bytes (the buffer is zeroed,
/// and `len` receives the length needed, without the NUL); 2 when `buf` is
/// NULL.
///
/// # Safety
///
/// `buf` is NULL or valid for writes of `cap` bytes; `len` is NULL or
/// valid for a write of one `size_t`. No other thread writes them during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn otp_link_last_error(
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> c_int {
    // SAFETY: this function's contract is the contract of `RawOut::new`.
    let out = unsafe { RawOut::new(buf, cap, len) };
    calls::last_error(out)
}
