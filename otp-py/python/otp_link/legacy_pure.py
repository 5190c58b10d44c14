"""Secure-Python-Link account files, read in standard-library Python.

Secure-Python-Link (the project otp-link replaces) kept each account as a
pickle of ``{'list': [enc_user, enc_pass]}`` and gave out two keys of 25
characters. ``pickle.load`` of such a file would run whatever code the
file names, so this module never unpickles: it interprets exactly the
opcodes with which Python 2 and 3 write that one shape (spec/legacy.md,
section 3.2) and refuses every other one by name. Every length is checked
against the bytes that remain (and the end of the current FRAME) before
anything is sliced, the file is read only up to 64 KiB (+1 byte, to notice
a larger one), and nothing nests deeper than ``{'list': [...]}``.

It is the pure implementation's ``recover_legacy``, and lives apart from
``pure.py`` (the one-file reader of otp-link stores) as otp-core keeps its
pickle reader behind a feature: a child that reads only otp-link stores
carries no pickle reader, and pure.py stays small enough to start fast.

Errors are those of the native module for the same failures: a key that is
not 25 characters of the old alphabet is ``MalformedKey`` (exit 3), a file
that is not an account file ``StoreCorrupt`` (8), a key the frame shows to
be wrong ``AuthenticationFailed`` (4), a file that cannot be read
``StoreIOError`` (10) or ``InsecureStore`` (9, access denied).
"""

from __future__ import annotations

import os

try:
    from . import pure as _pure
except ImportError:  # pure.py and this file copied side by side, no package
    import pure as _pure  # type: ignore[no-redef,import-not-found]

AuthenticationFailed = _pure.AuthenticationFailed
Credentials = _pure.Credentials
MalformedKey = _pure.MalformedKey
StoreCorrupt = _pure.StoreCorrupt
StoreIOError = _pure.StoreIOError
UsageError = _pure.UsageError
_io_error = _pure._io_error
_open_flags = _pure._open_flags
_read_at_most = _pure._read_at_most
_shown = _pure._shown
_wipe = _pure._wipe

__all__ = ["recover_legacy", "LEGACY_MAX_FILE_BYTES"]

#: The largest account file read; real ones are about 80 to 150 bytes.
LEGACY_MAX_FILE_BYTES = 64 * 1024
_KEY_LEN = 25
_MAX_VALUE = _KEY_LEN - 2
_ALPHABET = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&*+=?#@"
)


# ---------------------------------------------------------------- keys


def _legacy_key(text: str) -> bytearray:
    """A key of 25 characters of the 72-character alphabet (spec/legacy.md
    section 1); the reason never repeats the key."""
    if any(c in " \t\n\r\f" for c in text):
        reason = "it holds a space, tab or line break"
    elif not _ALPHABET.issuperset(text):
        reason = "it holds a character outside a-z, A-Z, 0-9 and !$%&*+=?#@"
    elif len(text) < _KEY_LEN:
        reason = "it is shorter than 25 characters"
    elif len(text) > _KEY_LEN:
        reason = "it is longer than 25 characters"
    else:
        return bytearray(text.encode("ascii"))
    raise MalformedKey(
        "malformed legacy key: %s; quote the old key so the shell passes it unchanged" % reason
    )


def _open_value(stored: bytes, key: bytearray) -> bytearray | None:
    """The value of a frame (spec/legacy.md section 2), or None when the
    frame shows the key to be wrong (section 4)."""
    frame = bytearray(stored)
    for i, k in enumerate(key):
        frame[i] ^= k
    try:
        tens, ones = frame[-2], frame[-1]
        if not (0x30 <= tens <= 0x39 and 0x30 <= ones <= 0x39):
            return None
        n = (tens - 0x30) * 10 + (ones - 0x30)
        if n > _MAX_VALUE:
            return None
        with memoryview(frame) as view:
            value = _pure._Secret(view[:n])
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            _wipe(value)
            return None
        return value
    finally:
        _wipe(frame)


# ---------------------------------------------------------------- the pickle


class _Refused(Exception):
    """Not an account file; the reason says why, naming the byte offset."""


