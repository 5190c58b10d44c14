"""The native extension, otp_link._native, through the package otp_link.

Every read goes through otp-core, so the reference for each outcome is the
``otp-link`` binary run on the same store and keys: a failure must raise the
class for the binary's exit code with the binary's message (its stderr line
without ``otp-link: ``), and a success must give the values the binary
prints. tests/tests/python.rs installs the wheel, sets ``OTP_LINK_BIN`` and
``OTP_LINK_REQUIRE_NATIVE=1`` and runs this file under ``cargo test``.
"""

import copy
import os
import json
import pickle
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import otp_link

if otp_link.IMPLEMENTATION != "native" and os.environ.get("OTP_LINK_REQUIRE_NATIVE") != "1":
    pytest.skip("the native extension otp_link._native is not installed", allow_module_level=True)

# Which class each layer of spec/vectors raises (spec/README.md; the layers
# of tests/src/lib.rs). Frame failures are authentication failures by design.
LAYER_CLASS = {
    "key": otp_link.MalformedKey,
    "pair": otp_link.MismatchedKeys,
    "store": otp_link.StoreCorrupt,
    "version": otp_link.StoreCorrupt,
    "record": otp_link.UnknownAccount,
    "auth": otp_link.AuthenticationFailed,
    "frame": otp_link.AuthenticationFailed,
    "expired": otp_link.KeysExpired,
    # Launch keys that can open nothing any more (spec/launch.md section 9).
    "spent": otp_link.KeysExpired,
    "revoked": otp_link.KeysExpired,
    "gone": otp_link.KeysExpired,
}


def comparable(message):
    """A message with what may differ between two correct runs taken out:
    the clock's time (an expired account's message names the time of the
    check, which may tick between two runs), and the C library's wording of
    an operating-system error (the static musl binary says "Symbolic link
    loop" where the module, linked with glibc, says "Too many levels of
    symbolic links"; the errno beside it stays)."""
    message = re.sub(r"\(the clock reads [^)]*\)", "(the clock reads ...)", message)
    return re.sub(r": [^:;]*\(os error (\d+)\)", r": (os error \1)", message)


def cli_failure(done):
    """The exit code and message of a failed otp-link run."""
    assert done.returncode != 0, done.stdout
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("otp-link: "), done.stderr
    return done.returncode, lines[0][len("otp-link: "):]


def assert_raises_as_cli(call, done, cls, secrets=()):
    """``call()`` raises ``cls``, with the exit code and message of the
    failed otp-link run ``done``, and none of ``secrets`` in its text."""
    code, message = cli_failure(done)
    with pytest.raises(otp_link.OtpLinkError) as caught:
        call()
    error = caught.value
    assert type(error) is cls, f"{type(error).__name__}: {error}"
    assert error.exit_code == code == cls.exit_code
    assert str(error) == error.message
    assert comparable(error.message) == comparable(message)
    for secret in secrets:
        assert secret not in str(error) and secret not in repr(error)
    return error


def test_the_native_extension_is_the_implementation_in_use():
    from otp_link import _native

    assert otp_link.IMPLEMENTATION == "native"
    for name in ("recover", "verify", "recover_legacy", "default_store_path", "Credentials"):
        assert getattr(otp_link, name) is getattr(_native, name), name


