"""otp-link for Python children: ``otp_link.recover(user_key, pass_key)``.

``import otp_link`` uses the native extension (``otp_link._native``, built
from the same ``otp-core`` as the ``otp-link`` command) when it is
installed, and falls back to the standard-library reader ``otp_link.pure``
otherwise. ``IMPLEMENTATION`` says which: ``"native"`` or ``"pure"``.
"""

from .pure import (
    AccountExists,
    AuthenticationFailed,
    EntropyUnavailable,
    InsecureStore,
    InvalidValue,
    KeysExpired,
    MalformedKey,
    MismatchedKeys,
    OtpLinkError,
    StoreCorrupt,
    StoreIOError,
    StoreMissing,
    UnknownAccount,
    UsageError,
)

__all__ = [
    "IMPLEMENTATION",
    "Credentials",
    "default_store_path",
    "recover",
    "recover_legacy",
    "verify",
    "AccountExists",
    "AuthenticationFailed",
    "EntropyUnavailable",
    "InsecureStore",
    "InvalidValue",
    "KeysExpired",
    "MalformedKey",
    "MismatchedKeys",
    "OtpLinkError",
    "StoreCorrupt",
    "StoreIOError",
    "StoreMissing",
    "UnknownAccount",
    "UsageError",
]

# The native module's wrapper and the pure reader's public functions are
# bound here (recover, verify, recover_legacy, default_store_path,
# Credentials) as they are written: see otp-py/README.md for the contract.
try:
    from . import _native  # noqa: F401

    IMPLEMENTATION = "native"
except ImportError:
    IMPLEMENTATION = "pure"

if IMPLEMENTATION == "pure":
    from .pure import Credentials, default_store_path, recover, recover_legacy, verify