_OPCODE_NAMES = {
    b"(": "MARK", b".": "STOP", b"0": "POP", b"1": "POP_MARK", b"2": "DUP",
    b"F": "FLOAT", b"I": "INT", b"J": "BININT", b"K": "BININT1", b"L": "LONG",
    b"M": "BININT2", b"N": "NONE", b"P": "PERSID", b"Q": "BINPERSID",
    b"R": "REDUCE", b"S": "STRING", b"T": "BINSTRING", b"U": "SHORT_BINSTRING",
    b"V": "UNICODE", b"X": "BINUNICODE", b"a": "APPEND", b"b": "BUILD",
    b"c": "GLOBAL", b"d": "DICT", b"}": "EMPTY_DICT", b"e": "APPENDS",
    b"g": "GET", b"h": "BINGET", b"i": "INST", b"j": "LONG_BINGET", b"l": "LIST",
    b"]": "EMPTY_LIST", b"o": "OBJ", b"p": "PUT", b"q": "BINPUT",
    b"r": "LONG_BINPUT", b"s": "SETITEM", b"t": "TUPLE", b")": "EMPTY_TUPLE",
    b"u": "SETITEMS", b"G": "BINFLOAT", b"B": "BINBYTES", b"C": "SHORT_BINBYTES",
    b"\x80": "PROTO", b"\x81": "NEWOBJ", b"\x82": "EXT1", b"\x83": "EXT2",
    b"\x84": "EXT4", b"\x85": "TUPLE1", b"\x86": "TUPLE2", b"\x87": "TUPLE3",
    b"\x88": "NEWTRUE", b"\x89": "NEWFALSE", b"\x8a": "LONG1", b"\x8b": "LONG4",
    b"\x8c": "SHORT_BINUNICODE", b"\x8d": "BINUNICODE8", b"\x8e": "BINBYTES8",
    b"\x8f": "EMPTY_SET", b"\x90": "ADDITEMS", b"\x91": "FROZENSET",
    b"\x92": "NEWOBJ_EX", b"\x93": "STACK_GLOBAL", b"\x94": "MEMOIZE",
    b"\x95": "FRAME", b"\x96": "BYTEARRAY8", b"\x97": "NEXT_BUFFER",
    b"\x98": "READONLY_BUFFER",
}  # fmt: skip
#: Opcodes whose only purpose is to import or call Python code.
_CODE_OPCODES = frozenset(b"c\x93Rio\x81\x92b\x82\x83\x84PQ")


def _rejection(op: int, at: int) -> _Refused:
    name = _OPCODE_NAMES.get(bytes([op]))
    shown = "'%s'" % chr(op) if 0x21 <= op <= 0x7E else "0x%02x" % op
    if op in _CODE_OPCODES:
        return _Refused(
            "byte %d: opcode %s (%s) would import or call Python code; this reader never "
            "runs pickle code, and account files need none" % (at, name, shown)
        )
    if name is not None:
        return _Refused(
            "byte %d: opcode %s (%s) is not used by account files, which hold only a dict "
            "with a list of two strings" % (at, name, shown)
        )
    return _Refused("byte %d: 0x%02x is not a pickle opcode" % (at, op))


# Items on the stack: _MARK; a string (str, or bytes for a Python 2 str);
# a list of strings; a dict as a list of (key, value) pairs, its values
# strings or lists. Nothing else can be built, so nothing nests deeper.
_MARK = object()


class _List(list):
    pass


class _Dict(list):
    pass


def _kind(item: object) -> str:
    if item is _MARK:
        return "a MARK"
    if isinstance(item, _Dict):
        return "a dict"
    if isinstance(item, _List):
        return "a list"
    return "a string"


