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

# The public functions and Credentials: from the native extension when it
# is installed (a wheel built by maturin from otp-py/src/lib.rs), else from
# the standard-library reader. Both follow otp-py/README.md's contract.
try:
    from ._native import (
        Credentials,
        default_store_path,
        recover,
        recover_legacy,
        verify,
    )

    IMPLEMENTATION = "native"
except ImportError:
    from .pure import (
        Credentials,
        default_store_path,
        recover,
        recover_legacy,
        verify,
    )

    IMPLEMENTATION = "pure"
