"""otp_link.compat: Secure-Python-Link's scripts, migrated by one line.

Scripts written against the original API (``original_api.CHILD``, an
administrator's ``ADMIN``) run unchanged but for the import line, over
files and keys made by a faithful re-implementation of the original's
``secure_account`` (Python 3 and Python 2 pickles) and over otp-link keys
and stores; wrong, swapped and rotated keys give ``(False, '', '')`` and
a logged reason that holds no key and no value. Everything runs through
the package as installed and, when that is the native module, through a
copy of the package without it (the pure implementation).

Runs under pytest or ``python3 -m unittest`` with ``PYTHONPATH=otp-py/python``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import original_api  # noqa: E402
import otp_cli  # noqa: E402
from otp_cli import binary, otp, require_binary  # noqa: E402

import otp_link  # noqa: E402
import otp_link.compat as compat  # noqa: E402
from otp_link import pure  # noqa: E402

HERE = Path(__file__).resolve().parent


class Case(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="otp-compat-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.rng = random.Random(0x19)
        self.store_path = self.dir / "store.cbor"
        env = {"OTP_LINK_STORE": str(self.store_path)}
        if binary() is not None:
            env["OTP_LINK_BIN"] = binary()
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        compat._legacy_noted.clear()

    def implementations(self) -> list:
        """(label, context) pairs: compat over the implementation in use,
        and over pure too when that is the native module."""
        found = [(otp_link.IMPLEMENTATION, contextlib.nullcontext)]
        if otp_link.IMPLEMENTATION == "native":
            found.append(
                (
                    "pure",
                    lambda: mock.patch.multiple(compat, recover=pure.recover, recover_legacy=pure.recover_legacy),
                )
            )
        return found

    def assert_fails_quietly(self, call, secrets: list) -> str:
        """``call()`` is (False, '', '') with one WARNING on the otp_link
        logger that names no secret; the logged message."""
        with self.assertLogs("otp_link", logging.WARNING) as logs:
            result = call()
        self.assertEqual(result, (False, "", ""))
        messages = [r.getMessage() for r in logs.records]
        for message in messages:
            for secret in secrets:
                for i in range(0, max(1, len(secret) - 7), 4):
                    part = secret[i : i + 8]
                    if len(part) >= 6:
                        self.assertNotIn(part, message)
        return messages[-1]

    def legacy(self, form: str, user: str = "neil", password: str = "SomethingElse") -> tuple:
        file = self.dir / ("account-%s-%d.p" % (form, len(list(self.dir.glob("account-*")))))
        ok, user_key, pass_key = original_api.write_account(user, password, file, form, self.rng)
        self.assertTrue(ok)
        return file, user_key, pass_key

    def otp_link_account(self, name: str, user: str, password: str, store=None) -> tuple:
        require_binary(self)
        [(uk, pk)] = otp_cli.secure_batch(store or self.store_path, 64, [(name, user, password)])
        return uk, pk


# ------------------------------------------------------------ in process


class GetAccountDetailsTests(Case):
    def test_old_files_of_every_python_open_with_their_old_keys(self):
        values = [("neil", "SomethingElse"), ("", ""), ("a" * 23, "b" * 23), ("jörg", "pässwörd€"), ("bob", "s3cr3t 'q' \\ \"dq\"\n\r\t")]
        for label, context in self.implementations():
            for form in original_api.FORMS:
                for user, password in values:
                    with self.subTest(impl=label, form=form, user=user), context():
                        file, uk, pk = self.legacy(form, user, password)
                        with self.assertLogs("otp_link", logging.WARNING) as logs:
                            self.assertEqual(compat.get_account_details(uk, pk, str(file)), (True, user, password))
                            self.assertEqual(compat.get_account_details(uk, pk, file), (True, user, password))
                        self.assertEqual(len(logs.records), 1, "one note per file")

    def test_an_old_file_is_named_once_as_one_to_import(self):
        file, uk, pk = self.legacy("py3")
        other, ouk, opk = self.legacy("py2-proto0")
        with self.assertLogs("otp_link", logging.WARNING) as logs:
            for _ in range(3):
                self.assertTrue(compat.get_account_details(uk, pk, str(file))[0])
            self.assertTrue(compat.get_account_details(ouk, opk, str(other))[0])
        notes = [r.getMessage() for r in logs.records]
        self.assertEqual(len(notes), 2, notes)
        self.assertIn("otp-link import-legacy", notes[0])
        self.assertIn(str(file), notes[0])
        self.assertIn(str(other), notes[1])
        for secret in (uk, pk, "SomethingElse"):
            self.assertNotIn(secret, "".join(notes))

    def test_wrong_and_swapped_old_keys_fail_with_a_reason(self):
        file, uk, pk = self.legacy("py3")
        for label, context in self.implementations():
            with self.subTest(label), context():
                secrets = [uk, pk, "SomethingElse"]
                message = self.assert_fails_quietly(lambda: compat.get_account_details(pk, uk, str(file)), secrets)
                self.assertIn("legacy key does not open this file", message)
                message = self.assert_fails_quietly(lambda: compat.get_account_details(uk[:-1], pk, str(file)), secrets)
                self.assertIn("malformed legacy key", message)
                message = self.assert_fails_quietly(lambda: compat.get_account_details(uk, pk, str(self.dir / "gone.p")), secrets)
                self.assertIn("No such file", message)
                evil = self.dir / "evil.p"
                evil.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
                message = self.assert_fails_quietly(lambda: compat.get_account_details(uk, pk, str(evil)), secrets)
                self.assertIn("GLOBAL", message)
                message = self.assert_fails_quietly(lambda: compat.get_account_details(None, pk, str(file)), secrets)

    def test_otp_link_keys_open_the_named_store_or_the_default_one(self):
        uk, pk = self.otp_link_account("Account1", "neil", "SomethingElse")
        own = self.dir / "own.cbor"
        ouk, opk = self.otp_link_account("x", "u2", "p2", store=own)
        sniffed = self.dir / "accounts.dat"
        suk, spk = self.otp_link_account("y", "u3", "p3", store=sniffed)
        old_file, _, _ = self.legacy("py3")
        for label, context in self.implementations():
            with self.subTest(label), context():
                # The old file's path (a pickle, or gone): the default store.
                self.assertEqual(compat.get_account_details(uk, pk, str(old_file)), (True, "neil", "SomethingElse"))
                self.assertEqual(compat.get_account_details(uk, pk, "Account1.p"), (True, "neil", "SomethingElse"))
                # A store named by its path, or recognised by its first bytes.
                self.assertEqual(compat.get_account_details(ouk, opk, str(own)), (True, "u2", "p2"))
                self.assertEqual(compat.get_account_details(suk, spk, str(sniffed)), (True, "u3", "p3"))

    def test_wrong_swapped_rotated_and_mixed_new_keys_fail_with_a_reason(self):
        uk, pk = self.otp_link_account("db", "neil", "SomethingElse")
        ouk, opk = self.otp_link_account("other", "u2", "p2")
        old_file, old_uk, old_pk = self.legacy("py3")
        rotated = otp(self.store_path, "rotate", uk, pk)
        self.assertEqual(rotated.returncode, 0, rotated.stderr)
        new_uk, new_pk = rotated.stdout.decode().split()
        secrets = [uk, pk, ouk, opk, new_uk, new_pk, old_uk, old_pk, "SomethingElse", "neil", "u2", "p2"]
        for label, context in self.implementations():
            with self.subTest(label), context():
                cases = [
                    ((uk, pk), "authentication failed"),  # rotated away
                    ((new_pk, new_uk), "password key came first"),  # swapped
                    ((new_uk, opk), "different accounts"),  # another account's
                    ((new_uk, new_pk[:-1] + ("0" if new_pk[-1] != "0" else "1")), "malformed key"),
                    ((new_uk, old_pk), "one key is an otp-link key"),
                    ((old_uk, new_pk), "one key is an otp-link key"),
                ]
                for keys, reason in cases:
                    message = self.assert_fails_quietly(lambda: compat.get_account_details(keys[0], keys[1], "db.p"), secrets)
                    self.assertIn(reason, message)
                self.assertEqual(compat.get_account_details(new_uk, new_pk, "db.p"), (True, "neil", "SomethingElse"))


class SecureAccountTests(Case):
    def setUp(self) -> None:
        super().setUp()
        require_binary(self)

    def test_secures_into_the_default_store_under_the_files_stem(self):
        file = self.dir / "Account1.p"
        ok, uk, pk = compat.secure_account("neil", "SomethingElse", str(file))
        self.assertTrue(ok)
        self.assertTrue(uk.startswith("otp1-u-") and pk.startswith("otp1-p-"))
        self.assertFalse(file.exists(), "secure_account wrote a pickle")
        listed = otp(self.store_path, "list", "--format", "json")
        self.assertEqual([a["account"] for a in json.loads(listed.stdout)["accounts"]], ["Account1"])
        self.assertEqual(compat.get_account_details(uk, pk, str(file)), (True, "neil", "SomethingElse"))

    def test_securing_again_replaces_the_account_and_its_keys(self):
        ok, uk, pk = compat.secure_account("neil", "one", "db.p")
        ok2, uk2, pk2 = compat.secure_account("neil", "two\u00e9", "db.p")
        self.assertTrue(ok and ok2)
        self.assertEqual(compat.get_account_details(uk2, pk2, "db.p"), (True, "neil", "two\u00e9"))
        message = self.assert_fails_quietly(lambda: compat.get_account_details(uk, pk, "db.p"), [uk, pk, "one"])
        self.assertIn("authentication failed", message)

    def test_a_store_path_is_the_store(self):
        own = self.dir / "sub" / "db.cbor"
        ok, uk, pk = compat.secure_account("u", "p\nwith a line break", str(own))
        self.assertTrue(ok)
        self.assertTrue(own.is_file())
        self.assertFalse(self.store_path.exists())
        self.assertEqual(compat.get_account_details(uk, pk, str(own)), (True, "u", "p\nwith a line break"))
        message = self.assert_fails_quietly(lambda: compat.secure_account("u", "p\nagain", str(own)), ["p\nagain"])
        self.assertIn("line break", message)

    def test_refusals_are_false_with_the_reason_and_no_value(self):
        message = self.assert_fails_quietly(lambda: compat.secure_account("x" * 70, "hunter2hunter2", "db.p"), ["hunter2hunter2", "x" * 70])
        self.assertIn("holds at most 62 bytes", message)
        message = self.assert_fails_quietly(lambda: compat.secure_account("u", "nul\0byte", "db.p"), ["nul\0byte"])
        self.assertIn("NUL", message)
        message = self.assert_fails_quietly(lambda: compat.secure_account("u", 5, "db.p"), [])
        with mock.patch.dict(os.environ, {"OTP_LINK_BIN": str(self.dir / "no-such-otp-link")}):
            message = self.assert_fails_quietly(lambda: compat.secure_account("u", "hunter2hunter2", "db.p"), ["hunter2hunter2"])
        self.assertIn("running otp-link failed", message)
        self.assertFalse(self.store_path.exists())


# ------------------------------------------------------------ the original's scripts


class OriginalScriptTests(Case):
    """The original's scripts, run as processes: unchanged against the
    original module (re-implemented), and with one line changed against
    otp_link.compat, over every implementation present."""

    def setUp(self) -> None:
        super().setUp()
        self.original = self.dir / "original"
        self.original.mkdir()
        (self.original / "WorkflowSecurity.py").write_text(original_api.WORKFLOW_SECURITY % {"here": str(HERE)})
        for name, text in (("child", original_api.CHILD), ("admin", original_api.ADMIN)):
            (self.dir / (name + "_original.py")).write_text(text)
            (self.dir / (name + ".py")).write_text(original_api.migrated(text))

    def pythonpaths(self) -> list:
        """The package as in use, and a copy without the native module."""
        paths = [(otp_link.IMPLEMENTATION, str(otp_cli.PACKAGE.parent))]
        if otp_link.IMPLEMENTATION == "native":
            copy = self.dir / "pure-only"
            if not (copy / "otp_link").exists():
                shutil.copytree(otp_cli.PACKAGE, copy / "otp_link", ignore=shutil.ignore_patterns("_native*", "__pycache__"))
            paths.append(("pure", str(copy)))
        return paths

    def run_script(self, name: str, args: list, pythonpath: str, stdin: str = "") -> tuple:
        env = dict(os.environ, PYTHONPATH=pythonpath)
        done = subprocess.run(
            [sys.executable, str(self.dir / name)] + [str(a) for a in args],
            input=stdin.encode(),
            capture_output=True,
            env=env,
            cwd=self.dir,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout.decode().splitlines()[-1]), done.stderr.decode()

    def test_migration_changes_one_line(self):
        for text in (original_api.CHILD, original_api.ADMIN):
            changed = [l for l in difflib.ndiff(text.splitlines(), original_api.migrated(text).splitlines()) if l[:1] in "+-"]
            self.assertEqual(changed, ["- import WorkflowSecurity", "+ import otp_link.compat as WorkflowSecurity"])

    def test_the_child_opens_old_files_as_the_original_did(self):
        for form in original_api.FORMS:
            file, uk, pk = self.legacy(form, "neil", "S0mething$Else!")
            if form.startswith("py3"):
                before, _ = self.run_script("child_original.py", [uk, pk, file], str(self.original))
                self.assertEqual(before, [True, "neil", "S0mething$Else!"])
            for label, path in self.pythonpaths():
                with self.subTest(form=form, impl=label):
                    after, stderr = self.run_script("child.py", [uk, pk, file], path)
                    self.assertEqual(after, [True, "neil", "S0mething$Else!"])
                    self.assertIn("import-legacy", stderr)
                    swapped, stderr = self.run_script("child.py", [pk, uk, file], path)
                    self.assertEqual(swapped, [False, "", ""])
                    self.assertIn("legacy key does not open this file", stderr)
                    for secret in (uk, pk, "S0mething$Else!"):
                        self.assertNotIn(secret, stderr)

    def test_the_admin_script_secures_and_the_child_recovers_with_new_keys(self):
        require_binary(self)
        for label, path in self.pythonpaths():
            with self.subTest(label):
                name = "db-%s" % label
                secured, stderr = self.run_script("admin.py", [], path, stdin="neil\nSomethingElse\n%s.p\n" % name)
                ok, uk, pk = secured
                self.assertTrue(ok, stderr)
                self.assertTrue(uk.startswith("otp1-u-"))
                self.assertFalse((self.dir / (name + ".p")).exists())
                got, _ = self.run_script("child.py", [uk, pk, name + ".p"], path)
                self.assertEqual(got, [True, "neil", "SomethingElse"])
                for keys in ((pk, uk), (uk, uk)):
                    got, stderr = self.run_script("child.py", list(keys) + [name + ".p"], path)
                    self.assertEqual(got, [False, "", ""])
                    self.assertIn("keys do not match", stderr)
                    self.assertNotIn(uk[8:40], stderr)
                # Rotated: the old keys fail, the new ones work.
                rotated = otp(self.store_path, "rotate", uk, pk)
                new_uk, new_pk = rotated.stdout.decode().split()
                got, stderr = self.run_script("child.py", [uk, pk, name + ".p"], path)
                self.assertEqual(got, [False, "", ""])
                self.assertIn("authentication failed", stderr)
                got, _ = self.run_script("child.py", [new_uk, new_pk, name + ".p"], path)
                self.assertEqual(got, [True, "neil", "SomethingElse"])

    def test_a_site_migrates_one_account_at_a_time(self):
        """Two accounts on old files; one is imported with otp-link
        import-legacy and its host handed the new keys. The same child
        script serves both throughout."""
        require_binary(self)
        a_file, a_uk, a_pk = self.legacy("py2-proto0", "alice", "a-pass")
        b_file, b_uk, b_pk = self.legacy("py3", "bob", "b-pass")
        for label, path in self.pythonpaths():
            with self.subTest(label):
                self.assertEqual(self.run_script("child.py", [a_uk, a_pk, a_file], path)[0], [True, "alice", "a-pass"])
        imported = otp(self.store_path, "import-legacy", str(a_file), a_uk, a_pk, "--account", "alice")
        self.assertEqual(imported.returncode, 0, imported.stderr)
        new_uk, new_pk = imported.stdout.decode().split()
        for label, path in self.pythonpaths():
            with self.subTest(label):
                self.assertEqual(self.run_script("child.py", [new_uk, new_pk, a_file], path)[0], [True, "alice", "a-pass"])
                self.assertEqual(self.run_script("child.py", [a_uk, a_pk, a_file], path)[0], [True, "alice", "a-pass"])
                self.assertEqual(self.run_script("child.py", [b_uk, b_pk, b_file], path)[0], [True, "bob", "b-pass"])


def python2() -> str | None:
    """A Python 2 interpreter that runs: $PYTHON2, python2 on PATH, or one
    installed by pyenv. Debian 12 packages none, so the tests that use it
    are skipped without one (under CI too): the forms they check are built
    byte for byte by original_api, and checked by them where Python 2 is."""
    candidates = [os.environ.get("PYTHON2"), shutil.which("python2"), shutil.which("python2.7")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/2.*/bin/python"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[0] == 2"], capture_output=True).returncode == 0:
            return candidate
    return None


#: The original's secure_account as it ran on Python 2 (WorkflowSecurity2):
#: a re-implementation, writing with Python 2's own pickle.
PY2_SECURE_ACCOUNT = """
import json, pickle, random, sys
ALPHABET = %(alphabet)r
def key():
    return ''.join(ALPHABET[random.randint(0, len(ALPHABET) - 1)] for _ in range(25))
