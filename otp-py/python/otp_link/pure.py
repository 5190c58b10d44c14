"""otp-link's second implementation: a store reader in standard-library Python.

This one file opens an otp-link store with two keys exactly as spec/
says, with nothing but Python 3.8 or later: no compiler, no wheel, no other
file. A host can copy it alone to a machine that has only Python, and run
it as ``python3 pure.py [--store PATH] USER_KEY PASS_KEY``, which prints
the username and the password like ``otp-link recover``, with the same
exit codes and the same one line on stderr.

It is also the home of the exception classes that both implementations
raise (the native module's wrapper imports them from here), so that
``except otp_link.AuthenticationFailed`` means the same thing whichever
implementation ``import otp_link`` picked. Each class carries the exit code
the ``otp-link`` command returns for the same failure.

What it follows, section by section of spec/README.md:

- keys (section 5): the grammar, lowercase hex only, the CRC-32, and the
  pair rules, all before the store is read;
- the store (sections 6 to 9; the default one includes the systemd
  credential ``$CREDENTIALS_DIRECTORY/otp-link-store``): opened without
  blocking, refused unless a regular file of at most 64 MiB (checked
  before reading, and never more than 64 MiB + 1 bytes read), refused
  when group or others may access it (but the group of a store of root's
  may read it) or another user owns it, then decoded by a fixed-schema
  reader of shortest-form CBOR that needs no recursion and sizes nothing
  by a length it has not checked against the bytes that remain; every
  entry's id and name are checked, none may repeat, and only the account
  the keys name is decoded further;
- opening (sections 4 and 6): Poly1305 over the MAC message (version 1's,
  or version 2's for an account that expires, which binds its
  ``not_after``), compared in constant time (``hmac.compare_digest``),
  then the frame; every failure of that step is the one
  ``AuthenticationFailed``;
- expiry (sections 6 and 7, format version 2): a store is version 2
  exactly while some account in it expires; an account whose
  ``not_after`` has passed is refused with ``KeysExpired`` (exit 12) once
  both its tags verified. The clock is read only for such an account,
  through ``_clock``, which the tests replace to check at a vector's
  ``now``.

What Python cannot do fully (spec section 2 makes both SHOULDs): values
arrive as ``str``, which cannot be wiped, so ``Credentials`` keeps them in
``bytearray``s that its context manager wipes; and the process is made
non-dumpable on Linux through ``ctypes`` when it is available.

Stores and keys of a newer otp-link (another store version, another key
version or field letter) are refused with an error that says this reader
does not know them and that the native module may. Launch keys
(``otpl1-``, spec/launch.md), which must spend a use in a record beside
the store before they open anything, are refused as malformed (exit 3),
naming the native module and ``otp-link``, which open them (spec/launch.md
section 12).
"""

from __future__ import annotations

import os
import stat
import sys
try:
    # The constant-time comparison hmac.compare_digest is (CPython's C
    # function); imported from here, a run as a script does not load
    # hashlib and OpenSSL, a quarter of its start-up.
    from _operator import _compare_digest as compare_digest
except ImportError:  # another Python
    from hmac import compare_digest  # type: ignore[no-redef]

# What the type checker alone sees (mypy takes any TYPE_CHECKING for
# typing's): importing typing would cost a run as a script 9 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union
    from typing import final as _final

    _Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
else:

    def _final(cls):
        return cls

__all__ = [
    "Credentials",
    "default_store_path",
    "recover",
    "recover_legacy",
    "verify",
]


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


