# The typed API of otp_link, one definition for both implementations (the
# native extension otp_link._native and the standard-library otp_link.pure).
# `python -m mypy.stubtest otp_link` checks it against the installed module.
import os
import pathlib
from types import TracebackType
from typing import Literal, NoReturn, SupportsIndex, final

from .pure import AccountExists as AccountExists
from .pure import AuthenticationFailed as AuthenticationFailed
from .pure import EntropyUnavailable as EntropyUnavailable
from .pure import InsecureStore as InsecureStore
from .pure import InvalidValue as InvalidValue
from .pure import KeysExpired as KeysExpired
from .pure import MalformedKey as MalformedKey
from .pure import MismatchedKeys as MismatchedKeys
from .pure import OtpLinkError as OtpLinkError
from .pure import StoreCorrupt as StoreCorrupt
from .pure import StoreIOError as StoreIOError
from .pure import StoreMissing as StoreMissing
from .pure import UnknownAccount as UnknownAccount
from .pure import UsageError as UsageError

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

IMPLEMENTATION: Literal["native", "pure"]

# What `open()` takes as a file name.
_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]

@final
class Credentials:
    """A username and a password recovered from two keys.

    ``repr()`` shows neither value; pickling and copying raise ``TypeError``.
    As a context manager it wipes the copies it holds when the block ends;
    reading a value afterwards raises ``ValueError``.
    """

    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    def password_bytes(self) -> bytearray: ...
    def __enter__(self) -> Credentials: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def __reduce__(self) -> NoReturn: ...
    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn: ...
    def __copy__(self) -> NoReturn: ...
    def __deepcopy__(self, memo: object) -> NoReturn: ...

def recover(user_key: str, pass_key: str, *, store: _Path | None = None) -> Credentials:
    """The credentials the two keys open, from ``store`` or the default store."""

def verify(user_key: str, pass_key: str, *, store: _Path | None = None) -> str:
    """The name of the account the two keys open."""

def recover_legacy(path: _Path, user_key: str, pass_key: str) -> Credentials:
    """The credentials in a Secure-Python-Link account file, opened with its old keys."""

def default_store_path() -> pathlib.Path:
    """``OTP_LINK_STORE``, else the per-user data directory's ``otp-link/store.cbor``."""
