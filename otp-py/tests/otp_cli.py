"""The ``otp-link`` command for the Python tests, and what they share.

Stores and keys in these tests are made by the real binary, the one
implementation the Python readers must agree with: ``$OTP_LINK_BIN`` (the
Rust harness sets it), else a ``cargo build`` of it in this checkout. Where
there is neither, tests that need it are skipped with the reason, except
under ``CI=true``, where they fail.

The tests are ``unittest`` test cases, so they run under pytest and, on a
machine without pytest, under ``python3 -m unittest`` alike.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

import otp_link
from otp_link import pure

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(otp_link.__file__).resolve().parent
VECTORS = REPO / "spec" / "vectors"
LEGACY_FIXTURES = REPO / "tests" / "fixtures" / "legacy"
ON_CI = os.environ.get("CI") == "true"

_binary: list = []


def _find_binary() -> str | None:
    named = os.environ.get("OTP_LINK_BIN")
    if named:
        return named if os.path.isfile(named) else None
    cargo = shutil.which("cargo")
    if cargo is None or not (REPO / "Cargo.toml").is_file():
        return None
    built = subprocess.run(
        [cargo, "build", "--quiet", "-p", "otp-cli", "--bin", "otp-link"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if built.returncode != 0:
        return None
    meta = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target = Path(json.loads(meta.stdout)["target_directory"])
    path = target / "debug" / ("otp-link.exe" if os.name == "nt" else "otp-link")
    return str(path) if path.is_file() else None


def binary() -> str | None:
    """The otp-link binary, or None."""
    if not _binary:
        _binary.append(_find_binary())
    return _binary[0]


def require_binary(case: unittest.TestCase) -> str:
    """The binary, or the test is skipped (failed under CI=true)."""
    found = binary()
    if found is None:
        message = "no otp-link binary: set OTP_LINK_BIN or install cargo to build it"
        if ON_CI:
            case.fail(message)
        case.skipTest(message)
    return found


def otp(store: os.PathLike | str | None, *args: str, stdin: bytes = b"", env=None):
    """Runs ``otp-link [--store STORE] ARGS``; the CompletedProcess."""
    command = [binary() or "otp-link"]
    if store is not None:
        command += ["--store", str(store)]
    return subprocess.run(
        command + list(args),
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def secure_batch(store, width: int, accounts: list) -> list:
    """Secures ``accounts`` (name, username, password) at ``width`` in one
    batch; their (user_key, pass_key), in order."""
    lines = "".join(
        json.dumps({"account": n, "username": u, "password": p}) + "\n" for n, u, p in accounts
    )
    done = otp(store, "secure-account", "--batch", "--width", str(width), stdin=lines.encode())
    if done.returncode != 0:
        raise AssertionError("secure-account --batch: %s" % done.stderr.decode())
    issued = [json.loads(line) for line in done.stdout.decode().splitlines()]
    return [(k["user_key"], k["pass_key"]) for k in issued]


def write_private(path, data: bytes) -> Path:
    path = Path(path)
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


#: Characters values are drawn from: ASCII (quotes, backslash, $, tab,
#: line breaks), Latin-1, combining marks, bidirectional and format
#: characters, CJK, emoji: everything a store must carry but NUL.
_ALPHABET = (
    [chr(c) for c in range(1, 0x80)]
    + list("éüßñøÆ€£¥©®±µ¶·¿ÀÿĀőŒšŸƒ")
    + ["\u0301", "\u0308", "\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad"]
    + list("日本語のパスワード密码비밀번호сЕкРеТشكرا")
    + ["\U0001f600", "\U0001f510", "\U0001f468\u200d\U0001f469", "\U00010348"]
)


def random_value(rng: random.Random, max_bytes: int) -> str:
    """A random value of at most ``max_bytes`` UTF-8 bytes (of any length
    up to that), never holding NUL."""
    target = rng.randint(0, max_bytes)
    out = []
    size = 0
    while True:
        c = rng.choice(_ALPHABET)
        n = len(c.encode("utf-8"))
        if size + n > target:
            return "".join(out)
        out.append(c)
        size += n


def native():
    """The native implementation (``otp_link`` itself) when it is the one
    in use, else None: comparisons with it are skipped without it."""
    return otp_link if otp_link.IMPLEMENTATION == "native" else None


def implementations() -> list:
    """(label, module) of every implementation present: pure always."""
    found = [("pure", pure)]
    if native() is not None:
        found.append(("native", native()))
    return found


def outcome(call) -> tuple:
    """What a call gives, as comparable data: ("ok", result) or (the
    exception's class name, its exit code); any exception that is not an
    OtpLinkError is ("crash", its type), which no test accepts."""
    try:
        result = call()
    except pure.OtpLinkError as e:
        return (type(e).__name__, e.exit_code)
    except Exception as e:  # noqa: BLE001 - the point is to catch any
        return ("crash", "%s: %s" % (type(e).__name__, e))
    if not hasattr(result, "password_bytes"):
        return ("ok", str(result) if isinstance(result, os.PathLike) else result)
    with result:
        return ("ok", (result.username, result.password))


def pure_script() -> list:
    """The command that runs pure.py as a script."""
    return [sys.executable, str(PACKAGE / "pure.py")]


def run_pure_script(*args: str, stdin: bytes = b"", env=None):
    return subprocess.run(
        pure_script() + list(args),
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
