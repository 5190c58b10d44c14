"""Secure-Python-Link's two functions, over otp-link: migrate a script by
changing one line.

Scripts written for Secure-Python-Link call::

    import WorkflowSecurity
    success, user, password = WorkflowSecurity.get_account_details(user_key, pass_key, file)

Change the import to ``import otp_link.compat as WorkflowSecurity`` and
nothing else: the same call then opens old keys and old pickle files *and*
new otp-link keys, so a site can move its accounts over one at a time.

``get_account_details(user_key, pass_key, file)``
    otp-link keys (``otp1-...``) are opened with ``otp_link.recover``: from
    the store at ``file`` when ``file`` names an otp-link store (a file that
    begins as a store does, or a path ending in ``.cbor``), else from the
    default store (``$OTP_LINK_STORE``, else the per-user one). Old keys
    read ``file`` as a Secure-Python-Link pickle with the bounded reader
    (``otp_link.recover_legacy``), which never unpickles. Either way the
    result is ``(True, username, password)``; any failure is
    ``(False, '', '')``, as the original returned, with the reason (never
    a key or a value) on the ``otp_link`` logger at WARNING. An old file
    opened successfully is reported once per file and process, at WARNING,
    as one to import with ``otp-link import-legacy``.

``secure_account(user, password, file)``
    Seals the two values into the otp-link store and returns
    ``(True, user_key, pass_key)`` with the new keys, or ``(False, '', '')``.
    It never writes a pickle. The account is named after ``file``'s stem
    (``db.pkl`` is account ``db``); the store is ``file`` itself when it
    names an otp-link store as above, else the default store. An account
    of that name is replaced (new keys; the old ones stop working), as the
    original overwrote its file. It runs the ``otp-link`` command
    (``$OTP_LINK_BIN`` if set, else ``otp-link`` on ``PATH``), handing it
    the values on stdin, never on its command line: neither Python
    implementation writes stores.

What changes in behaviour: a wrong, swapped or rotated-away otp-link key
is always detected, so the call returns ``(False, '', '')`` where the
original sometimes returned garbage; and failures the original raised as
exceptions (a missing file, a key of the wrong length) return
``(False, '', '')`` too, as its docstring promised.
"""

from __future__ import annotations

import logging
import os

from . import MismatchedKeys, OtpLinkError, UsageError, recover, recover_legacy
from .pure import error_for_exit_code

__all__ = ["get_account_details", "secure_account"]

_log = logging.getLogger("otp_link")
_FAILED = (False, "", "")
#: The files already reported as ones to import, so each is named once.
_legacy_noted: set = set()
#: How every store this and later versions write begins: a map head, then
#: "format": "otp-link store" (spec/README.md, section 8).
_STORE_HEAD = b"\x66format\x6eotp-link store"


def _is_otp_link_key(key: object) -> bool:
    """otp-link keys hold '-', which no Secure-Python-Link key can (its
    alphabet is a-z A-Z 0-9 !$%&*+=?#@); so do malformed new keys such as
    ``OTP1-...`` or ``otp2-...``, which should be reported as such."""
    return isinstance(key, str) and "-" in key