def encrypt(value, key):
    data = bytearray(value.encode('utf-8'))
    pad = ''.join(ALPHABET[random.randint(0, len(ALPHABET) - 1)] for _ in range(23 - len(data)))
    frame = data + bytearray(pad) + bytearray('%%02d' %% len(data))
    out = bytearray(f ^ k for f, k in zip(frame, bytearray(key)))
    return out.decode('utf-8') if max(out) < 0x80 else out.decode('latin-1')
user, password, path, module, protocol = sys.argv[1:6]
user, password = user.decode('utf-8'), password.decode('utf-8')
pickler = __import__(module)
user_key, pass_key = key(), key()
values = [encrypt(user, user_key), encrypt(password, pass_key)]
f = open(path, 'wb')
pickler.dump({'list': values}, f, int(protocol))
f.close()
print(json.dumps([user_key, pass_key]))
"""


class Python2PickleTests(Case):
    def setUp(self) -> None:
        super().setUp()
        self.python2 = python2()
        if self.python2 is None:
            self.skipTest("no Python 2 here (set PYTHON2): the Python 2 forms are checked as built by original_api")

    def test_the_python2_forms_are_what_python2_writes(self):
        stored = [original_api.encrypt("neil", original_api.make_key(self.rng), self.rng) for _ in range(2)]
        stored[1] = stored[1][:3] + "\\\n\r\x00\x1a" + stored[1][8:]
        program = (
            "import json, pickle, cPickle, sys\n"
            "stored = json.loads(sys.argv[1])\n"
            "d = {'list': stored}\n"
            "b = {'list': [v.encode('latin-1') for v in stored]}\n"
            "print(json.dumps([pickle.dumps(d).encode('hex'), cPickle.dumps(d).encode('hex'),"
            " pickle.dumps(d, 2).encode('hex'), pickle.dumps(b).encode('hex')]))\n"
        )
        done = subprocess.run([self.python2, "-c", program, json.dumps(stored)], capture_output=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        written = [bytes.fromhex(h) for h in json.loads(done.stdout)]
        forms = ["py2-proto0", "py2-cpickle", "py2-proto2", "py2-proto0-str"]
        for form, real in zip(forms, written):
            self.assertEqual(original_api.pickled(stored, form), real, form)

    def test_files_python2_wrote_open_through_compat(self):
        program = PY2_SECURE_ACCOUNT % {"alphabet": original_api.ALPHABET}
        for module, protocol in (("pickle", 0), ("cPickle", 0), ("pickle", 2), ("cPickle", 2)):
            for user, password in (("neil", "SomethingElse"), ("bob", "s3cr3t 'q' \\ pw"), ("", "x" * 23)):
                file = self.dir / ("py2-%s-%d.p" % (module, protocol))
                done = subprocess.run(
                    [self.python2, "-c", program, user, password, str(file), module, str(protocol)],
                    capture_output=True,
                )
                self.assertEqual(done.returncode, 0, done.stderr)
                uk, pk = json.loads(done.stdout)
                for label, context in self.implementations():
                    with self.subTest(module=module, protocol=protocol, user=user, impl=label), context():
                        compat._legacy_noted.clear()
                        with self.assertLogs("otp_link", logging.WARNING):
                            got = compat.get_account_details(uk, pk, str(file))
                        self.assertEqual(got, (True, user, password))


class LegacyReaderTests(Case):
    """The pure legacy reader over the project's fixture files, and, where
    the native module is present, against it; and against otp-link
    import-legacy's exit codes on damaged files."""

    def test_the_fixture_files_read_as_listed(self):
        for line in (otp_cli.LEGACY_FIXTURES / "fixtures.txt").read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            text = lambda h: bytes.fromhex(h).decode()  # noqa: E731
            file = otp_cli.LEGACY_FIXTURES / parts[1]
            for impl_label, impl in otp_cli.implementations():
                with self.subTest(file=parts[1], impl=impl_label):
                    if parts[0] == "ok":
                        got = otp_cli.outcome(lambda: impl.recover_legacy(file, text(parts[2]), text(parts[3])))
                        self.assertEqual(got, ("ok", (text(parts[4]), text(parts[5]))))
                    else:
                        with self.assertRaises(pure.StoreCorrupt) as e:
                            impl.recover_legacy(file, "a" * 25, "b" * 25)
                        self.assertIn(parts[2], e.exception.message)

    def test_damaged_files_fail_as_otp_link_import_legacy_fails(self):
        require_binary(self)
        file, uk, pk = self.legacy("py3-proto3", "user", "password")
        original = file.read_bytes()
        rng = random.Random(0x1919)
        variants = [original[:cut] for cut in range(len(original))]
        for _ in range(60):
            damaged = bytearray(original)
            damaged[rng.randrange(len(damaged))] = rng.getrandbits(8)
            variants.append(bytes(damaged))
        variants.append(original + b".")
        for i, data in enumerate(variants):
            file.write_bytes(data)
            got = otp_cli.outcome(lambda: pure.recover_legacy(file, uk, pk))
            self.assertNotEqual(got[0], "crash", i)
            for impl_label, impl in otp_cli.implementations():
                self.assertEqual(otp_cli.outcome(lambda: impl.recover_legacy(file, uk, pk)), got, (impl_label, i))
            store = self.dir / ("imported-%d.cbor" % i)
            done = otp(store, "import-legacy", str(file), uk, pk, "--account", "a")
            self.assertEqual(done.returncode, 0 if got[0] == "ok" else got[1], (i, got, done.stderr))


if __name__ == "__main__":
    unittest.main()
