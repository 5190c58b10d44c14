"""Secure-Python-Link as its users had it, re-implemented for the tests.

``write_account`` is a faithful re-implementation of the original
``WorkflowSecurity.secure_account``: two keys of 25 characters drawn from
its 72-character alphabet with the ``random`` module, each value framed to
25 characters (the value, random alphabet characters to 23, the length as
two digits) and XORed with its key, and ``{'list': [enc_user, enc_pass]}``
pickled to the file. For ASCII values the bytes are exactly the
original's; the original could not secure other values (its XOR of UTF-8
bytes ran past the key), so those are framed as spec/legacy.md says, the
form ``otp-link import-legacy`` reads.

``form`` says which Python wrote the pickle: Python 3's ``pickle.dump``
(its default protocol, or protocol 3 of Python 3.0 to 3.7), or Python 2's,
built byte for byte since Python 3 cannot write Python 2's opcodes for its
``str``: protocol 0 with ``unicode`` values (``UNICODE`` lines, what the
original's ``decode('utf-8')`` gave on Python 2), with ``str`` values
(``STRING`` lines), as ``cPickle`` numbers its memo, and protocol 2.

``CHILD`` and ``ADMIN`` are scripts written against the original API (a
child that recovers, an administrator's ``SetDBAccount``); the tests run
them as they are and with only their import line changed.
"""

from __future__ import annotations

import pickle
import random

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&*+=?#@"
KEY_LEN = 25
FORMS = ("py3", "py3-proto3", "py2-proto0", "py2-proto0-str", "py2-cpickle", "py2-proto2")

CHILD = """\
import json
import sys

import WorkflowSecurity

user_key, pass_key, file = sys.argv[1:4]
success, user, password = WorkflowSecurity.get_account_details(user_key, pass_key, file)
print(json.dumps([success, user, password]))
"""

ADMIN = """\
import json

import WorkflowSecurity

username = input('Enter user name: ')
password = input('Enter password : ')
filename = input('Enter filename : ')
success, user_key, pass_key = WorkflowSecurity.secure_account(username, password, filename)
print()
print(json.dumps([success, user_key, pass_key]))
"""

IMPORT_LINE = "import WorkflowSecurity\n"
MIGRATED_IMPORT_LINE = "import otp_link.compat as WorkflowSecurity\n"


def migrated(script: str) -> str:
    """The script with its one import line changed, and nothing else."""
    assert script.count(IMPORT_LINE) == 1
    return script.replace(IMPORT_LINE, MIGRATED_IMPORT_LINE)


def make_key(rng: random.Random) -> str:
    return "".join(ALPHABET[rng.randint(0, len(ALPHABET) - 1)] for _ in range(KEY_LEN))


def encrypt(value: str, key: str, rng: random.Random) -> str:
    data = value.encode("utf-8")
    assert len(data) <= KEY_LEN - 2, value
    padding = "".join(ALPHABET[rng.randint(0, len(ALPHABET) - 1)] for _ in range(KEY_LEN - 2 - len(data)))
    frame = data + padding.encode("ascii") + ("%02d" % len(data)).encode("ascii")
    return bytes(f ^ k for f, k in zip(frame, key.encode("ascii"))).decode("latin-1")


def decrypt(stored: str, key: str) -> str | None:
    """What the frame gives with ``key``, or None when it shows the key to
    be wrong (spec/legacy.md section 4)."""
    frame = bytes(ord(s) ^ k for s, k in zip(stored, key.encode("ascii")))
    tail = frame[-2:]
    if not tail.isdigit() or int(tail) > KEY_LEN - 2:
        return None
    try:
        return frame[: int(tail)].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _py2_unicode_line(value: str) -> bytes:
    # Python 2's pickle: backslash and newline as \\u escapes, the rest
    # raw-unicode-escape (latin-1 bytes below U+0100).
    value = value.replace("\\", "\\u005c").replace("\n", "\\u000a")
    return value.encode("raw_unicode_escape")


def _py2_str_repr(data: bytes) -> bytes:
    return repr(data)[1:].encode("ascii")


def pickled(stored: list, form: str) -> bytes:
    """``pickle.dump({'list': stored}, f)`` as the Python of ``form`` wrote it."""
    user, pw = stored
    if form == "py3":
        return pickle.dumps({"list": stored})
    if form == "py3-proto3":
        return pickle.dumps({"list": stored}, protocol=3)
    if form in ("py2-proto0", "py2-cpickle"):
        n = 0 if form == "py2-proto0" else 1  # cPickle numbers its memo from 1
        return b"(dp%d\nS'list'\np%d\n(lp%d\nV%s\np%d\naV%s\np%d\nas." % (
            n, n + 1, n + 2, _py2_unicode_line(user), n + 3, _py2_unicode_line(pw), n + 4,
        )  # fmt: skip
    if form == "py2-proto0-str":
        u, p = (_py2_str_repr(v.encode("latin-1")) for v in stored)
        return b"(dp0\nS'list'\np1\n(lp2\nS" + u + b"\np3\naS" + p + b"\np4\nas."
    if form == "py2-proto2":
        u, p = (v.encode("utf-8") for v in stored)
        return (
            b"\x80\x02}q\x00U\x04listq\x01]q\x02(X"
            + len(u).to_bytes(4, "little") + u + b"q\x03X"
            + len(p).to_bytes(4, "little") + p + b"q\x04es."
        )  # fmt: skip
    raise ValueError(form)


def write_account(user: str, password: str, file, form: str, rng: random.Random) -> tuple:
    """The original's ``secure_account(user, password, file)``, writing the
    pickle as ``form``'s Python did: ``(True, user_key, pass_key)``. Draws
    again until swapping the two keys is caught by the frame, so that tests
    can rely on a swap failing (the old format catches it only mostly)."""
    while True:
        user_key, pass_key = make_key(rng), make_key(rng)
        stored = [encrypt(user, user_key, rng), encrypt(password, pass_key, rng)]
        if decrypt(stored[0], pass_key) is None or decrypt(stored[1], user_key) is None:
            break
    with open(file, "wb") as f:
        f.write(pickled(stored, form))
    return True, user_key, pass_key


def loads_check(data: bytes) -> object:
    """Python's own unpickler on the tests' own files (never on others)."""
    return pickle.loads(data, encoding="latin1")


#: The original module's two functions, over ``write_account``'s files,
#: for running the original scripts unchanged (as module WorkflowSecurity).
WORKFLOW_SECURITY = '''\
import pickle
import random
import sys

sys.path.insert(0, %(here)r)
import original_api

_rng = random.Random()


def secure_account(user, password, file):
    return original_api.write_account(user, password, file, "py3", _rng)


def get_account_details(user_key, pass_key, file):
    with open(file, "rb") as f:
        values = pickle.load(f, encoding="latin1")["list"]
    user = original_api.decrypt(values[0], user_key)
    password = original_api.decrypt(values[1], pass_key)
    if user is None or password is None:
        return False, "", ""
    return True, user, password
'''