def _names_store(file: object) -> bool:
    """Whether ``file`` names an otp-link store: a path ending in ``.cbor``,
    or a file whose first bytes are a store's."""
    if not isinstance(file, (str, bytes, os.PathLike)):
        return False
    path = os.fsdecode(file)
    if path.lower().endswith(".cbor"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(len(_STORE_HEAD) + 1)
    except (OSError, ValueError):
        return False
    return len(head) > len(_STORE_HEAD) and head[0] >> 5 == 5 and head[1:] == _STORE_HEAD


def _failed(function: str, error: BaseException) -> tuple[bool, str, str]:
    if isinstance(error, OtpLinkError):
        _log.warning("%s failed: %s (exit code %d)", function, error.message, error.exit_code)
    else:  # a wrong argument type, or a bug: never its text, which might hold a value
        _log.warning("%s failed: %s", function, type(error).__name__)
    return _FAILED


def get_account_details(user_key, pass_key, file):
    """``(True, username, password)`` for two keys, otp-link or
    Secure-Python-Link ones; ``(False, '', '')`` on any failure, with the
    reason on the ``otp_link`` logger."""
    try:
        new_user, new_pass = _is_otp_link_key(user_key), _is_otp_link_key(pass_key)
        if new_user != new_pass:
            raise MismatchedKeys(
                "keys do not match: one key is an otp-link key and the other a Secure-Python-Link key; pass both "
                "keys of the account, of one kind"
            )
        if new_user:
            credentials = recover(user_key, pass_key, store=file if _names_store(file) else None)
        else:
            credentials = recover_legacy(file, user_key, pass_key)
            shown = os.fsdecode(file)
            if shown not in _legacy_noted:
                _legacy_noted.add(shown)
                _log.warning(
                    "%s is a Secure-Python-Link file: import its account into otp-link "
                    "(otp-link import-legacy FILE 'OLD_USER_KEY' 'OLD_PASS_KEY' --account NAME) "
                    "and give the host the new keys",
                    shown,
                )
        with credentials:
            return True, credentials.username, credentials.password
    except Exception as e:
        return _failed("get_account_details", e)


def _otp_link_command() -> str:
    command = os.environ.get("OTP_LINK_BIN")
    if command:
        return command
    import shutil

    found = shutil.which("otp-link")
    if found is None:
        raise OtpLinkError(
            "the otp-link command was not found: install it on PATH, or set OTP_LINK_BIN "
            "to its path"
        )
    return found


def _run(args: list, stdin: bytes) -> tuple[int, bytes, str]:
    import subprocess

    try:
        done = subprocess.run(
            [_otp_link_command()] + args,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            check=False,
        )
    except OSError as e:
        raise OtpLinkError("running otp-link failed: %s" % e.strerror) from None
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    # The last line is the error, when there is one; "otp-link: " prefixes each.
    line = lines[-1][len("otp-link: ") :] if lines else "no message"
    return done.returncode, done.stdout, line


def _keys(stdout: bytes) -> tuple[str, str]:
    import json

    issued = json.loads(stdout.decode("utf-8").splitlines()[0])
    return issued["user_key"], issued["pass_key"]


def secure_account(user, password, file):
    """``(True, user_key, pass_key)`` after sealing ``user`` and
    ``password`` as the account named after ``file``'s stem, replacing an
    account of that name; ``(False, '', '')`` on any failure."""
    try:
        import json
        import pathlib

        if not all(isinstance(v, str) for v in (user, password)):
            raise UsageError("the user and the password must be str")
        if not isinstance(file, (str, bytes, os.PathLike)):
            raise UsageError("file must be a path (str or os.PathLike)")
        name = pathlib.Path(os.fsdecode(file)).stem
        store = ["--store", os.fsdecode(file)] if _names_store(file) else []
        line = json.dumps({"account": name, "username": user, "password": password})
        code, stdout, message = _run(store + ["secure-account", "--batch"], line.encode() + b"\n")
        if code == 6:  # the account exists: replace it, as the original overwrote its file
            if any(c in v for v in (user, password) for c in "\r\n"):
                raise UsageError(
                    "account '%s' exists, and a value with a line break cannot replace it "
                    "(otp-link secure-account --replace reads one line each); remove the "
                    "account first with 'otp-link remove'" % name
                )
            code, stdout, message = _run(
                store + ["secure-account", name, "--replace", "--format", "json"],
                ("%s\n%s\n" % (user, password)).encode(),
            )
        if code != 0:
            raise error_for_exit_code(code, message)
        user_key, pass_key = _keys(stdout)
        return True, user_key, pass_key
    except Exception as e:
        return _failed("secure_account", e)
