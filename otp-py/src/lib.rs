//! `otp_link._native`: otp-core for Python children.
//!
//! A Python child opens its credentials in-process with the same reader as
//! `otp-link recover`, instead of starting a process for it. The package
//! `otp_link` (otp-py/python) re-exports what this module defines:
//! `recover`, `verify`, `recover_legacy`, `default_store_path` and
//! `Credentials`; `otp_link/__init__.pyi` is their typed signature.
//!
//! Errors are raised as the exception classes of `otp_link.pure`, their one
//! home, shared with the standard-library reader, so that
//! `except otp_link.AuthenticationFailed` means the same whichever
//! implementation is in use. The class is the one for the CLI's exit code,
//! [`otp_core::Error::exit_code`] (the one mapping), found with
//! `error_for_exit_code`; only `MismatchedKeys`, which shares code 3 with
//! `MalformedKey`, is named. The message is the CLI's line
//! ([`otp_core::one_line`]) without its `otp-link: ` prefix.
//!
//! The GIL is released while the store is read and the values decrypted,
//! so other Python threads run meanwhile. The values live in Rust, in
//! otp-core's wiped [`otp_core::Credentials`], until a `with` block ends;
//! every `str` or `bytearray` handed to Python is a copy that Python owns.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use otp_core::legacy::LegacyKey;
use otp_core::{Error, Keys, Store};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyString};
use zeroize::Zeroizing;

/// The exception `otp_link.pure` defines for `error`, carrying the CLI's
/// message. Should `otp_link.pure` itself fail to import, that error is
/// raised instead.
fn raise(py: Python<'_>, error: &Error) -> PyErr {
    let message = otp_core::one_line(&error.to_string());
    let made = || -> PyResult<Bound<'_, PyAny>> {
        let pure = py.import("otp_link.pure")?;
        match error {
            Error::MismatchedKeys { .. } => pure.getattr("MismatchedKeys")?.call1((message,)),
            _ => pure
                .getattr("error_for_exit_code")?
                .call1((error.exit_code(), message)),
        }
    };
    match made() {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => e,
    }
}

/// `otp_link.UsageError` (exit 2) for an argument of the wrong type.
fn usage(py: Python<'_>, message: String) -> PyErr {
    let made = || -> PyResult<Bound<'_, PyAny>> {
        py.import("otp_link.pure")?
            .getattr("error_for_exit_code")?
            .call1((2, message))
    };
    match made() {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => e,
    }
}

/// The Python type name of `value`, for messages.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |name| name.to_string())
}

/// A key argument: a `str`, copied out as UTF-8 into memory wiped on drop
/// (a key is ASCII; a `str` with lone surrogates is no key, and fails to
/// parse as one).
fn key_text(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Zeroizing<String>> {
    let Ok(text) = value.cast::<PyString>() else {
        return Err(usage(
            py,
            format!(
                "{name} must be a str holding the key text, not {}",
                type_name(value)
            ),
        ));
    };
    Ok(Zeroizing::new(text.to_string_lossy().into_owned()))
}

/// A path argument: a `str`, `bytes` or `os.PathLike`, as `open()` takes,
/// decoded as Python decodes file names (`os.fsdecode`, skipped for a
/// `str`, the common case, which it would return as it is).
fn path_arg(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let decoded = if value.is_instance_of::<PyString>() {
        value.extract::<PathBuf>()
    } else {
        py.import("os")
            .and_then(|os| os.call_method1("fsdecode", (value,)))
            .and_then(|path| path.extract::<PathBuf>())
    };
    decoded.map_err(|_| {
        usage(
            py,
            format!(
                "{name} must be a path (str, bytes or os.PathLike), not {}",
                type_name(value)
            ),
        )
    })
}

/// The path `store` names, or `None` for the default one.
fn store_arg(py: Python<'_>, store: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PathBuf>> {
    match store {
        Some(store) if !store.is_none() => path_arg(py, "store", store).map(Some),
        _ => Ok(None),
    }
}

/// Checks the arguments' types, parses the two keys, finds the store (the
/// default one, `OTP_LINK_STORE` then the per-user data directory, when
/// `store` is `None`) and runs `open` on it with the GIL released. The keys
/// come before the store's location, as spec/README.md section 6 orders
/// them and the CLI does: a malformed key is reported as such even where
/// there is no store location.
fn with_keys<T: Send>(
    py: Python<'_>,
    user_key: &Bound<'_, PyAny>,
    pass_key: &Bound<'_, PyAny>,
    store: Option<&Bound<'_, PyAny>>,
    open: impl FnOnce(&Store, &Keys) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let user = key_text(py, "user_key", user_key)?;
    let pass = key_text(py, "pass_key", pass_key)?;
    let named = store_arg(py, store)?;
    let keys = Keys::parse(&user, &pass).map_err(|e| raise(py, &e))?;
    let path = match named {
        Some(path) => path,
        None => otp_core::default_store_path().map_err(|e| raise(py, &e))?,
    };
    let store = Store::at(path);
    py.detach(|| open(&store, &keys)).map_err(|e| raise(py, &e))
}

/// A username and a password recovered from two keys.
///
/// `.username` and `.password` are `str`; `password_bytes()` gives the
/// password as a new `bytearray` the caller can overwrite. `repr()` shows
/// neither value. Not picklable or copyable (`TypeError`). As a context
/// manager it wipes the copies Rust holds when the block ends; afterwards
/// reading a value raises `ValueError`. The `str` values already handed
/// out are Python's, and cannot be wiped.
#[pyclass(module = "otp_link", name = "Credentials")]
struct Credentials {
    /// `None` once wiped.
    held: Option<otp_core::Credentials>,
}

impl Credentials {
    fn held(&self) -> PyResult<&otp_core::Credentials> {
        self.held.as_ref().ok_or_else(|| {
            PyValueError::new_err(
                "these credentials were wiped when their with block ended; recover them again",
            )
        })
    }
}

/// The `TypeError` for pickling or copying credentials.
fn not_copyable(what: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "otp_link.Credentials cannot be {what}: the values stay in this process; recover them where they are needed"
    ))
}