_BY_EXIT_CODE: dict[int, type[OtpLinkError]] = {
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


# ---------------------------------------------------------------- messages

#: What to do about a store or key this reader does not know.
_NATIVE_HINT = (
    "the pure reader (otp_link.pure) knows store versions 1 and 2 and otp1 keys only: "
    "install otp_link with its native module, or upgrade otp-link"
)

#: A launch key (spec/launch.md) is refused before anything is read: this
#: reader cannot spend its use, and must not open it without (section 12).
_LAUNCH_PREFIX = "otpl1-"
_LAUNCH_REFUSED = (
    "malformed key: this is a launch key (otpl1-), which the pure reader "
    "(otp_link.pure) cannot open: launch keys need the native module "
    "(pip install ./otp-py) or otp-link ('otp-link recover')"
)


def _printable(text: str) -> str:
    """``text`` with every control character (Unicode Cc) and every format
    character (Cf) written as ``\\u{..}``, as the CLI prints names and paths."""
    if text.isprintable() and text.isascii():
        return text
    try:
        from unicodedata import category  # only for messages that need it
    except ImportError:  # a Python built without it: controls only

        def category(c: str, /) -> str:
            return "Cc" if c < " " or "\x7f" <= c <= "\x9f" else ""

    out = []
    for c in text:
        if category(c) in ("Cc", "Cf"):
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def _shown(path: _Path) -> str:
    """A path for a message: decoded as UTF-8 with U+FFFD for what is not,
    then with control and format characters escaped."""
    raw = os.fsencode(path)
    return _printable(raw.decode("utf-8", "replace"))


def _os_error_text(e: OSError) -> str:
    if e.errno is None:
        return str(e)
    return "%s (os error %d)" % (os.strerror(e.errno), e.errno)


def _io_error(action: str, path: _Path, e: OSError) -> OtpLinkError:
    """An operating-system error on a file: access denied is exit 9, the
    rest exit 10 (a full disk or a read-only file system says so)."""
    import errno

    advice = {
        errno.ENOSPC: "the disk is full: free some space and try again",
        getattr(errno, "EDQUOT", -1): "the disk quota is used up: free some space and try again",
        errno.EROFS: "the file system is read-only: keep the store on a writable one",
    }.get(e.errno, "check the path and its permissions")
    message = "%s %s failed: %s; %s" % (action, _shown(path), _os_error_text(e), advice)
    if isinstance(e, PermissionError):
        return InsecureStore(message)
    return StoreIOError(message)


def _corrupt(path: _Path, reason: str) -> StoreCorrupt:
    return StoreCorrupt(
        "store %s is corrupt (%s); restore it from a backup" % (_shown(path), _printable(reason))
    )


def _malformed(reason: str) -> MalformedKey:
    return MalformedKey(
        "malformed key: %s; copy the key again exactly as secure-account printed it" % reason
    )


def _mismatched(reason: str) -> MismatchedKeys:
    return MismatchedKeys("keys do not match: %s" % reason)


_AUTH_FAILED = (
    "authentication failed: the keys do not open this account (a key is wrong, rotated "
    "away, or the store was altered); use the keys last issued for the account"
)


# ---------------------------------------------------------------- keys

_KEY_PREFIX = "otp1-"
_MIN_WIDTH = 3
_MAX_WIDTH = 101
#: Longest key text: prefix, letter, id, widest pad, MAC key, checksum, dashes.
_MAX_KEY_TEXT = len(_KEY_PREFIX) + 2 + 32 + 1 + 2 * _MAX_WIDTH + 1 + 64 + 1 + 8
#: The whitespace a reader strips around a key (spec section 5): ASCII
#: space, tab, line feed, form feed, carriage return. Nothing else.
_KEY_SPACE = " \t\n\f\r"
_KEY_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")
_HEX = frozenset("0123456789abcdef")


class _Key:
    """One parsed key. The pad and MAC key are bytearrays, wiped by
    ``wipe``; there is no repr that shows them."""

    __slots__ = ("letter", "record", "pad", "mac_key")

    def __init__(self, letter: str, record: bytes, pad: bytearray, mac_key: bytearray) -> None:
        self.letter = letter
        self.record = record
        self.pad = pad
        self.mac_key = mac_key

    def __repr__(self) -> str:
        return "_Key(letter=%r, [redacted])" % self.letter

    def wipe(self) -> None:
        _wipe(self.pad)
        _wipe(self.mac_key)


def _is_hex(text: str) -> bool:
    return _HEX.issuperset(text)


def _key_arg(name: str, text: object) -> str:
    """A key argument, which must be a ``str`` (``UsageError``, as the
    native module says it)."""
    if not isinstance(text, str):
        raise UsageError(
            "%s must be a str holding the key text, not %s" % (name, type(text).__name__)
        )
    return text


def _parse_key(text: str) -> _Key:
    """Parses a key text (spec section 5). Errors never repeat the text."""
    text = text.strip(_KEY_SPACE)
    if not text:
        raise _malformed("the key is empty")
    if text.startswith(_LAUNCH_PREFIX):
        raise MalformedKey(_LAUNCH_REFUSED)
    if len(text) > _MAX_KEY_TEXT or len(text.encode("utf-8", "surrogatepass")) > _MAX_KEY_TEXT:
        raise _malformed("the key is longer than any otp-link key")
    if not text.startswith(_KEY_PREFIX):
        if text.startswith("otp"):
            raise _malformed("the key has an unknown version tag; " + _NATIVE_HINT)
        if "".join(c.lower() if c.isascii() else c for c in text[:5]) == _KEY_PREFIX:
            raise _malformed(
                "the key is in uppercase, and keys are lowercase (a tool changed its case)"
            )
        raise _malformed("the key does not start with 'otp1-'")
    if not _KEY_CHARS.issuperset(text):
        raise _malformed("the key holds characters other than lowercase letters, digits and '-'")
    body, _, checksum = text.rpartition("-")
    if len(checksum) != 8 or not _is_hex(checksum) or int(checksum, 16) != _crc32(body):
        raise _malformed("the checksum does not match, so the key was mistyped or cut short")
    parts = body[len(_KEY_PREFIX) :].split("-")
    if len(parts) != 4:
        raise _malformed("the key does not have five '-'-separated parts")
    letter, record, pad, mac_key = parts
    if letter not in ("u", "p"):
        raise _malformed("the field letter is neither 'u' nor 'p'; " + _NATIVE_HINT)
    if len(record) != 32 or not _is_hex(record):
        raise _malformed("the record id is not 32 hex digits")
    if len(pad) % 2 or not _MIN_WIDTH <= len(pad) // 2 <= _MAX_WIDTH:
        raise _malformed("the pad is not 3 to 101 bytes of hex")
    if not _is_hex(pad):
        raise _malformed("the pad is not hex")
    if len(mac_key) != 64 or not _is_hex(mac_key):
        raise _malformed("the authenticator key is not 64 hex digits")
    return _Key(letter, bytes.fromhex(record), bytearray.fromhex(pad), bytearray.fromhex(mac_key))


def _crc32(text: str) -> int:
    """CRC-32 of IEEE 802.3 / zlib (spec section 5)."""
    import binascii

    return binascii.crc32(text.encode("ascii"))


def _parse_pair(user_key: str, pass_key: str) -> tuple[_Key, _Key]:
    """Both keys parsed and paired (spec section 5), before any store is read."""
    user = _parse_key(user_key)
    try:
        password = _parse_key(pass_key)
    except BaseException:
        user.wipe()
        raise
    reason = None
    if user.letter == "p" and password.letter == "u":
        reason = "the password key came first; pass the user key first, then the password key"
    elif user.letter == password.letter == "u":
        reason = "both keys are user keys; pass the user key, then the password key"
    elif user.letter == password.letter == "p":
        reason = "both keys are password keys; pass the user key, then the password key"
    elif user.record != password.record:
        reason = (
            "the two keys belong to different accounts; pass both keys printed for one account"
        )
    if reason is not None:
        user.wipe()
        password.wipe()
        raise _mismatched(reason)
    return user, password


# ---------------------------------------------------------------- the store file

#: Readers refuse a store larger than this before reading it (spec section 7).
_MAX_STORE_BYTES = 64 * 1024 * 1024


def default_store_path():  # -> pathlib.Path
    """The store used when none is given (spec section 9): ``$OTP_LINK_STORE``
    when set and not empty; else the systemd credential
    ``$CREDENTIALS_DIRECTORY/otp-link-store`` when that directory is an
    absolute path and the file exists (a credential that cannot be looked
    at is still the store, whose reading then says why); else the
    platform's per-user data directory. Raises ``UsageError`` when there is
    none (no ``HOME``)."""
    import pathlib

    named = os.environ.get("OTP_LINK_STORE")
    if named:
        return pathlib.Path(named)
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and os.path.isabs(credentials):
        credential = os.path.join(credentials, "otp-link-store")
        try:
            os.lstat(credential)
            return pathlib.Path(credential)
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            return pathlib.Path(credential)
    home = os.environ.get("HOME") or None
    base = None
    if sys.platform == "darwin":
        base = home and os.path.join(home, "Library", "Application Support")
    elif sys.platform == "win32":
        base = os.environ.get("APPDATA") or (home and os.path.join(home, "AppData", "Roaming"))
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        if xdg and os.path.isabs(xdg):
            base = xdg
        else:
            base = home and os.path.join(home, ".local", "share")
    if not base:
        raise UsageError(
            "no store location: HOME is not set; pass --store PATH or set OTP_LINK_STORE"
        )
    return pathlib.Path(base, "otp-link", "store.cbor")


def _too_large(path: _Path) -> StoreCorrupt:
    return _corrupt(
        path,
        "it is larger than the 64 MiB limit readers accept; shrink it with 'otp-link "
        "remove', or split its accounts over several stores",
    )


def _not_regular(path: _Path, mode: int) -> StoreCorrupt:
    if stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISLNK(mode):
        kind = "a symbolic link"
    else:
        kind = "a device"
    return StoreCorrupt(
        "store %s is %s, not a regular file; name the store file itself with --store or "
        "OTP_LINK_STORE" % (_shown(path), kind)
    )


def _open_flags() -> int:
    """Read-only, non-blocking (a FIFO put in place of the store is refused
    at once instead of waiting for a writer), binary, not inherited."""
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_BINARY", "O_CLOEXEC"):
        flags |= getattr(os, name, 0)
    return flags


def _read_at_most(fd: int, limit: int, size_hint: int, path: _Path) -> bytes:
    """Reads until the end of the file or until more than ``limit`` bytes
    have come, whichever is first: never more than ``limit + 1`` bytes."""
    chunks = []
    total = 0
    want = min(size_hint + 1, limit + 1)
    while total <= limit:
        try:
            chunk = os.read(fd, max(1, min(want, limit + 1 - total)))
        except OSError as e:
            raise _io_error("reading", path, e) from None
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 20
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_store(path: _Path) -> tuple[bytes, os.stat_result]:
    """The store's bytes and the metadata of the file they were read from
    (spec section 6 step 2): a missing file is ``StoreMissing``; anything
    but a regular file, or a file over 64 MiB, ``StoreCorrupt`` before
    anything is read."""
    try:
        fd = os.open(path, _open_flags())
    except FileNotFoundError:
        raise StoreMissing(
            "store %s does not exist; secure an account first, or name the right store "
            "with --store or OTP_LINK_STORE" % _shown(path)
        ) from None
    except OSError as e:
        raise _io_error("opening", path, e) from None
    except ValueError:
        raise StoreIOError(
            "opening %s failed: file name contained an unexpected NUL byte; check the path "
            "and its permissions"
            % _shown(path)
        ) from None
    try:
        try:
            meta = os.fstat(fd)
        except OSError as e:
            raise _io_error("reading the metadata of", path, e) from None
        if not stat.S_ISREG(meta.st_mode):
            raise _not_regular(path, meta.st_mode)
        if meta.st_size > _MAX_STORE_BYTES:
            raise _too_large(path)
        data = _read_at_most(fd, _MAX_STORE_BYTES, meta.st_size, path)
        if len(data) > _MAX_STORE_BYTES:
            raise _too_large(path)
        return data, meta
    finally:
        os.close(fd)


def _check_private(path: _Path, meta: os.stat_result) -> None:
    """The permission rule of spec section 8, checked on the metadata of the
    opened file, the mode first: PostgreSQL's rule for its key file, no
    access for group or others (0600, 0400), but for a store of root's,
    which its group may read (0640, 0440); then the owner, the caller's
    effective user or root. Unix only: the Windows form of the rule
    (spec/windows.md section 1, ACLs) is not implemented here yet."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:
        return
    shown = _shown(path)
    mode = stat.S_IMODE(meta.st_mode)
    owner, me = meta.st_uid, geteuid()
    if owner == 0 and mode & 0o037:
        raise InsecureStore(
            "store %s is owned by root and may be written by its group or read by others "
            "(mode %04o); a store of root's may be readable by its group, nothing more; run "
            "'chmod 640 %s' as root (or 'chmod 600' when no group needs to read it)"
            % (shown, mode, shown)
        )
    if owner != 0 and mode & 0o077:
        raise InsecureStore(
            "store %s may be read or written by group or others (mode %04o); run 'chmod 600 "
            "%s' as its owner; a store that a group must read must be owned by root ('chown "
            "root:GROUP', then 'chmod 640')" % (shown, mode, shown)
        )
    if owner not in (me, 0):
        if me == 0:
            raise InsecureStore(
                "store %s is owned by user id %d, not root, so that user could alter what "
                "root reads; run otp-link as user id %d (e.g. with runuser), or 'chown root "
                "%s' to take it over" % (shown, owner, owner, shown)
            )
        raise InsecureStore(
            "store %s is owned by user id %d, neither you (user id %d) nor root, so its "
            "owner could alter it; run otp-link as its owner, or have root run 'chown "
            "%d:%d %s' if it is yours" % (shown, owner, me, me, os.getegid(), shown)
        )


# ---------------------------------------------------------------- CBOR

# The fixed schema (spec section 7), read head by head. Every head must be
# of the major type the schema puts there, of definite length, with its
# argument in the fewest bytes (RFC 8949 section 4.2.1); every length is
# checked against the bytes that remain before it is used; the depth is
# fixed, so nothing recurses.


class _Corrupt(Exception):
    """The store's bytes break the schema; the reason names what."""


class _Version(Exception):
    """A store of another format version."""


_MAJOR_NAMES = {
    0: "an unsigned integer",
    2: "a definite-length byte string",
    3: "a definite-length text string",
    4: "a definite-length array",
    5: "a definite-length map",
}


def _head(buf: bytes, pos: int, major: int, what: str) -> tuple[int, int]:
    """The argument of the head at ``pos``, which must be of ``major`` type
    in its shortest form, and the position after it."""
    end = len(buf)
    if pos >= end:
        raise _Corrupt("truncated before %s" % what)
    initial = buf[pos]
    if initial >> 5 != major:
        raise _Corrupt("%s is not %s" % (what, _MAJOR_NAMES[major]))
    info = initial & 0x1F
    if info < 24:
        return info, pos + 1
    if info > 27:
        raise _Corrupt("%s is not %s" % (what, _MAJOR_NAMES[major]))
    size = 1 << (info - 24)
    start = pos + 1
    if start + size > end:
        raise _Corrupt("truncated or invalid CBOR in %s at byte %d" % (what, pos))
    arg = int.from_bytes(buf[start : start + size], "big")
    if arg < (24 if size == 1 else 1 << (4 * size)):
        raise _Corrupt(
            "non-canonical CBOR (an integer or length not in its shortest form) in %s at "
            "byte %d" % (what, pos)
        )
    return arg, start + size


def _string(buf: bytes, pos: int, major: int, what: str) -> tuple[bytes, int]:
    """A byte string (major 2) or a text string's raw bytes (major 3)."""
    length, pos = _head(buf, pos, major, what)
    if length > len(buf) - pos:
        raise _Corrupt("%s claims %d bytes but only %d remain" % (what, length, len(buf) - pos))
    return buf[pos : pos + length], pos + length


def _newer_schema(what: str) -> _Corrupt:
    """A departure from the schema of versions 1 and 2 that a newer writer
    might make."""
    return _Corrupt("%s (or a newer otp-link wrote the store: %s)" % (what, _NATIVE_HINT))


def _key(buf: bytes, pos: int, expected: bytes) -> int:
    """The map key ``expected`` (a text string), and the position after it."""
    found, pos = _string(buf, pos, 3, "the key of entry '%s'" % expected.decode())
    if found != expected:
        raise _newer_schema("expected the map key '%s'" % expected.decode())
    return pos


def _count(buf: bytes, pos: int, major: int, what: str) -> tuple[int, int]:
    """An array's or map's number of items, bounded by the bytes that remain
    (each item takes at least one), never trusted for allocation."""
    n, pos = _head(buf, pos, major, what)
    if n > len(buf) - pos:
        raise _Corrupt("%s claims more items than bytes remain" % what)
    return n, pos


def _has_control(name: str) -> bool:
    """Whether ``name`` holds a character of Unicode category Cc:
    U+0000..U+001F and U+007F..U+009F (spec section 7)."""
    if name.isascii():
        return not name.isprintable() and any(c < " " or c == "\x7f" for c in name)
    return any(c < " " or "\x7f" <= c <= "\x9f" for c in name)


def _check_name(raw: bytes) -> str:
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Corrupt("an account name is not valid UTF-8") from None
    if not raw:
        raise _Corrupt("an account name is empty")
    if len(raw) > 256:
        raise _Corrupt("an account name is longer than 256 bytes")
    if _has_control(name):
        raise _Corrupt("an account name holds control characters")
    return name


_FORMAT_TAG = b"otp-link store"
#: The store versions this reader knows: 1, and 2, which is 1 with the
#: optional ``not_after`` of an account record (spec section 10).
_VERSION_PLAIN = 1
_VERSION_EXPIRY = 2
#: The first byte of a record that holds ``not_after``: a map of six
#: entries. Without one a record is a map of five (0xa5). The version rule
#: (spec section 7) is judged by this byte alone, decoded or not.
_EXPIRING_RECORD_HEAD = b"\xa6"


def _find_entry(buf: bytes, wanted: bytes) -> tuple[str, bytes] | None:
    """Checks the whole store (spec section 7) and returns the name and the
    record of the account whose id is ``wanted``, or None. Every entry's id
    and name are checked, and that none repeats; other records only as
    byte strings that fit, and by their first byte for the version rule."""
    if not buf:
        raise _Corrupt("the file is empty")
    try:
        entries, pos = _head(buf, 0, 5, "the top-level map")
    except _Corrupt:
        raise _Corrupt("not an otp-link store (the top level is not a map)") from None
    if entries < 2:
        raise _Corrupt("not an otp-link store (no format tag)")
    try:
        found, pos = _string(buf, pos, 3, "the format key")
        if found != b"format":
            raise _Corrupt("")
        found, pos = _string(buf, pos, 3, "the format tag")
    except _Corrupt:
        raise _Corrupt("not an otp-link store (no format tag)") from None
    if found != _FORMAT_TAG:
        raise _Corrupt("not an otp-link store (wrong format tag)")
    pos = _key(buf, pos, b"version")
    version, pos = _head(buf, pos, 0, "the version")
    if version not in (_VERSION_PLAIN, _VERSION_EXPIRY):
        raise _Version(version)
    if entries != 3:
        raise _newer_schema("the top-level map does not have exactly three entries")
    pos = _key(buf, pos, b"accounts")
    remaining, pos = _count(buf, pos, 4, "the accounts array")
    ids = set()
    names = set()
    result = None
    any_expires = False
    end = len(buf)
    while remaining:
        remaining -= 1
        # The usual entry head, 0x83 0x50 (an array of three, a 16-byte
        # byte string), is read in one step; anything else the long way.
        if buf[pos : pos + 2] == b"\x83\x50" and pos + 18 <= end:
            record_id = buf[pos + 2 : pos + 18]
            pos += 18
        else:
            n, pos = _count(buf, pos, 4, "an account entry")
            if n != 3:
                raise _Corrupt("an account entry is not [id, name, record]")
            record_id, pos = _string(buf, pos, 2, "a record id")
            if len(record_id) != 16:
                raise _Corrupt("a record id is not 16 bytes")
        raw_name, pos = _string(buf, pos, 3, "an account name")
        name = _check_name(raw_name)
        record, pos = _string(buf, pos, 2, "an account record")
        if record_id in ids:
            raise _Corrupt("a record id appears twice")
        ids.add(record_id)
        if raw_name in names:
            raise _Corrupt("an account name appears twice")
        names.add(raw_name)
        if record[:1] == _EXPIRING_RECORD_HEAD:
            if version == _VERSION_PLAIN:
                raise _Corrupt(
                    "an account record holds a not_after time, which a version 1 store "
                    "cannot hold"
                )
            any_expires = True
        if record_id == wanted:
            result = (name, record)
    if pos != end:
        raise _Corrupt("trailing bytes after the accounts array")
    if version == _VERSION_EXPIRY and not any_expires:
        raise _Corrupt(
            "it is of version 2 but no account in it expires (such a store is version 1)"
        )
    return result


class _Record:
    __slots__ = ("width", "created", "rotated", "not_after", "sealed")

    def __init__(
        self, width: int, created: int, rotated: int | None, not_after: int | None, sealed: dict
    ) -> None:
        self.width = width
        self.created = created
        self.rotated = rotated
        self.not_after = not_after
        self.sealed = sealed


def _decode_record(buf: bytes) -> _Record:
    """An account record, the contents of its byte string (spec section 7):
    exactly the five entries in order, or six with ``not_after`` fourth,
    and nothing after them. (Whether the store's version allows
    ``not_after`` was judged by the record's first byte already.)"""
    n, pos = _count(buf, 0, 5, "an account record")
    if n not in (5, 6):
        raise _newer_schema("an account record does not have five or six entries")
    pos = _key(buf, pos, b"width")
    width, pos = _head(buf, pos, 0, "the width")
    if not _MIN_WIDTH <= width <= _MAX_WIDTH:
        raise _Corrupt("an account's width is outside 3..=101")
    pos = _key(buf, pos, b"created")
    created, pos = _head(buf, pos, 0, "the creation time")
    pos = _key(buf, pos, b"rotated")
    if buf[pos : pos + 1] == b"\xf6":
        rotated = None
        pos += 1
    else:
        try:
            rotated, pos = _head(buf, pos, 0, "the rotation time")
        except _Corrupt:
            raise _Corrupt("the rotation time is neither a time nor null") from None
    not_after = None
    if n == 6:
        pos = _key(buf, pos, b"not_after")
        not_after, pos = _head(buf, pos, 0, "the not_after time")
    sealed = {}
    for field in ("username", "password"):
        pos = _key(buf, pos, field.encode())
        n, pos = _count(buf, pos, 4, field)
        if n != 2:
            raise _Corrupt("the %s is not [ciphertext, tag]" % field)
        ciphertext, pos = _string(buf, pos, 2, field)
        if len(ciphertext) != width:
            raise _Corrupt("the %s ciphertext is not as long as the width" % field)
        tag, pos = _string(buf, pos, 2, field)
        if len(tag) != 16:
            raise _Corrupt("the %s tag is not 16 bytes" % field)
        sealed[field[0]] = (ciphertext, tag)
    if pos != len(buf):
        raise _Corrupt("trailing bytes in an account record")
    return _Record(width, created, rotated, not_after, sealed)


# ---------------------------------------------------------------- opening a value

_P1305 = (1 << 130) - 5
_CLAMP = 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF


def _poly1305(key: bytearray, message: bytearray) -> bytes:
    """RFC 8439 section 2.5 over ``message`` as is (spec section 4)."""
    r = int.from_bytes(key[:16], "little") & _CLAMP
    s = int.from_bytes(key[16:32], "little")
    acc = 0
    for i in range(0, len(message), 16):
        block = message[i : i + 16]
        acc = (acc + int.from_bytes(block, "little") + (1 << (8 * len(block)))) * r % _P1305
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _wipe(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


def _open_field(
    record_id: bytes, name: bytes, record: _Record, letter: str, key: _Key
) -> bytearray:
    """The value of one field, or AuthenticationFailed (spec section 6 step
    4): the pad must be as wide as the record, the tag over the frame must
    verify, then the frame's length digits and the value's UTF-8."""
    ciphertext, tag = record.sealed[letter]
    width = record.width
    if len(key.pad) != width:
        raise AuthenticationFailed(_AUTH_FAILED)
    frame = bytearray(ciphertext)
    for i, p in enumerate(key.pad):
        frame[i] ^= p
    # Spec section 4: version 1's message, or version 2's for a record
    # with not_after, which differs in its label and holds the time.
    message = bytearray(b"otp-link tag v1" if record.not_after is None else b"otp-link tag v2")
    message += record_id
    message += letter.encode()
    message.append(width)
    message += len(name).to_bytes(2, "big")
    message += name
    message += record.created.to_bytes(8, "big")
    if record.rotated is None:
        message.append(0)
    else:
        message.append(1)
        message += record.rotated.to_bytes(8, "big")
    if record.not_after is not None:
        message += record.not_after.to_bytes(8, "big")
    message += frame
    try:
        if not compare_digest(_poly1305(key.mac_key, message), tag):
            raise AuthenticationFailed(_AUTH_FAILED)
        tens, ones = frame[-2], frame[-1]
        if not (0x30 <= tens <= 0x39 and 0x30 <= ones <= 0x39):
            raise AuthenticationFailed(_AUTH_FAILED)
        n = (tens - 0x30) * 10 + (ones - 0x30)
        if n > width - 2:
            raise AuthenticationFailed(_AUTH_FAILED)
        with memoryview(frame) as view:
            value = _Secret(view[:n])
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            _wipe(value)
            raise AuthenticationFailed(_AUTH_FAILED) from None
        return value
    finally:
        _wipe(frame)
        _wipe(message)


_hardened = False


def _harden() -> None:
    """Makes the process non-dumpable on Linux (``PR_SET_DUMPABLE`` 0), as
    otp-link does before it decrypts, so other processes of the same user
    can neither ptrace it nor read its memory. Best effort: without
    ``ctypes`` (or on other systems) nothing happens."""
    global _hardened
    if _hardened or not sys.platform.startswith("linux"):
        return
    _hardened = True
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    except Exception:  # no ctypes, no prctl: the SHOULD of spec section 2
        pass


# ---------------------------------------------------------------- the API


class _Secret(bytearray):
    """A value's bytes, wiped when the last reference goes (and by
    ``Credentials``'s with block before that)."""

    __slots__ = ()

    def __del__(self) -> None:
        try:
            self[:] = bytes(len(self))
        except Exception:
            pass


@_final
class Credentials:
    """A username and a password, recovered.

    ``.username`` and ``.password`` are ``str`` (new objects each time,
    which Python cannot wipe); ``password_bytes()`` gives the password's
    UTF-8 bytes as a fresh ``bytearray`` the caller can wipe. The values
    are kept in ``bytearray``s that leaving a ``with`` block wipes; after
    that, reading them raises ``ValueError``. The repr shows neither
    value, and pickling or copying raises ``TypeError``; the class can be
    neither made from Python nor subclassed. The messages and the repr are
    the native module's (otp-py/README.md), so that code and logs see one
    ``Credentials``, and one stub (``__init__.pyi``) types both.
    """

    __slots__ = ("_username", "_password", "_wiped")
    _username: bytearray
    _password: bytearray
    _wiped: bool

    def __init__(self) -> None:
        raise TypeError(
            "otp_link.Credentials cannot be made from Python: recover() and recover_legacy() "
            "return them"
        )

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("otp_link.Credentials cannot be subclassed")

    def _held(self, value: bytearray) -> bytearray:
        if self._wiped:
            raise ValueError(
                "these credentials were wiped when their with block ended; recover them again"
            )
        return value

    @property
    def username(self) -> str:
        return self._held(self._username).decode("utf-8")

    @property
    def password(self) -> str:
        return self._held(self._password).decode("utf-8")

    def password_bytes(self) -> bytearray:
        return bytearray(self._held(self._password))

    def _wipe(self) -> None:
        for value in (self._username, self._password):
            _wipe(value)
            del value[:]
        self._wiped = True

    def __enter__(self) -> Credentials:
        return self

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        self._wipe()

    def __repr__(self) -> str:
        if self._wiped:
            return "otp_link.Credentials([wiped])"
        return "otp_link.Credentials(username=[redacted], password=[redacted])"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError(_NOT_COPYABLE % "pickled")

    def __reduce_ex__(self, protocol: object) -> str | tuple[object, ...]:
        raise TypeError(_NOT_COPYABLE % "pickled")

    def __copy__(self) -> object:
        raise TypeError(_NOT_COPYABLE % "copied")

    def __deepcopy__(self, memo: object) -> object:
        raise TypeError(_NOT_COPYABLE % "copied")


def _credentials(username: bytearray, password: bytearray) -> Credentials:
    """The Credentials holding ``username`` and ``password`` (``_Secret``s,
    which they keep and wipe)."""
    made = object.__new__(Credentials)
    made._username = username
    made._password = password
    made._wiped = False
    return made


_NOT_COPYABLE = (
    "otp_link.Credentials cannot be %s: the values stay in this process; recover them "
    "where they are needed"
)


def _store_arg(store: object) -> str | bytes | None:
    """The ``store`` argument as ``os.fspath`` gives it, or None for the
    default; anything but a path is ``UsageError``, as the native module
    says it."""
    if store is None:
        return None
    if not isinstance(store, (str, bytes, os.PathLike)):
        raise UsageError(
            "store must be a path (str, bytes or os.PathLike), not %s" % type(store).__name__
        )
    return os.fspath(store)


def _clock() -> int | None:
    """The time now in whole seconds since the epoch, or None when the clock
    reads before 1970. Read only for an account that expires (spec section
    6 step 13); the tests replace it to check at a vector's ``now``."""
    import time

    ns = time.time_ns()
    return None if ns < 0 else ns // 1_000_000_000


def _rfc3339(secs: int) -> str:
    """Seconds since the epoch as RFC 3339 in UTC (spec section 1), e.g.
    ``2027-03-01T00:00:00Z``, as otp-link prints times: any unsigned
    64-bit time, years past 9999 with more digits (Howard Hinnant's
    days-to-civil, which ``datetime`` cannot do past 9999)."""
    days, rem = divmod(secs, 86_400)
    z = days + 719_468
    era, doe = divmod(z, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
        year, month, day, rem // 3600, rem % 3600 // 60, rem % 60
    )  # fmt: skip


def _check_expiry(name: str, record: _Record) -> None:
    """Spec section 6 step 13, after both tags verified: an account whose
    ``not_after`` is before the clock's time is ``KeysExpired`` (exit 12);
    it opens up to and including its ``not_after`` second. A clock before
    1970 is an error (exit 10), never taken for an early time."""
    not_after = record.not_after
    if not_after is None:
        return
    now = _clock()
    if now is None:
        raise StoreIOError(
            "the system clock reads before 1970, so otp-link cannot tell whether an expiry "
            "has passed; set the clock (e.g. with NTP or 'timedatectl')"
        )
    if now > not_after:
        raise KeysExpired(
            "account '%s' expired at %s (the clock reads %s), so its keys no longer open it; "
            "to extend it, run 'otp-link rotate --expires-in DURATION' with its keys (new "
            "keys), or 'otp-link secure-account --replace --expires-in DURATION' with its "
            "name (new credentials)" % (_printable(name), _rfc3339(not_after), _rfc3339(now))
        )


def _open_account(user_key: object, pass_key: object, store: object, decrypt: bool):
    """Spec section 6: the keys, then the store (read, permissions, the
    whole structure), then the account, its tags and its expiry; returns
    its name and, when ``decrypt``, its Credentials. The arguments' types
    are checked first, as the native module checks them."""
    user_text = _key_arg("user_key", user_key)
    pass_text = _key_arg("pass_key", pass_key)
    named = _store_arg(store)
    user, password = _parse_pair(user_text, pass_text)
    try:
        path: _Path = default_store_path() if named is None else named
        data, meta = _read_store(path)
        _check_private(path, meta)
        try:
            found = _find_entry(data, user.record)
            if found is not None:
                record = _decode_record(found[1])
        except _Corrupt as e:
            raise _corrupt(path, str(e)) from None
        except _Version as e:
            raise StoreCorrupt(
                "store %s has format version %d, which this reader does not read; %s"
                % (_shown(path), e.args[0], _NATIVE_HINT)
            ) from None
        if found is None:
            raise UnknownAccount(
                "no account in %s has this key's record id; the account was removed, or the "
                "keys belong to another store (--store)" % _shown(path)
            )
        name = found[0]
        _harden()
        raw_name = name.encode("utf-8")
        username = _open_field(user.record, raw_name, record, "u", user)
        try:
            secret = _open_field(user.record, raw_name, record, "p", password)
        except BaseException:
            _wipe(username)
            raise
        credentials = _credentials(username, secret)
        try:
            _check_expiry(name, record)
        except BaseException:
            credentials._wipe()
            raise
        if not decrypt:
            credentials._wipe()
            return name, None
        return name, credentials
    finally:
        user.wipe()
        password.wipe()


def recover(user_key: str, pass_key: str, *, store=None) -> Credentials:
    """The credentials two keys open, from ``store`` (a path) or the default
    store. Raises the ``OtpLinkError`` subclass of the CLI's exit code."""
    return _open_account(user_key, pass_key, store, True)[1]


def verify(user_key: str, pass_key: str, *, store=None) -> str:
    """The name of the account the keys open; fails exactly where
    ``recover`` fails."""
    return _open_account(user_key, pass_key, store, False)[0]


def recover_legacy(path, user_key: str, pass_key: str) -> Credentials:
    """The credentials of a Secure-Python-Link account file, read by the
    bounded pickle reader ``otp_link.legacy_pure`` (spec/legacy.md), which
    never unpickles. That module ships beside this file in the package;
    a copy of pure.py alone reads otp-link stores only."""
    try:
        from . import legacy_pure  # type: ignore[attr-defined]
    except ImportError:
        try:
            import legacy_pure  # type: ignore[import-not-found,no-redef]
        except ImportError:
            raise UsageError(
                "recover_legacy needs legacy_pure.py beside pure.py (it is part of the "
                "otp_link package)"
            ) from None
    return legacy_pure.recover_legacy(path, user_key, pass_key)


# ---------------------------------------------------------------- the script

_USAGE = """\
usage: python3 pure.py [--store PATH] USER_KEY PASS_KEY

Prints the username and the password two otp-link keys open, one per line,
like 'otp-link recover'. A key given as '-' is read from stdin, one line
each. The store is PATH, else $OTP_LINK_STORE, else the per-user default.
Exit codes are otp-link's: 0 success, 2 usage, 3 malformed or mismatched
keys (launch keys too: they need otp-link or the native module),
4 authentication failed, 5 unknown account, 7 store missing, 8 store
corrupt or of another version, 9 permission, 10 input/output (or a clock
before 1970), 12 the account expired.
"""


def _note(line: str) -> None:
    """One line on stderr, as the CLI writes it."""
    line = _printable(line.replace("\n", " ").replace("\r", " "))
    try:
        sys.stderr.flush()
        sys.stderr.buffer.write(("otp-link: %s\n" % line).encode("utf-8", "replace"))
        sys.stderr.buffer.flush()
    except Exception:  # a closed stderr loses the line, not the exit code
        pass


def _stdin_key(what: str, first: bool) -> str:
    """A key given as '-': one line of stdin holding one word, as the CLI
    reads it (on a terminal, typed without echo)."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("%s: " % what.capitalize())
    line = sys.stdin.buffer.readline(4097)
    if not line:
        raise UsageError("stdin ended before the %s given as '-'; pipe one key per line" % what)
    if len(line) > 4096 or (len(line) == 4096 and not line.endswith(b"\n")):
        raise UsageError(
            "the %s line on stdin is longer than 4096 bytes, far more than any key; pipe one "
            "key per line" % what
        )
    if first and line.startswith(b"\xef\xbb\xbf"):
        raise UsageError(
            "stdin starts with a UTF-8 byte order mark; save the input without it (e.g. "
            "'sed -i \"1s/^\\xEF\\xBB\\xBF//\" FILE')"
        )
    try:
        words = line.decode("utf-8").split()
    except UnicodeDecodeError:
        raise UsageError(
            "the %s line on stdin is not UTF-8, so it is no key; pipe one key per line" % what
        ) from None
    if not words:
        raise UsageError("the %s line on stdin is empty; pipe one key per line" % what)
    if len(words) > 1:
        raise UsageError(
            "the %s line on stdin holds more than one word; each '-' reads one line with one "
            "key" % what
        )
    return words[0]


def main(argv: list[str] | None = None) -> int:
    """``python3 pure.py [--store PATH] USER_KEY PASS_KEY``: the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    store = None
    keys: list[str] = []
    try:
        _harden()
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg in ("-h", "--help"):
                sys.stdout.write(_USAGE)
                return 0
            if arg == "--store" and i < len(args):
                store = args[i]
                i += 1
            elif arg.startswith("--store="):
                store = arg[len("--store=") :]
            elif arg == "--":
                keys.extend(args[i:])
                break
            elif arg.startswith("-") and arg != "-":
                # Never echoed: a mistyped argument may be a key.
                raise UsageError(
                    "unknown option or missing value; run 'python3 pure.py --help' for usage"
                )
            else:
                keys.append(arg)
        if len(keys) != 2:
            raise UsageError(
                "give two keys, USER_KEY then PASS_KEY; run 'python3 pure.py --help' for usage"
            )
        user_key = _stdin_key("user key", True) if keys[0] == "-" else keys[0]
        pass_key = _stdin_key("password key", keys[0] != "-") if keys[1] == "-" else keys[1]
        credentials = recover(user_key, pass_key, store=store)
        out = bytearray()
        with credentials:
            out += credentials._username
            out += b"\n"
            out += credentials._password
            out += b"\n"
        try:
            sys.stdout.buffer.write(out)
            sys.stdout.buffer.flush()
        except OSError as e:
            raise StoreIOError("writing to stdout failed: %s" % _os_error_text(e)) from None
        finally:
            _wipe(out)
        return 0
    except OtpLinkError as e:
        _note(e.message)
        return e.exit_code
    except KeyboardInterrupt:
        _note("interrupted; nothing was changed")
        return 130
    except Exception as e:  # a bug: say so without a traceback that could hold a key
        _note("internal error in pure.py (%s); please report it" % type(e).__name__)
        return 1


if __name__ == "__main__":
    sys.exit(main())