def _escape_decode(s: bytes) -> bytes:
    """Python's ``codecs.escape_decode``, which pickle applies to a STRING's
    quoted argument: unknown escapes stay as they are."""
    out = bytearray()
    i, n = 0, len(s)
    simple = {
        0x5C: 0x5C, 0x27: 0x27, 0x22: 0x22, 0x61: 0x07, 0x62: 0x08, 0x74: 0x09,
        0x6E: 0x0A, 0x76: 0x0B, 0x66: 0x0C, 0x72: 0x0D,
    }  # fmt: skip
    while i < n:
        c = s[i]
        i += 1
        if c != 0x5C:
            out.append(c)
            continue
        if i == n:
            raise _Refused("a backslash at its end")
        e = s[i]
        i += 1
        if e == 0x0A:
            continue
        if e in simple:
            out.append(simple[e])
        elif 0x30 <= e <= 0x37:
            v = e - 0x30
            for _ in range(2):
                if i < n and 0x30 <= s[i] <= 0x37:
                    v = v * 8 + s[i] - 0x30
                    i += 1
                else:
                    break
            if v > 0xFF:
                raise _Refused("an octal escape above \\377")
            out.append(v)
        elif e == 0x78:
            digits = s[i : i + 2]
            if len(digits) != 2 or not all(chr(d) in "0123456789abcdefABCDEF" for d in digits):
                raise _Refused("a \\x escape without two hex digits")
            out.append(int(digits, 16))
            i += 2
        else:
            out += bytes((0x5C, e))
    return bytes(out)


def _raw_unicode_escape_decode(s: bytes) -> str:
    """Python's ``raw-unicode-escape``, which pickle applies to a UNICODE
    line: bytes are latin-1 code points, except ``\\uXXXX`` and
    ``\\UXXXXXXXX``."""
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        i += 1
        if c != 0x5C or i == n:
            out.append(chr(c))
            continue
        width = {0x75: 4, 0x55: 8}.get(s[i])
        if width is None:
            out.append("\\" + chr(s[i]))
            i += 1
            continue
        i += 1
        digits = s[i : i + width]
        if len(digits) != width:
            raise _Refused("a truncated \\u escape")
        if not all(chr(d) in "0123456789abcdefABCDEF" for d in digits):
            raise _Refused("a \\u escape with a non-hex digit")
        v = int(digits, 16)
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            raise _Refused("a \\u escape of a surrogate or beyond U+10FFFF")
        out.append(chr(v))
        i += width
    return "".join(out)