#[pymethods]
impl Credentials {
    /// The username.
    #[getter]
    fn username<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        Ok(PyString::new(py, self.held()?.username()))
    }

    /// The password.
    #[getter]
    fn password<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        Ok(PyString::new(py, self.held()?.password()))
    }

    /// The password's UTF-8 bytes, in a new bytearray the caller can wipe
    /// (`b[:] = bytes(len(b))`).
    fn password_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyByteArray>> {
        Ok(PyByteArray::new(py, self.held()?.password().as_bytes()))
    }

    fn __repr__(&self) -> &'static str {
        match self.held {
            Some(_) => "otp_link.Credentials(username=[redacted], password=[redacted])",
            None => "otp_link.Credentials([wiped])",
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Wipes the values Rust holds; the exception, if any, propagates.
    fn __exit__(
        &mut self,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) {
        // Python's names for the arguments, which the stub repeats.
        let _ = (exc_type, exc_value, traceback);
        self.held = None;
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(not_copyable("pickled"))
    }

    fn __reduce_ex__(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let _ = protocol;
        Err(not_copyable("pickled"))
    }

    fn __copy__(&self) -> PyResult<()> {
        Err(not_copyable("copied"))
    }

    fn __deepcopy__(&self, memo: &Bound<'_, PyAny>) -> PyResult<()> {
        let _ = memo;
        Err(not_copyable("copied"))
    }
}

/// The credentials the two keys open, from `store` (a path) or, when it is
/// `None`, from the default store (`OTP_LINK_STORE`, then the per-user data
/// directory), as `otp-link recover` finds it.
#[pyfunction]
#[pyo3(signature = (user_key, pass_key, *, store = None))]
fn recover(
    py: Python<'_>,
    user_key: &Bound<'_, PyAny>,
    pass_key: &Bound<'_, PyAny>,
    store: Option<&Bound<'_, PyAny>>,
) -> PyResult<Credentials> {
    let credentials = with_keys(py, user_key, pass_key, store, |store, keys| {
        store.recover(keys)
    })?;
    Ok(Credentials {
        held: Some(credentials),
    })
}

/// The name of the account the two keys open; fails exactly where
/// `recover` fails.
#[pyfunction]
#[pyo3(signature = (user_key, pass_key, *, store = None))]
fn verify(
    py: Python<'_>,
    user_key: &Bound<'_, PyAny>,
    pass_key: &Bound<'_, PyAny>,
    store: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    with_keys(py, user_key, pass_key, store, |store, keys| {
        store.verify(keys)
    })
}

/// The credentials in a Secure-Python-Link account file, opened with its
/// two old keys, without running the pickle; for children still reading
/// old files during a migration.
#[pyfunction]
fn recover_legacy(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    user_key: &Bound<'_, PyAny>,
    pass_key: &Bound<'_, PyAny>,
) -> PyResult<Credentials> {
    let path = path_arg(py, "path", path)?;
    let user = key_text(py, "user_key", user_key)?;
    let pass = key_text(py, "pass_key", pass_key)?;
    let credentials = py
        .detach(|| {
            let user: LegacyKey = user.parse()?;
            let pass: LegacyKey = pass.parse()?;
            otp_core::legacy::recover_legacy(&path, &user, &pass)
        })
        .map_err(|e| raise(py, &e))?;
    Ok(Credentials {
        held: Some(credentials),
    })
}

/// The store used when none is named: `OTP_LINK_STORE`, else the per-user
/// data directory, as the CLI finds it.
#[pyfunction]
fn default_store_path(py: Python<'_>) -> PyResult<PathBuf> {
    otp_core::default_store_path().map_err(|e| raise(py, &e))
}

/// otp-link's reader for Python children, built from otp-core. Use it
/// through the package: `import otp_link`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{default_store_path, recover, recover_legacy, verify, Credentials};
}
