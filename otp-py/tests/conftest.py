"""What the otp_link test modules share: the otp-link binary, stores in
temporary directories, and the repository's test data as parameters.

- ``otp_link_bin``: the ``otp-link`` binary, from ``OTP_LINK_BIN`` (which
  tests/tests/python.rs sets); tests that need it are skipped without it.
- ``otp``: ``otp(store, *args, input="")`` runs ``otp-link --store STORE
  ARGS`` and returns the ``subprocess.CompletedProcess`` (text mode).
- ``secure``: ``secure(store, account, username, password, *args)`` secures
  an account with the binary and returns its ``(user_key, pass_key)``.
- ``store``: a path ``store.cbor`` in the test's temporary directory, not
  yet created.
- ``write_private``: ``write_private(path, data)`` writes a new file of
  mode 0600 and returns its path.
- Parameters: a test taking ``vector`` runs once per ``spec/vectors/*.json``
  file, with ``(name, parsed JSON)``; one taking ``legacy_fixture`` once per
  line of ``tests/fixtures/legacy/fixtures.txt``, with a dict (``kind`` "ok"
  with ``file``, ``user_key``, ``pass_key``, ``username``, ``password``; or
  "reject" with ``file``, ``reason``; ``file`` is a full path).

Every test runs with ``OTP_LINK_STORE`` unset and ``HOME`` and
``XDG_DATA_HOME`` in its temporary directory, so that no default lookup
reaches a real store.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VECTORS_DIR = REPO / "spec" / "vectors"
LEGACY_DIR = REPO / "tests" / "fixtures" / "legacy"


def _vectors():
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(VECTORS_DIR.glob("*.json"))]


def _legacy_fixtures():
    text = lambda h: bytes.fromhex(h).decode("utf-8")
    rows = []
    for line in (LEGACY_DIR / "fixtures.txt").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if fields[0] == "ok":
            _, file, uk, pk, user, pw = fields
            rows.append(dict(kind="ok", file=LEGACY_DIR / file, user_key=text(uk), pass_key=text(pk),
                             username=text(user), password=text(pw)))
        elif fields[0] == "reject":
            _, file, reason = fields
            rows.append(dict(kind="reject", file=LEGACY_DIR / file, reason=reason))
        else:
            raise ValueError(f"bad fixtures.txt line {line!r}")
    return rows


def pytest_generate_tests(metafunc):
    if "vector" in metafunc.fixturenames:
        vectors = _vectors()
        assert vectors, f"no test vectors in {VECTORS_DIR}"
        metafunc.parametrize("vector", vectors, ids=[name for name, _ in vectors])
    if "legacy_fixture" in metafunc.fixturenames:
        rows = _legacy_fixtures()
        assert rows, f"no fixtures in {LEGACY_DIR}"
        metafunc.parametrize("legacy_fixture", rows, ids=[row["file"].name for row in rows])


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch, tmp_path):
    monkeypatch.delenv("OTP_LINK_STORE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="session")
def otp_link_bin():
    path = os.environ.get("OTP_LINK_BIN")
    if not path:
        pytest.skip("OTP_LINK_BIN is not set: it names the otp-link binary (tests/tests/python.rs sets it)")
    path = Path(path)
    assert path.is_file(), f"OTP_LINK_BIN={path} is not a file"
    return path


@pytest.fixture
def otp(otp_link_bin):
    def run(store, *args, input=""):
        env = {k: v for k, v in os.environ.items() if k != "OTP_LINK_STORE"}
        return subprocess.run([str(otp_link_bin), "--store", str(store), *map(str, args)], input=input,
                              capture_output=True, text=True, env=env, timeout=60)

    return run


@pytest.fixture
def secure(otp):
    def secure_account(store, account, username, password, *args):
        done = otp(store, "secure-account", account, *args, input=f"{username}\n{password}\n")
        assert done.returncode == 0, done.stderr
        user_key, pass_key = done.stdout.split()
        return user_key, pass_key

    return secure_account


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store.cbor"


@pytest.fixture
def write_private():
    def write(path, data):
        """Writes ``data`` (bytes) to a new file ``path`` of mode 0600."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)
        return Path(path)

    return write