class _Unpickler:
    """The opcodes of spec/legacy.md section 3.2 over bytes, and no others."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0
        self.frame_end: int | None = None
        self.stack: list = []
        self.memo: dict = {}

    def take(self, n: int, what: str) -> bytes:
        start = self.pos
        remaining = len(self.buf) - start
        if n > remaining:
            raise _Refused(
                "truncated: %s at byte %d needs %d bytes, but only %d remain"
                % (what, start, n, remaining)
            )
        if self.frame_end is not None:
            if start + n > self.frame_end:
                raise _Refused(
                    "%s at byte %d runs past the end of its FRAME at byte %d"
                    % (what, start, self.frame_end)
                )
            if start + n == self.frame_end:
                self.frame_end = None
        self.pos = start + n
        return self.buf[start : start + n]

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "little")

    def line(self, what: str) -> bytes:
        end = self.buf.find(b"\n", self.pos)
        if end < 0:
            raise _Refused("truncated: %s at byte %d has no end of line" % (what, self.pos))
        return self.take(end + 1 - self.pos, what)[:-1]

    def decimal(self, what: str, at: int) -> int:
        line = self.line(what)
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line or len(line) > 19 or not line.isdigit() or not line.isascii():
            raise _Refused("byte %d: %s has no decimal memo index" % (at, what))
        return int(line)

    def pop(self, what: str, at: int) -> object:
        if not self.stack or self.stack[-1] is _MARK:
            raise _Refused("byte %d: %s finds no object on the stack" % (at, what))
        return self.stack.pop()

    def pop_mark(self, what: str, at: int) -> list:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise _Refused("byte %d: %s has no MARK before it" % (at, what))

    def top(self, cls: type, what: str, at: int) -> list:
        if not self.stack:
            noun = "list" if cls is _List else "dict"
            raise _Refused("byte %d: %s finds no %s on the stack" % (at, what, noun))
        top = self.stack[-1]
        if type(top) is not cls:
            if cls is _List:
                raise _Refused("byte %d: %s adds to %s, not to a list" % (at, what, _kind(top)))
            raise _Refused(
                "byte %d: %s sets an item of %s, not of a dict" % (at, what, _kind(top))
            )
        return self.stack[-1]

    def run(self) -> list:
        """The opcodes up to STOP; the dict's (key, value) pairs."""
        buf = self.buf
        while True:
            at = self.pos
            if at == len(buf):
                raise _Refused("truncated: the pickle ends at byte %d without a STOP opcode" % at)
            op = self.take(1, "an opcode")[0]
            if op == 0x2E:  # STOP
                return self.finish(at)
            handler = _HANDLERS.get(op)
            if handler is None:
                raise _rejection(op, at)
            handler(self, op, at)

    # framing
    def proto(self, op: int, at: int) -> None:
        version = self.take(1, "PROTO")[0]
        if at != 0:
            raise _Refused("byte %d: PROTO is not at the start" % at)
        if version > 5:
            raise _Refused(
                "byte %d: pickle protocol %d is newer than any Python writes" % (at, version)
            )

    def frame(self, op: int, at: int) -> None:
        if self.frame_end is not None:
            raise _Refused("byte %d: a FRAME starts before the previous frame ends" % at)
        n = self.uint(8, "FRAME")
        remaining = len(self.buf) - self.pos
        if n > remaining:
            raise _Refused(
                "truncated: the FRAME at byte %d announces %d bytes, but only %d remain"
                % (at, n, remaining)
            )
        if n:
            self.frame_end = self.pos + n

    # containers
    def push_empty(self, op: int, at: int) -> None:
        self.stack.append(_MARK if op == 0x28 else _Dict() if op == 0x7D else _List())

    def strings(self, items: list, what: str, at: int) -> list:
        for item in items:
            if not isinstance(item, (str, bytes)):
                raise _Refused(
                    "byte %d: %s puts %s into a list, but the 'list' value holds only strings"
                    % (at, what, _kind(item))
                )
        return items

    def list_op(self, op: int, at: int) -> None:
        if op == 0x6C:  # LIST
            self.stack.append(_List(self.strings(self.pop_mark("LIST", at), "LIST", at)))
        elif op == 0x61:  # APPEND
            item = self.strings([self.pop("APPEND", at)], "APPEND", at)
            self.top(_List, "APPEND", at).extend(item)
        else:  # APPENDS
            items = self.strings(self.pop_mark("APPENDS", at), "APPENDS", at)
            self.top(_List, "APPENDS", at).extend(items)

    def pairs(self, items: list, what: str, at: int) -> list:
        if len(items) % 2:
            raise _Refused("byte %d: %s has a key without a value" % (at, what))
        out = []
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, (str, bytes)):
                raise _Refused(
                    "byte %d: %s uses %s as a dict key, but the key of an account file is "
                    "the string 'list'" % (at, what, _kind(key))
                )
            if value is _MARK or isinstance(value, _Dict):
                raise _Refused(
                    "byte %d: %s puts %s into a dict, but an account file's dict holds a list"
                    % (at, what, _kind(value))
                )
            out.append((key, value))
        return out

    def dict_op(self, op: int, at: int) -> None:
        if op == 0x64:  # DICT
            self.stack.append(_Dict(self.pairs(self.pop_mark("DICT", at), "DICT", at)))
        elif op == 0x73:  # SETITEM
            value = self.pop("SETITEM", at)
            key = self.pop("SETITEM", at)
            pairs = self.pairs([key, value], "SETITEM", at)
            self.top(_Dict, "SETITEM", at).extend(pairs)
        else:  # SETITEMS
            pairs = self.pairs(self.pop_mark("SETITEMS", at), "SETITEMS", at)
            self.top(_Dict, "SETITEMS", at).extend(pairs)

    # strings
    def unicode_op(self, op: int, at: int) -> None:
        if op == 0x56:  # UNICODE
            try:
                text = _raw_unicode_escape_decode(self.line("UNICODE"))
            except _Refused as e:
                raise _Refused("byte %d: UNICODE holds %s" % (at, e)) from None
        else:
            what, size = {0x58: ("BINUNICODE", 4), 0x8C: ("SHORT_BINUNICODE", 1)}.get(
                op, ("BINUNICODE8", 8)
            )
            data = self.take(self.uint(size, what), what)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Refused("byte %d: %s is not valid UTF-8" % (at, what)) from None
        self.stack.append(text)

    def bytes_op(self, op: int, at: int) -> None:
        if op == 0x53:  # STRING
            line = self.line("STRING")
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) < 2 or line[0] != line[-1] or line[0] not in b"'\"":
                raise _Refused("byte %d: the STRING argument is not quoted" % at)
            try:
                data = _escape_decode(line[1:-1])
            except _Refused as e:
                raise _Refused("byte %d: STRING holds %s" % (at, e)) from None
        else:
            what, size = {
                0x55: ("SHORT_BINSTRING", 1),
                0x43: ("SHORT_BINBYTES", 1),
                0x54: ("BINSTRING", 4),
                0x42: ("BINBYTES", 4),
                0x8E: ("BINBYTES8", 8),
            }[op]
            n = self.uint(size, what)
            if op == 0x54 and n > 0x7FFFFFFF:
                raise _Refused("byte %d: BINSTRING has a negative length" % at)
            data = self.take(n, what)
        self.stack.append(bytes(data))

    # memo
    def put(self, op: int, at: int) -> None:
        if op == 0x70:
            index, what = self.decimal("PUT", at), "PUT"
        elif op == 0x71:
            index, what = self.uint(1, "BINPUT"), "BINPUT"
        elif op == 0x72:
            index, what = self.uint(4, "LONG_BINPUT"), "LONG_BINPUT"
        else:
            index, what = len(self.memo), "MEMOIZE"
        if not self.stack or self.stack[-1] is _MARK:
            raise _Refused("byte %d: %s finds no object to memoize" % (at, what))
        top = self.stack[-1]
        self.memo[index] = top if isinstance(top, (str, bytes)) else None

    def get(self, op: int, at: int) -> None:
        if op == 0x67:
            index, what = self.decimal("GET", at), "GET"
        elif op == 0x68:
            index, what = self.uint(1, "BINGET"), "BINGET"
        else:
            index, what = self.uint(4, "LONG_BINGET"), "LONG_BINGET"
        if index not in self.memo:
            raise _Refused(
                "byte %d: %s refers to memo entry %d, which was never stored" % (at, what, index)
            )
        value = self.memo[index]
        if value is None:
            raise _Refused(
                "byte %d: %s refers to a list or dict again, which account files never do"
                % (at, what)
            )
        self.stack.append(value)

    def finish(self, at: int) -> list:
        extra = len(self.buf) - self.pos
        if extra:
            raise _Refused("%d bytes of extra data follow the STOP opcode at byte %d" % (extra, at))
        if any(item is _MARK for item in self.stack):
            raise _Refused("byte %d: STOP with a MARK that was never closed" % at)
        if not self.stack:
            raise _Refused("byte %d: STOP with nothing on the stack" % at)
        if len(self.stack) > 1:
            raise _Refused(
                "byte %d: STOP leaves %d objects on the stack, but an account file is one dict"
                % (at, len(self.stack))
            )
        top = self.stack[0]
        if not isinstance(top, _Dict):
            raise _Refused("the pickle holds %s, but an account file holds a dict" % _kind(top))
        return list(top)