def test_importing_otp_link_leaves_the_pure_reader_unloaded_until_an_exception_is_needed():
    """The import budget (2 ms over ``python -c pass``) has no room for
    otp_link.pure's imports: its classes load on first use."""
    probe = (
        "import sys, otp_link\n"
        "assert 'otp_link.pure' not in sys.modules, sorted(m for m in sys.modules if 'otp' in m)\n"
        "assert 'AuthenticationFailed' in dir(otp_link)\n"
        "try:\n"
        "    otp_link.recover('not-a-key', 'not-a-key')\n"
        "except otp_link.MalformedKey as e:\n"
        "    assert type(e) is sys.modules['otp_link.pure'].MalformedKey\n"
        "from otp_link import OtpLinkError, UsageError\n"
        "assert OtpLinkError is sys.modules['otp_link.pure'].OtpLinkError\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
    from otp_link import pure

    for name in otp_link._EXCEPTIONS:
        assert getattr(otp_link, name) is getattr(pure, name)
        assert issubclass(getattr(otp_link, name), otp_link.OtpLinkError)
    with pytest.raises(AttributeError):
        otp_link.NoSuchError


# ---------------------------------------------------------------- vectors


def vector_files(directory, v, write_private):
    """The vector's store in ``directory`` and, for a launch vector, its
    record where spec/README.md section 12 puts it (``STORE.launch/ID.COUNT``,
    the directory 0700), unless it has none; the store's path. What an
    earlier read left there is removed first."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    path = write_private(directory / "store.cbor", bytes.fromhex(v["store"]))
    launch = v.get("launch")
    if launch and launch["count"] is not None:
        records = directory / "store.cbor.launch"
        records.mkdir(mode=0o700)
        os.chmod(records, 0o700)
        write_private(records / f"{launch['id']}.{launch['count']}", bytes.fromhex(launch["record"]))
    return path


def launch_files(path):
    """The names in the launch directory beside the store ``path``."""
    records = path.parent / "store.cbor.launch"
    return sorted(p.name for p in records.iterdir()) if records.is_dir() else []


def test_vector(vector, otp, tmp_path, write_private):
    """Each vector of spec/vectors reads as its layer says, as the binary reads it.

    Each reader gets the files afresh, at the same path (messages name
    it), since reading a launch vector with success spends its use: its
    record file is renamed to ``ID.(COUNT+1)``; a failure leaves it as it
    was, and so does ``verify``."""
    name, v = vector
    directory = tmp_path / "vector"
    fresh = lambda: vector_files(directory, v, write_private)
    path = fresh()
    before = launch_files(path)
    spent = before
    launch = v.get("launch")
    if v["fails_at"] == "none" and launch and launch["count"] is not None:
        spent = [f"{launch['id']}.{launch['count'] + 1}"]
    done = otp(path, "recover", v["user_key"], v["pass_key"])
    assert launch_files(path) == spent, "the binary"

    def recover():
        fresh()
        try:
            return otp_link.recover(v["user_key"], v["pass_key"], store=path)
        finally:
            assert launch_files(path) == spent, "recover"

    def verify():
        fresh()
        try:
            return otp_link.verify(v["user_key"], v["pass_key"], store=path)
        finally:
            assert launch_files(path) == before, "verify spends nothing"

    if v["fails_at"] == "none":
        assert done.returncode == 0, done.stderr
        credentials = recover()
        assert (credentials.username, credentials.password) == (v["username"], v["password"])
        assert done.stdout == f"{v['username']}\n{v['password']}\n"
        assert verify() == v["name"]
    else:
        cls = LAYER_CLASS[v["fails_at"]]
        assert_raises_as_cli(recover, done, cls, secrets=(v["user_key"][20:60], v["pass_key"][20:60]))
        assert_raises_as_cli(verify, done, cls)


# ---------------------------------------------------------------- round trips

VALUES = [
    ("app_user", "s3cret pw"),
    ("", "x"),
    ("pä$$ wört \"quoted\" 'single' \\ ✓ 密码", "tab\there"),
    ("u" * 62, "p" * 62),
]


@pytest.mark.parametrize("username,password", VALUES, ids=["plain", "empty-username", "unicode", "width-64-full"])
def test_recover_opens_what_the_binary_secured(secure, store, username, password):
    user_key, pass_key = secure(store, "db", username, password)
    credentials = otp_link.recover(user_key, pass_key, store=store)
    assert isinstance(credentials, otp_link.Credentials)
    assert credentials.username == username
    assert credentials.password == password
    assert otp_link.verify(user_key, pass_key, store=store) == "db"


def test_a_width_101_account_holds_99_bytes(secure, store):
    user_key, pass_key = secure(store, "wide", "n" * 99, "é" * 49, "--width", "101")
    credentials = otp_link.recover(user_key, pass_key, store=store)
    assert (credentials.username, credentials.password) == ("n" * 99, "é" * 49)


def test_one_account_among_many(secure, store):
    keys = {name: secure(store, name, f"user-{name}", f"pw-{name}") for name in ("a", "b", "c")}
    for name, (user_key, pass_key) in keys.items():
        assert otp_link.recover(user_key, pass_key, store=store).username == f"user-{name}"
        assert otp_link.verify(user_key, pass_key, store=store) == name


class PathLike:
    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return str(self.path)


@pytest.mark.parametrize("kind", ["str", "bytes", "pathlib", "os.PathLike"])
def test_store_may_be_any_path_open_takes(secure, store, kind):
    user_key, pass_key = secure(store, "db", "u", "p")
    given = {"str": str(store), "bytes": os.fsencode(store), "pathlib": Path(store), "os.PathLike": PathLike(store)}
    assert otp_link.recover(user_key, pass_key, store=given[kind]).password == "p"


def test_no_store_means_otp_link_store_then_the_data_directory(secure, tmp_path, monkeypatch):
    in_env = tmp_path / "env" / "store.cbor"
    in_xdg = tmp_path / "xdg" / "otp-link" / "store.cbor"
    env_keys = secure(in_env, "env", "from-env", "p1")
    xdg_keys = secure(in_xdg, "xdg", "from-xdg", "p2")

    assert otp_link.default_store_path() == in_xdg
    assert isinstance(otp_link.default_store_path(), Path)
    assert otp_link.recover(*xdg_keys).username == "from-xdg"

    monkeypatch.setenv("OTP_LINK_STORE", str(in_env))
    assert otp_link.default_store_path() == in_env
    assert otp_link.recover(*env_keys).username == "from-env"
    assert otp_link.verify(*env_keys) == "env"
    with pytest.raises(otp_link.UnknownAccount):
        otp_link.recover(*xdg_keys)
    # An explicit store wins over the environment.
    assert otp_link.recover(*xdg_keys, store=in_xdg).username == "from-xdg"

    monkeypatch.setenv("OTP_LINK_STORE", "")
    assert otp_link.default_store_path() == in_xdg
    monkeypatch.delenv("XDG_DATA_HOME")
    assert otp_link.default_store_path() == tmp_path / "home" / ".local" / "share" / "otp-link" / "store.cbor"


# ---------------------------------------------------------------- errors


def test_malformed_key(secure, store, otp):
    user_key, pass_key = secure(store, "db", "u", "p")
    typo = user_key[:40] + ("0" if user_key[40] != "0" else "1") + user_key[41:]
    for bad in (typo, "not-a-key", "", user_key.upper()):
        done = otp(store, "recover", bad, pass_key)
        assert_raises_as_cli(lambda: otp_link.recover(bad, pass_key, store=store), done, otp_link.MalformedKey,
                             secrets=(pass_key[20:60],))


def test_mismatched_keys(secure, store, otp):
    user_key, pass_key = secure(store, "db", "u", "p")
    other_user, other_pass = secure(store, "other", "u2", "p2")
    for first, second in ((pass_key, user_key), (user_key, user_key), (pass_key, pass_key), (user_key, other_pass)):
        done = otp(store, "recover", first, second)
        error = assert_raises_as_cli(lambda: otp_link.recover(first, second, store=store), done,
                                     otp_link.MismatchedKeys, secrets=(user_key[20:60], other_pass[20:60]))
        assert isinstance(error, otp_link.MalformedKey)  # both are exit code 3


def test_rotated_away_keys_fail_authentication(secure, store, otp):
    user_key, pass_key = secure(store, "db", "u", "p")
    rotated = otp(store, "rotate", user_key, pass_key)
    assert rotated.returncode == 0, rotated.stderr
    new_user, new_pass = rotated.stdout.split()
    done = otp(store, "recover", user_key, pass_key)
    assert_raises_as_cli(lambda: otp_link.recover(user_key, pass_key, store=store), done,
                         otp_link.AuthenticationFailed)
    assert otp_link.recover(new_user, new_pass, store=store).password == "p"


def test_keys_of_a_removed_account_or_another_store(secure, store, tmp_path, otp):
    user_key, pass_key = secure(store, "db", "u", "p")
    far = secure(tmp_path / "far.cbor", "db", "u", "p")
    done = otp(store, "recover", *far)
    assert_raises_as_cli(lambda: otp_link.recover(*far, store=store), done, otp_link.UnknownAccount)
    secure(store, "keep", "k", "k")
    assert otp(store, "remove", "db").returncode == 0
    done = otp(store, "recover", user_key, pass_key)
    assert_raises_as_cli(lambda: otp_link.recover(user_key, pass_key, store=store), done, otp_link.UnknownAccount)


def test_missing_store(secure, store, tmp_path, otp):
    keys = secure(store, "db", "u", "p")
    missing = tmp_path / "nowhere" / "store.cbor"
    done = otp(missing, "recover", *keys)
    assert_raises_as_cli(lambda: otp_link.recover(*keys, store=missing), done, otp_link.StoreMissing)


def test_corrupt_store_and_not_a_regular_file(secure, store, tmp_path, otp, write_private):
    keys = secure(store, "db", "u", "p")
    garbage = write_private(tmp_path / "garbage.cbor", b"garbage")
    truncated = write_private(tmp_path / "truncated.cbor", store.read_bytes()[:-5])
    directory = tmp_path / "a-directory"
    directory.mkdir()
    for path in (garbage, truncated, directory):
        done = otp(path, "recover", *keys)
        assert_raises_as_cli(lambda: otp_link.recover(*keys, store=path), done, otp_link.StoreCorrupt)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o660, 0o604, 0o602])
def test_a_store_others_may_read_or_write_is_refused(secure, store, otp, mode):
    keys = secure(store, "db", "u", "p")
    os.chmod(store, mode)
    done = otp(store, "recover", *keys)
    if mode == 0o640 and os.stat(store).st_uid == 0:
        # PostgreSQL's rule: a store of root's may be readable by its group.
        assert done.returncode == 0, done.stderr
        assert otp_link.recover(*keys, store=store).username == "u"
        return
    error = assert_raises_as_cli(lambda: otp_link.recover(*keys, store=store), done, otp_link.InsecureStore)
    assert f"chmod 600 {store}" in str(error) or "'chmod 600'" in str(error)
    with pytest.raises(otp_link.InsecureStore):
        otp_link.verify(*keys, store=store)
    os.chmod(store, 0o600)
    assert otp_link.recover(*keys, store=store).username == "u"


def test_other_input_output_errors(secure, store, tmp_path, otp):
    keys = secure(store, "db", "u", "p")
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    (tmp_path / "file").write_bytes(b"")
    for path in (tmp_path / "loop1", tmp_path / "file" / "store.cbor"):
        done = otp(path, "recover", *keys)
        assert_raises_as_cli(lambda: otp_link.recover(*keys, store=path), done, otp_link.StoreIOError)


def test_no_store_location_is_a_usage_error(secure, store, otp_link_bin, monkeypatch):
    keys = secure(store, "db", "u", "p")
    monkeypatch.delenv("HOME")
    monkeypatch.delenv("XDG_DATA_HOME")
    done = subprocess.run([str(otp_link_bin), "recover", *keys], capture_output=True, text=True, timeout=60)
    for call in (otp_link.default_store_path, lambda: otp_link.recover(*keys), lambda: otp_link.verify(*keys)):
        assert_raises_as_cli(call, done, otp_link.UsageError)


@pytest.mark.parametrize("call", ["recover", "verify"])
def test_arguments_of_the_wrong_type_are_usage_errors(secure, store, call):
    user_key, pass_key = secure(store, "db", "u", "p")
    function = getattr(otp_link, call)
    for args, kwargs, named in (
        ((user_key.encode(), pass_key), {"store": store}, "user_key must be a str holding the key text, not bytes"),
        ((user_key, None), {"store": store}, "pass_key must be a str holding the key text, not NoneType"),
        ((user_key, pass_key), {"store": 42}, "store must be a path (str, bytes or os.PathLike), not int"),
    ):
        with pytest.raises(otp_link.UsageError) as caught:
            function(*args, **kwargs)
        assert str(caught.value) == named
        assert caught.value.exit_code == 2
    with pytest.raises(TypeError):
        function(user_key, pass_key, store)  # store is keyword-only
    with pytest.raises(TypeError):
        function(user_key)


def test_every_exit_code_of_the_readme_has_its_class():
    """Each failure code README's table lists (1 to 12; 0 is success, 126,
    127 and 130 are the CLI's own) has its class, which ``exit_code`` and
    ``error_for_exit_code`` agree on; the reader raises nine of them above,
    each checked against the binary."""
    from otp_link import pure

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = set()
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) > 2 and cells[1].strip().isdigit():
            codes.add(int(cells[1]))
    library_codes = {code for code in codes if 0 < code < 126}
    assert library_codes >= set(range(1, 12)), library_codes
    classes = {getattr(otp_link, name) for name in otp_link._EXCEPTIONS} - {otp_link.OtpLinkError}
    by_code = {}
    for cls in classes:
        by_code.setdefault(cls.exit_code, set()).add(cls)
    assert set(by_code) >= library_codes
    for code, found in by_code.items():
        made = pure.error_for_exit_code(code, "a message")
        assert type(made) in found and made.exit_code == code and str(made) == "a message"
        assert found - {type(made)} <= {otp_link.MismatchedKeys}, found


# ---------------------------------------------------------------- Credentials


def test_repr_shows_neither_value(secure, store):
    user_key, pass_key = secure(store, "db", "alice-db-user", "hunter2-password")
    credentials = otp_link.recover(user_key, pass_key, store=store)
    for shown in (repr(credentials), str(credentials), f"{credentials}", f"{credentials!r}"):
        assert "alice-db-user" not in shown and "hunter2-password" not in shown
        assert "[redacted]" in shown


def test_credentials_refuse_pickling_and_copying(secure, store):
    credentials = otp_link.recover(*secure(store, "db", "u", "p"), store=store)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(credentials, protocol=protocol)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(credentials)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(credentials)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy({"nested": [credentials]})


def test_credentials_cannot_be_made_or_extended_from_python(secure, store):
    credentials = otp_link.recover(*secure(store, "db", "u", "p"), store=store)
    with pytest.raises(TypeError):
        otp_link.Credentials()
    with pytest.raises(AttributeError):
        credentials.username = "someone else"
    with pytest.raises(AttributeError):
        credentials.extra = 1
    with pytest.raises(TypeError):
        type("Sub", (otp_link.Credentials,), {})


def test_password_bytes_is_a_fresh_bytearray(secure, store):
    credentials = otp_link.recover(*secure(store, "db", "u", "pä ss"), store=store)
    first = credentials.password_bytes()
    assert type(first) is bytearray and first == "pä ss".encode()
    first[:] = bytes(len(first))
    assert first == bytes(len("pä ss".encode()))
    assert credentials.password_bytes() == "pä ss".encode()
    assert credentials.password == "pä ss"


def test_the_with_block_wipes_the_values_rust_holds(secure, store):
    keys = secure(store, "db", "u", "p")
    with otp_link.recover(*keys, store=store) as credentials:
        assert isinstance(credentials, otp_link.Credentials)
        username = credentials.username
    assert username == "u"
    assert repr(credentials) == "otp_link.Credentials([wiped])"
    for read in (lambda: credentials.username, lambda: credentials.password, credentials.password_bytes):
        with pytest.raises(ValueError, match="wiped when their with block ended"):
            read()
    # An exception in the block propagates, and the values are wiped too.
    with pytest.raises(KeyError):
        with otp_link.recover(*keys, store=store) as second:
            raise KeyError("boom")
    with pytest.raises(ValueError):
        second.password


# ---------------------------------------------------------------- legacy


def test_recover_legacy(legacy_fixture, otp, tmp_path):
    """Each Secure-Python-Link file of tests/fixtures/legacy opens, or is
    refused, as ``otp-link import-legacy`` opens or refuses it; so are
    malformed, swapped and wrong keys, and a missing file."""
    row = legacy_fixture
    import_legacy = lambda file, *keys: otp(tmp_path / "new.cbor", "import-legacy", file, *keys, "--account", "x")
    if row["kind"] == "reject":
        keys = ("a" * 25, "b" * 25)
        error = assert_raises_as_cli(lambda: otp_link.recover_legacy(row["file"], *keys),
                                     import_legacy(row["file"], *keys), otp_link.StoreCorrupt)
        assert row["reason"] in str(error)
        return
    file, user_key, pass_key = row["file"], row["user_key"], row["pass_key"]
    for path in (file, str(file), os.fsencode(file)):
        credentials = otp_link.recover_legacy(path, user_key, pass_key)
        assert (credentials.username, credentials.password) == (row["username"], row["password"])
    assert import_legacy(file, user_key, pass_key).returncode == 0
    cases = [
        ((file, "short", pass_key), otp_link.MalformedKey),
        ((file, user_key, "has space in it 123456789"), otp_link.MalformedKey),
        ((tmp_path / "missing.pkl", user_key, pass_key), otp_link.StoreIOError),
        # Swapped keys: rejected unless the old format cannot tell.
        ((file, pass_key, user_key), otp_link.AuthenticationFailed),
    ]
    for args, cls in cases:
        done = import_legacy(*args)
        if done.returncode == 0 and cls is otp_link.AuthenticationFailed:
            continue
        assert_raises_as_cli(lambda: otp_link.recover_legacy(*args), done, cls, secrets=(user_key, pass_key))


# ---------------------------------------------------------------- the GIL


@pytest.fixture
def large_store(otp, tmp_path):
    """A store of 20,000 accounts, and the keys of its last one."""
    store = tmp_path / "large.cbor"
    lines = "".join(f'{{"account": "a{i}", "username": "u{i}", "password": "p{i}"}}\n' for i in range(20000))
    done = otp(store, "secure-account", "--batch", input=lines)
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    return store, last["user_key"], last["pass_key"]


def ran_while_the_call_ran(call):
    """Whether another Python thread ran while ``call()`` ran.

    The switch interval is made so long that this thread never gives the
    GIL up on its own while it runs bytecode; the other thread is woken
    first and left waiting for the GIL. So it runs during ``call()``
    exactly when ``call()`` releases the GIL, and otherwise only once this
    thread blocks in ``join()``, after the call.
    """
    inside = [False]
    seen = []
    gate = threading.Lock()
    gate.acquire()

    def other():
        with gate:
            seen.append(inside[0])

    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        thread = threading.Thread(target=other)
        thread.start()
        gate.release()  # wakes the other thread, which now waits for the GIL
        until = time.perf_counter() + 0.05
        while time.perf_counter() < until:
            pass
        inside[0] = True
        call()
        inside[0] = False
        thread.join()
    finally:
        sys.setswitchinterval(old)
    return seen == [True]


def released_while_it_ran(call, attempts=5):
    """Whether ``call()`` was seen to release the GIL in one of a few runs.

    On a loaded machine the woken thread may not be scheduled within the
    few milliseconds a call takes, so one run can miss a release; a call
    that keeps the GIL is never seen to release it, however many runs.
    """
    return any(ran_while_the_call_ran(call) for _ in range(attempts))


def test_the_gil_is_released_while_the_store_is_read_and_opened(large_store):
    store, user_key, pass_key = large_store
    assert otp_link.recover(user_key, pass_key, store=store).username == "u19999"
    assert released_while_it_ran(lambda: otp_link.recover(user_key, pass_key, store=store))
    assert released_while_it_ran(lambda: otp_link.verify(user_key, pass_key, store=store))
    # The probe can fail: a call that keeps the GIL is seen to keep it.
    assert not released_while_it_ran(lambda: sum(range(3_000_000)))
