"""otp-link for Python children: ``otp_link.recover(user_key, pass_key)``.

``import otp_link`` uses the native extension (``otp_link._native``, built
from the same ``otp-core`` as the ``otp-link`` command) when it is
installed, and falls back to the standard-library reader ``otp_link.pure``
otherwise. ``IMPLEMENTATION`` says which: ``"native"`` or ``"pure"``.

The exception classes live in ``otp_link.pure`` and are re-exported here.
With the native extension they are loaded on first use (PEP 562): a child
that recovers its credentials and never fails does not pay for importing
the pure reader, which the 2 ms import budget could not afford
(bench/README.md). ``except otp_link.AuthenticationFailed`` and ``from
otp_link import AuthenticationFailed`` work as for any attribute.
"""

# Re-exported from otp_link.pure, loaded on first use (__getattr__ below).
_EXCEPTIONS = (
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
)

__all__ = [
    "IMPLEMENTATION",
    "Credentials",
    "default_store_path",
    "recover",
    "recover_legacy",
    "verify",
    *_EXCEPTIONS,
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


def __getattr__(name):
    if name in _EXCEPTIONS:
        from . import pure

        value = getattr(pure, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXCEPTIONS))