_HANDLERS = {
    0x80: _Unpickler.proto,
    0x95: _Unpickler.frame,
    0x28: _Unpickler.push_empty,
    0x7D: _Unpickler.push_empty,
    0x5D: _Unpickler.push_empty,
    0x6C: _Unpickler.list_op,
    0x61: _Unpickler.list_op,
    0x65: _Unpickler.list_op,
    0x64: _Unpickler.dict_op,
    0x73: _Unpickler.dict_op,
    0x75: _Unpickler.dict_op,
    0x58: _Unpickler.unicode_op,
    0x8C: _Unpickler.unicode_op,
    0x8D: _Unpickler.unicode_op,
    0x56: _Unpickler.unicode_op,
    0x53: _Unpickler.bytes_op,
    0x55: _Unpickler.bytes_op,
    0x43: _Unpickler.bytes_op,
    0x54: _Unpickler.bytes_op,
    0x42: _Unpickler.bytes_op,
    0x8E: _Unpickler.bytes_op,
    0x70: _Unpickler.put,
    0x71: _Unpickler.put,
    0x72: _Unpickler.put,
    0x94: _Unpickler.put,
    0x67: _Unpickler.get,
    0x68: _Unpickler.get,
    0x6A: _Unpickler.get,
}


def _stored(value: object, field: str) -> bytes:
    """The 25 stored bytes of a string (spec/legacy.md section 3.2)."""
    if isinstance(value, str):
        if len(value) != _KEY_LEN:
            raise _Refused(
                "the stored %s is %d characters long, not 25" % (field, len(value))
            )
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise _Refused(
                "the stored %s holds a character above U+00FF, which Secure-Python-Link "
                "never writes" % field
            ) from None
    if len(value) != _KEY_LEN:  # type: ignore[arg-type]
        raise _Refused("the stored %s is %d bytes long, not 25" % (field, len(value)))  # type: ignore[arg-type]
    return value  # type: ignore[return-value]


