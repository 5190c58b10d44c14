"""otp-link's second implementation: a store reader in standard-library Python.

This one file opens an otp-link store with two keys exactly as spec/ says,
with nothing but Python 3.8 or later: no compiler, no wheel, no other file.
A host can copy it alone to a machine that has only Python, and run it as
``python3 pure.py [--store PATH] USER_KEY PASS_KEY``.

It is also the home of the exception classes that both implementations
raise (the native module's wrapper imports them from here), so that
``except otp_link.AuthenticationFailed`` means the same thing whichever
implementation ``import otp_link`` picked. Each class carries the exit code
the ``otp-link`` command returns for the same failure.
"""

from typing import Dict, Type


class OtpLinkError(Exception):
    """Any otp-link failure. ``exit_code`` is the CLI's exit code for it.

    The message is the CLI's message for the same failure (without the
    ``otp-link: `` prefix); it never carries a key or a value.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EntropyUnavailable(OtpLinkError):
    """The operating system's random generator failed (exit 1)."""

    exit_code = 1


class UsageError(OtpLinkError):
    """Bad arguments: a wrong type, no store location to use (exit 2)."""

    exit_code = 2


class MalformedKey(OtpLinkError):
    """A key is not a key: grammar or checksum, a typo (exit 3)."""

    exit_code = 3


class MismatchedKeys(MalformedKey):
    """The two keys do not belong together: swapped, same field, or two accounts (exit 3)."""

    exit_code = 3


class AuthenticationFailed(OtpLinkError):
    """A wrong or rotated-away key, or the store was altered (exit 4)."""

    exit_code = 4


class UnknownAccount(OtpLinkError):
    """No account has the keys' record id, or no account has that name (exit 5)."""

    exit_code = 5


class AccountExists(OtpLinkError):
    """The account already exists (exit 6)."""

    exit_code = 6


class StoreMissing(OtpLinkError):
    """There is no store at the path (exit 7)."""

    exit_code = 7


class StoreCorrupt(OtpLinkError):
    """The store (or a Secure-Python-Link file) is corrupt, of an unsupported
    version, or not a regular file (exit 8)."""

    exit_code = 8


class InsecureStore(OtpLinkError):
    """The store is readable or writable by others, owned by another user, or
    access was denied (exit 9)."""

    exit_code = 9


class StoreIOError(OtpLinkError):
    """Any other input/output error (exit 10)."""

    exit_code = 10


class InvalidValue(OtpLinkError):
    """A value or name was rejected, or the store would be too large (exit 11)."""

    exit_code = 11


class KeysExpired(OtpLinkError):
    """The keys are used up or expired (exit 12)."""

    exit_code = 12


_BY_EXIT_CODE: Dict[int, Type[OtpLinkError]] = {
    cls.exit_code: cls
    for cls in (
        EntropyUnavailable,
        UsageError,
        MalformedKey,
        AuthenticationFailed,
        UnknownAccount,
        AccountExists,
        StoreMissing,
        StoreCorrupt,
        InsecureStore,
        StoreIOError,
        InvalidValue,
        KeysExpired,
    )
}


def error_for_exit_code(code: int, message: str) -> OtpLinkError:
    """The exception for a CLI exit code (``OtpLinkError`` itself for an unknown one)."""
    return _BY_EXIT_CODE.get(code, OtpLinkError)(message)