def parse_account_file(data: bytes) -> tuple[bytes, bytes]:
    """The stored username and password of an account file's bytes, or
    ``_Refused`` with the reason."""
    if not data:
        raise _Refused("the file is empty")
    if len(data) > LEGACY_MAX_FILE_BYTES:
        raise _Refused(_too_large_reason(len(data)))
    pairs = _Unpickler(data).run()
    if not any(key in ("list", b"list") for key, _ in pairs):
        raise _Refused("the dict has no 'list' key")
    if len(pairs) != 1:
        raise _Refused(
            "the dict holds %d entries, but an account file holds only 'list'" % len(pairs)
        )
    value = pairs[0][1]
    if not isinstance(value, _List):
        raise _Refused("the 'list' value is a string, not a list of two strings")
    if len(value) != 2:
        raise _Refused(
            "the 'list' value holds %d strings, but an account file holds two (username "
            "and password)" % len(value)
        )
    return _stored(value[0], "username"), _stored(value[1], "password")


def _too_large_reason(size: int) -> str:
    return (
        "the file is %d bytes, and account files are far smaller than the %d bytes read at most"
        % (size, LEGACY_MAX_FILE_BYTES)
    )


def _read_file(path: _pure._Path) -> bytes:
    try:
        fd = os.open(path, _open_flags())
    except OSError as e:
        raise _io_error("reading", path, e) from None
    except ValueError:
        raise StoreIOError(
            "reading %s failed: file name contained an unexpected NUL byte; check the path "
            "and its permissions" % _shown(path)
        ) from None
    try:
        try:
            size = os.fstat(fd).st_size
        except OSError as e:
            raise _io_error("reading", path, e) from None
        if size > LEGACY_MAX_FILE_BYTES:
            raise _not_account_file(path, _too_large_reason(size))
        data = _read_at_most(fd, LEGACY_MAX_FILE_BYTES, size, path)
        if len(data) > LEGACY_MAX_FILE_BYTES:
            raise _not_account_file(path, _too_large_reason(len(data)))
        return data
    finally:
        os.close(fd)


def _not_account_file(path: _pure._Path, reason: str) -> StoreCorrupt:
    return StoreCorrupt(
        "%s is not a Secure-Python-Link account file (%s); pass the file that the old keys "
        "were made for" % (_shown(path), reason)
    )


def recover_legacy(path, user_key: str, pass_key: str) -> Credentials:
    """The credentials of the Secure-Python-Link account file at ``path``,
    opened with its two old keys. A wrong key is caught only when the frame
    shows it (spec/legacy.md section 4): the old format has no tag."""
    # The arguments' types first, in the native module's order and words.
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise UsageError(
            "path must be a path (str, bytes or os.PathLike), not %s" % type(path).__name__
        )
    user_text = _pure._key_arg("user_key", user_key)
    pass_text = _pure._key_arg("pass_key", pass_key)
    user = _legacy_key(user_text)
    try:
        password = _legacy_key(pass_text)
    except BaseException:
        _wipe(user)
        raise
    try:
        data = _read_file(path)
        try:
            stored_user, stored_pass = parse_account_file(data)
        except _Refused as e:
            raise _not_account_file(path, str(e)) from None
        values: list[bytearray] = []
        for field, stored, key in (("username", stored_user, user), ("password", stored_pass, password)):
            value = _open_value(stored, key)
            if value is None:
                for v in values:
                    _wipe(v)
                raise AuthenticationFailed(
                    "legacy key does not open this file: the %s key does not fit %s; check the "
                    "keys and their order (user key first)" % (field, _shown(path))
                )
            values.append(value)
        return _pure._credentials(values[0], values[1])
    finally:
        _wipe(user)
        _wipe(password)
