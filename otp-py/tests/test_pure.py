"""The pure reader (otp_link.pure) against the spec's vectors, the otp-link
binary, a hostile-store corpus, and the native module when it is present.

Every outcome is compared as (exception class, exit code) or the values:
with the vector's layer, with what ``otp-link recover`` does on the same
store (the binary is the Rust reader), and with ``otp_link`` itself when
``otp_link.IMPLEMENTATION == "native"``. Any disagreement fails.

Runs under pytest or ``python3 -m unittest`` with ``PYTHONPATH=otp-py/python``.
tests/tests/python.rs runs it twice: with the native module installed
(``OTP_LINK_REQUIRE_NATIVE=1``, so every comparison with it runs) and
without it (``OTP_LINK_REQUIRE_PURE=1``, ``otp_link`` is the pure reader).

A vector's ``now`` (the clock of its expiry check) is given to pure by
replacing ``pure._clock``; the native module and the binary read the real
clock, which the vectors' times make equivalent (any clock from 2026-11-26
to 2100).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import otp_cli  # noqa: E402
from otp_cli import binary, implementations, native, otp, outcome, require_binary  # noqa: E402

import otp_link  # noqa: E402
from otp_link import pure  # noqa: E402

LAYER_CLASS = {
    "key": "MalformedKey",
    "pair": "MismatchedKeys",
    "store": "StoreCorrupt",
    "version": "StoreCorrupt",
    "record": "UnknownAccount",
    "auth": "AuthenticationFailed",
    "frame": "AuthenticationFailed",
    "expired": "KeysExpired",
    # Launch keys that open nothing any more (spec/launch.md section 9):
    # the native module and the binary; pure refuses every launch key.
    "spent": "KeysExpired",
    "revoked": "KeysExpired",
    "gone": "KeysExpired",
}
CAP = 64 * 1024 * 1024


def is_launch(v: dict) -> bool:
    """Whether a vector gives launch keys (``otpl1-``), which pure refuses
    before reading anything (spec/launch.md section 12)."""
    return v["user_key"].startswith("otpl1-") or v["pass_key"].startswith("otpl1-")


def at_clock(now):
    """A context in which pure's clock reads ``now`` (None: the real clock)."""
    if now is None:
        return mock.patch.object(pure, "_clock", pure._clock)
    return mock.patch.object(pure, "_clock", lambda: now)


# ------------------------------------------------------------ CBOR for the tests


def head(major: int, n: int) -> bytes:
    """A CBOR head in its shortest form."""
    mt = major << 5
    if n < 24:
        return bytes([mt | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([mt | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def tstr(s: str) -> bytes:
    b = s.encode("utf-8", "surrogatepass")
    return head(3, len(b)) + b


def bstr(b: bytes) -> bytes:
    return head(2, len(b)) + b


def prelude(entries: int, tag: str, version: int) -> bytes:
    return head(5, entries) + tstr("format") + tstr(tag) + tstr("version") + head(0, version)


def before_accounts() -> bytes:
    return prelude(3, "otp-link store", 1) + tstr("accounts")


HOSTILE_ID = bytes([7] * 16)


def before_record() -> bytes:
    return before_accounts() + head(4, 1) + head(4, 3) + bstr(HOSTILE_ID) + tstr("db")


def record_before_username(width: int) -> bytes:
    return (
        head(5, 5)
        + tstr("width")
        + head(0, width)
        + tstr("created")
        + head(0, 1_795_633_662)
        + tstr("rotated")
        + b"\xf6"
        + tstr("username")
    )


def hostile_corpus() -> list:
    """The Rust suite's hostile files (tests/tests/store_robustness.rs):
    each must be refused as StoreCorrupt."""
    gib4, huge = 0xFFFFFFFF, 2**64 - 1
    corpus = [
        ("empty", b""),
        ("one zero byte", b"\x00"),
        ("JSON", b'{"format":"otp-link store","version":1}'),
        ("arrays nested 10,000 deep", b"\x81" * 10_000 + b"\x00"),
        ("maps nested 10,000 deep as keys", b"\xa1" * 10_000 + b"\x00\x00"),
        ("maps nested 10,000 deep as values", b"\xa1\x00" * 10_000 + b"\x00"),
        ("tags nested 10,000 deep", b"\xc6" * 10_000 + b"\x00"),
        ("indefinite-length items nested 10,000 deep", b"\x9f" * 10_000 + b"\xff" * 10_000),
        (
            "arrays nested 10,000 deep as an account entry",
            before_accounts() + head(4, 1) + b"\x81" * 10_000 + b"\x00",
        ),
        (
            "arrays nested 10,000 deep as an account record",
            before_record() + bstr(b"\x81" * 10_000 + b"\x00"),
        ),
        ("wrong format tag", prelude(3, "otp-link stash", 1) + tstr("accounts") + head(4, 0)),
        ("no format tag", head(5, 0)),
        ("version 3", prelude(3, "otp-link store", 3) + tstr("accounts") + head(4, 0)),
        ("version u64::MAX", prelude(2, "otp-link store", 2**64 - 1)),
        ("a version 2 store of no account", prelude(3, "otp-link store", 2) + tstr("accounts") + head(4, 0)),
        (
            "a version 2 store whose only record does not expire",
            prelude(3, "otp-link store", 2) + tstr("accounts") + head(4, 1) + head(4, 3)
            + bstr(HOSTILE_ID) + tstr("db") + bstr(b"\xa5"),
        ),
        (
            "a record that expires in a version 1 store",
            before_record() + bstr(b"\xa6"),
        ),
        ("version 0", prelude(3, "otp-link store", 0) + tstr("accounts") + head(4, 0)),
        (
            "a fourth top-level entry",
            prelude(4, "otp-link store", 1) + tstr("accounts") + head(4, 0) + tstr("extra") + b"\xf6",
        ),
        ("trailing byte", before_accounts() + head(4, 0) + b"\x00"),
    ]
    for major, kind in ((2, "bstr"), (3, "tstr"), (4, "array"), (5, "map")):
        for n in (gib4, huge):
            lie = head(major, n)
            corpus += [
                ("top-level %s of %d items" % (kind, n), lie),
                ("accounts as a %s of %d items" % (kind, n), before_accounts() + lie),
                (
                    "an account entry as a %s of %d items" % (kind, n),
                    before_accounts() + head(4, 1) + lie,
                ),
                ("an account record as a %s of %d items" % (kind, n), before_record() + lie),
                ("a record map as a %s of %d items" % (kind, n), before_record() + bstr(lie)),
                (
                    "a sealed username as a %s of %d items" % (kind, n),
                    before_record() + bstr(record_before_username(25) + lie),
                ),
            ]
    for n in (gib4, huge):
        corpus += [
            (
                "a record id claiming %d bytes" % n,
                before_accounts() + head(4, 1) + head(4, 3) + head(2, n),
            ),
            (
                "an account name claiming %d bytes" % n,
                before_accounts() + head(4, 1) + head(4, 3) + bstr(HOSTILE_ID) + head(3, n),
            ),
            (
                "a ciphertext claiming %d bytes" % n,
                before_record() + bstr(record_before_username(25) + head(4, 2) + head(2, n)),
            ),
        ]
    rng = random.Random(0x077011C40004)
    for size in (1, 2, 16, 100, 1000, 4096, 70_000):
        corpus.append(("%d random bytes" % size, bytes(rng.getrandbits(8) for _ in range(size))))
    return corpus


def key_text(letter: str, record_id: bytes, pad: bytes, mac_key: bytes) -> str:
    body = "otp1-%s-%s-%s-%s" % (letter, record_id.hex(), pad.hex(), mac_key.hex())
    import binascii

    return "%s-%08x" % (body, binascii.crc32(body.encode()))


def HOSTILE_KEYS() -> tuple:
    return (
        key_text("u", HOSTILE_ID, bytes([1] * 25), bytes([2] * 32)),
        key_text("p", HOSTILE_ID, bytes([3] * 25), bytes([4] * 32)),
    )


def sealed_store(accounts: list, rng: random.Random) -> tuple:
    """A store of ``accounts`` (name, username, password, width), sealed by
    the tests' own writer after spec sections 3, 4 and 7; returns the bytes
    and each account's (user_key, pass_key). Lets a test put names in a
    store that otp-link would refuse to write (its readers must still read
    them)."""
    entries = []
    keys = []
    for name, username, password, width in accounts:
        record_id = bytes(rng.getrandbits(8) for _ in range(16))
        created = 1_795_600_000
        fields = []
        texts = []
        for letter, value in (("u", username), ("p", password)):
            v = value.encode()
            padding = bytes(rng.getrandbits(8) for _ in range(width - 2 - len(v)))
            frame = v + padding + b"%02d" % len(v)
            pad = bytes(rng.getrandbits(8) for _ in range(width))
            mac_key = bytes(rng.getrandbits(8) for _ in range(32))
            raw = name.encode("utf-8", "surrogatepass")
            message = (
                b"otp-link tag v1" + record_id + letter.encode() + bytes([width])
                + len(raw).to_bytes(2, "big") + raw + created.to_bytes(8, "big") + b"\x00" + frame
            )  # fmt: skip
            tag = pure._poly1305(bytearray(mac_key), bytearray(message))
            ciphertext = bytes(a ^ b for a, b in zip(frame, pad))
            fields.append(head(4, 2) + bstr(ciphertext) + bstr(tag))
            texts.append(key_text(letter, record_id, pad, mac_key))
        record = (
            head(5, 5) + tstr("width") + head(0, width) + tstr("created") + head(0, created)
            + tstr("rotated") + b"\xf6" + tstr("username") + fields[0] + tstr("password") + fields[1]
        )  # fmt: skip
        entries.append(head(4, 3) + bstr(record_id) + tstr(name) + bstr(record))
        keys.append(tuple(texts))
    store = before_accounts() + head(4, len(entries)) + b"".join(entries)
    return store, keys


# ------------------------------------------------------------ shared checks


class Case(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="otp-pure-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def store(self, data: bytes, name: str = "store.cbor") -> Path:
        return otp_cli.write_private(self.dir / name, data)

    def all_outcomes(self, user_key, pass_key, store) -> tuple:
        """recover's outcome through every implementation, which must agree
        with each other and with verify's class; the agreed outcome."""
        results = {}
        for label, impl in implementations():
            got = outcome(lambda: impl.recover(user_key, pass_key, store=store))
            results[label] = got
            self.assertNotEqual(got[0], "crash", "%s: %s" % (label, got))
            checked = outcome(lambda: impl.verify(user_key, pass_key, store=store))
            if got[0] == "ok":
                self.assertEqual(checked[0], "ok", label)
            else:
                self.assertEqual(checked, got, "%s: verify and recover disagree" % label)
        self.assertEqual(len(set(results.values())), 1, "implementations disagree: %s" % results)
        return results["pure"]

    def cli_code(self, user_key, pass_key, store) -> tuple:
        """What ``otp-link recover`` gives: (exit code, stdout, stderr)."""
        done = otp(store, "recover", user_key, pass_key)
        return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace")

    def assert_like_cli(self, user_key, pass_key, store) -> tuple:
        """The implementations agree with each other and with the binary."""
        got = self.all_outcomes(user_key, pass_key, store)
        code, stdout, stderr = self.cli_code(user_key, pass_key, store)
        if got[0] == "ok":
            self.assertEqual(code, 0, stderr)
            username, password = got[1]
            self.assertEqual(stdout, (username + "\n" + password + "\n").encode())
        else:
            self.assertEqual(got[1], code, "pure %s, otp-link %d: %s" % (got, code, stderr))
        return got


# ------------------------------------------------------------ vectors


def vectors() -> list:
    return sorted(otp_cli.VECTORS.glob("*.json"))


class VectorTests(Case):
    def test_there_are_vectors_of_every_layer(self):
        layers = {json.loads(p.read_text())["fails_at"] for p in vectors()}
        self.assertEqual(layers, set(LAYER_CLASS) | {"none"})

    def test_every_vector_is_read_as_its_layer_says(self):
        """pure at the vector's ``now``; native and the binary at the real
        clock, which gives the same outcome."""
        for path in vectors():
            v = json.loads(path.read_text())
            with self.subTest(vector=path.stem), at_clock(v.get("now")):
                store = self.store(bytes.fromhex(v["store"]))
                if is_launch(v):
                    # A launch vector (spec/launch.md): pure refuses the keys
                    # before reading anything (its section 12).
                    got = outcome(lambda: pure.recover(v["user_key"], v["pass_key"], store=store))
                    self.assertEqual(got, ("MalformedKey", 3))
                    continue
                got = self.all_outcomes(v["user_key"], v["pass_key"], store)
                if v["fails_at"] == "none":
                    self.assertEqual(got, ("ok", (v["username"], v["password"])))
                    self.assertEqual(pure.verify(v["user_key"], v["pass_key"], store=store), v["name"])
                else:
                    self.assertEqual(got[0], LAYER_CLASS[v["fails_at"]])
                if binary() is not None:
                    self.assert_like_cli(v["user_key"], v["pass_key"], store)

    def test_expiry_vectors_turn_on_the_clock(self):
        """Through pure, whose clock the test sets: each expiring account
        opens up to and including its not_after second and is KeysExpired
        (exit 12) one second later, for recover and verify alike; an
        account without not_after never reads the clock."""
        checked = 0
        for path in vectors():
            v = json.loads(path.read_text())
            if v["fails_at"] not in ("none", "expired") or is_launch(v):
                continue
            store = self.store(bytes.fromhex(v["store"]))
            keys = (v["user_key"], v["pass_key"])
            if "not_after" not in v:

                def no_clock():
                    raise AssertionError("the clock was read for an account that never expires")

                with mock.patch.object(pure, "_clock", no_clock):
                    self.assertEqual(outcome(lambda: pure.recover(*keys, store=store))[0], "ok", path.stem)
                continue
            checked += 1
            t = v["not_after"]
            for now, expected in ((t, "ok"), (t - 1, "ok"), (0, "ok"), (t + 1, "KeysExpired"), (2**64 - 1, "KeysExpired")):
                with self.subTest(vector=path.stem, now=now), at_clock(now):
                    for call in (pure.recover, pure.verify):
                        got = outcome(lambda: call(*keys, store=store))
                        self.assertEqual(got[0], expected)
                        if expected == "KeysExpired":
                            self.assertEqual(got[1], 12)
        self.assertGreaterEqual(checked, 3)

    def test_the_clock_is_truncated_to_the_second(self):
        """spec section 6 step 13: the not_after second opens to its end."""
        v = json.loads((otp_cli.VECTORS / "ok-expiry-at-the-last-second.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        second = 10**9
        for ns, expected in (
            (v["not_after"] * second, "ok"),
            (v["not_after"] * second + second - 1, "ok"),
            ((v["not_after"] + 1) * second, "KeysExpired"),
        ):
            with self.subTest(ns=ns), mock.patch("time.time_ns", lambda: ns):
                self.assertEqual(outcome(lambda: pure.recover(v["user_key"], v["pass_key"], store=store))[0], expected)

    def test_an_expired_account_is_refused_with_the_clis_line(self):
        """The message names the account, its not_after and the clock's
        time, as ``otp-link recover`` says it (the clock's second may
        differ between the two runs)."""
        v = json.loads((otp_cli.VECTORS / "fail-expired.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        with at_clock(v["now"]), self.assertRaises(pure.KeysExpired) as e:
            pure.recover(v["user_key"], v["pass_key"], store=store)
        message = e.exception.message
        self.assertEqual(e.exception.exit_code, 12)
        self.assertIn("account 'contractor' expired at 2026-11-25T23:40:00Z", message)
        self.assertIn("(the clock reads %s)" % pure._rfc3339(v["now"]), message)
        self.assertNotIn(v["user_key"][20:60], message)
        if binary() is not None:
            code, _, stderr = self.cli_code(v["user_key"], v["pass_key"], store)
            self.assertEqual(code, 12)
            with self.assertRaises(pure.KeysExpired) as e:
                pure.recover(v["user_key"], v["pass_key"], store=store)
            self.assertEqual(without_clock("otp-link: %s\n" % e.exception.message), without_clock(stderr))

    def test_a_clock_before_1970_is_an_error_only_for_an_account_that_expires(self):
        """Exit 10, as otp-link: never taken for an early time, which would
        open an expired account again."""
        expiring = json.loads((otp_cli.VECTORS / "fail-expired.json").read_text())
        plain = json.loads((otp_cli.VECTORS / "ok-expiry-plain-account-in-version-2.json").read_text())
        with mock.patch("time.time_ns", lambda: -1):
            for v, expected in ((expiring, ("StoreIOError", 10)), (plain, "ok")):
                store = self.store(bytes.fromhex(v["store"]))
                got = outcome(lambda: pure.recover(v["user_key"], v["pass_key"], store=store))
                self.assertEqual(got if expected != "ok" else got[0], expected)
            with self.assertRaises(pure.StoreIOError) as e:
                pure.verify(expiring["user_key"], expiring["pass_key"], store=self.store(bytes.fromhex(expiring["store"])))
            self.assertIn("the system clock reads before 1970", e.exception.message)

    def test_times_print_as_rfc_3339_as_otp_link_prints_them(self):
        # otp-core's clock.rs checks the same instants.
        for secs, text in (
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_633_662, "2026-11-25T19:07:42Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (253_402_300_800, "10000-01-01T00:00:00Z"),
        ):
            self.assertEqual(pure._rfc3339(secs), text)
        self.assertTrue(pure._rfc3339(2**64 - 1).endswith("Z"))
        import datetime

        rng = random.Random(15)
        for _ in range(2000):
            secs = rng.randrange(253_402_300_800)
            expected = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.assertEqual(pure._rfc3339(secs), expected, secs)

    def test_the_primitives_give_every_intermediate_of_the_vectors(self):
        for path in vectors():
            v = json.loads(path.read_text())
            for field in (v["user"], v["pass"]):
                tag = pure._poly1305(
                    bytearray.fromhex(field["mac_key"]), bytearray.fromhex(field["mac_message"])
                )
                self.assertEqual(tag.hex(), field["tag"], path.stem)
                key = pure._parse_key(field["key"])
                self.assertEqual(bytes(key.pad).hex(), field["pad"], path.stem)
                self.assertEqual(bytes(key.mac_key).hex(), field["mac_key"], path.stem)
                self.assertEqual(key.record.hex(), v["record_id"], path.stem)
            # A launch record's tags are Poly1305 too, over its own message.
            for field in (v["launch"]["user"], v["launch"]["pass"]) if "launch" in v else ():
                tag = pure._poly1305(
                    bytearray.fromhex(field["mac_key"]), bytearray.fromhex(field["mac_message"])
                )
                self.assertEqual(tag.hex(), field["tag"], path.stem)

    def test_poly1305_matches_rfc_8439(self):
        # RFC 8439 section 2.5.2.
        key = bytearray.fromhex(
            "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"
        )
        tag = pure._poly1305(key, bytearray(b"Cryptographic Forum Research Group"))
        self.assertEqual(tag.hex(), "a8061dc1305136c6c22b8baf0c0127a9")

    def test_crc32_check_value(self):
        self.assertEqual(pure._crc32("123456789"), 0xCBF43926)


def without_clock(line: str) -> str:
    """A KeysExpired line with the clock's time taken out."""
    import re

    return re.sub(r"\(the clock reads [^)]*\)", "(the clock reads ...)", line)


# ------------------------------------------------------------ stores the binary made


class BinaryStoreTests(Case):
    """Random values, every width from 3 to 101, Unicode: secured by the
    binary, recovered by every implementation, byte for byte."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.shared = Path(tempfile.mkdtemp(prefix="otp-pure-bin-"))
        cls.accounts = []  # (name, username, password, width, user_key, pass_key)
        if binary() is None:
            return
        rng = random.Random(0x0770_11C4_1818)
        store = cls.shared / "store.cbor"
        for width in range(3, 102):
            batch = []
            for i in range(2):
                name = "w%03d-%d %s" % (width, i, otp_cli.random_value(rng, 12).replace("\n", ""))
                name = "".join(c for c in name if c >= " " and not "\x7f" <= c <= "\x9f")
                name = "".join(c for c in name if c not in "\u200b\u200d\u202e\u2066\ufeff\u00ad")
                batch.append(
                    (name, otp_cli.random_value(rng, width - 2), otp_cli.random_value(rng, width - 2))
                )
            if width in (3, 25, 101):
                # The fullest values a frame holds.
                batch[0] = (batch[0][0], "x" * (width - 2), "é" * ((width - 2) // 2))
            for (name, u, p), (uk, pk) in zip(batch, otp_cli.secure_batch(store, width, batch)):
                cls.accounts.append((name, u, p, width, uk, pk))
        cls.store_path = store

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.shared, True)

    def setUp(self) -> None:
        super().setUp()
        require_binary(self)

    def test_every_width_and_value_recovers_alike(self):
        self.assertEqual(len(self.accounts), 2 * 99)
        for name, username, password, width, uk, pk in self.accounts:
            with self.subTest(width=width, name=name):
                got = self.all_outcomes(uk, pk, self.store_path)
                self.assertEqual(got, ("ok", (username, password)))
                self.assertEqual(pure.verify(uk, pk, store=self.store_path), name)
                if native() is not None:
                    self.assertEqual(native().verify(uk, pk, store=self.store_path), name)

    def test_the_binary_recovers_what_pure_recovers(self):
        for name, username, password, width, uk, pk in self.accounts[::7]:
            with self.subTest(width=width):
                self.assert_like_cli(uk, pk, self.store_path)

    def test_swapped_crossed_rotated_and_removed_keys_fail_alike(self):
        store = self.dir / "store.cbor"
        shutil.copy(self.store_path, store)
        os.chmod(store, 0o600)
        (n1, _, _, _, uk1, pk1), (n2, _, _, _, uk2, pk2) = self.accounts[40], self.accounts[90]
        for keys, expected in (
            ((pk1, uk1), "MismatchedKeys"),
            ((uk1, uk1), "MismatchedKeys"),
            ((uk1, pk2), "MismatchedKeys"),
        ):
            self.assertEqual(self.assert_like_cli(keys[0], keys[1], store)[0], expected)
        rotated = otp(store, "rotate", uk1, pk1)
        self.assertEqual(rotated.returncode, 0, rotated.stderr)
        self.assertEqual(self.assert_like_cli(uk1, pk1, store)[0], "AuthenticationFailed")
        new_uk, new_pk = rotated.stdout.decode().split()
        self.assertEqual(self.assert_like_cli(new_uk, new_pk, store)[0], "ok")
        removed = otp(store, "remove", n2)
        self.assertEqual(removed.returncode, 0, removed.stderr)
        self.assertEqual(self.assert_like_cli(uk2, pk2, store)[0], "UnknownAccount")

    def test_a_key_with_any_one_character_changed_is_malformed(self):
        _, _, _, _, uk, pk = self.accounts[10]
        rng = random.Random(5)
        for i in rng.sample(range(len(uk)), 40):
            for c in "0a-fu":
                bad = uk[:i] + c + uk[i + 1 :]
                if bad != uk:
                    got = self.all_outcomes(bad, pk, self.store_path)
                    self.assertEqual(got[0], "MalformedKey", (i, c))

    def test_every_byte_flipped_is_refused_as_the_binary_refuses_it(self):
        """A differential run against the Rust reader: one byte of a real
        store flipped at every offset gives the same exit code through
        pure as through otp-link, and never success."""
        source = self.dir / "one.cbor"
        [(uk, pk)] = otp_cli.secure_batch(source, 25, [("db", "scott", "tiger")])
        original = source.read_bytes()
        for offset in range(len(original)):
            mutated = bytearray(original)
            mutated[offset] ^= 0x01 if offset % 2 else 0x80
            store = self.store(bytes(mutated), "flip.cbor")
            with self.subTest(offset=offset):
                got = self.assert_like_cli(uk, pk, store)
                self.assertIn(got[0], ("StoreCorrupt", "AuthenticationFailed", "UnknownAccount"))


# ------------------------------------------------------------ hostile stores


class HostileStoreTests(Case):
    def test_the_hostile_corpus_is_store_corrupt_and_nothing_else(self):
        user, password = HOSTILE_KEYS()
        for label, data in hostile_corpus():
            with self.subTest(label):
                store = self.store(data)
                for impl_label, impl in implementations():
                    try:
                        impl.recover(user, password, store=store)
                    except Exception as e:  # noqa: BLE001
                        self.assertIs(type(e), pure.StoreCorrupt, "%s: %r" % (impl_label, e))
                        self.assertEqual(e.exit_code, 8)
                        self.assertIn(str(store), e.message)
                        if label.startswith("version"):
                            self.assertIn("format version", e.message)
                    else:
                        self.fail("%s accepted %s" % (impl_label, label))
                if binary() is not None:
                    self.assertEqual(self.cli_code(user, password, store)[0], 8, label)

    def test_the_fuzz_seeds_fail_as_the_binary_fails(self):
        """fuzz/corpus/store_decode's seeds, with keys of the first record
        id in each (or the hostile one), through every reader and otp-link."""
        require_binary(self)
        seeds = sorted((otp_cli.REPO / "fuzz" / "corpus" / "store_decode").iterdir())
        self.assertGreater(len(seeds), 10)
        for seed in seeds:
            data = seed.read_bytes()
            at = data.find(b"\x50")
            record_id = data[at + 1 : at + 17] if at >= 0 and len(data) >= at + 17 else HOSTILE_ID
            user = key_text("u", record_id, bytes(25), bytes(32))
            password = key_text("p", record_id, bytes(25), bytes(32))
            with self.subTest(seed.name):
                got = self.assert_like_cli(user, password, self.store(data))
                self.assertNotEqual(got[0], "ok")

    def test_every_truncation_of_a_store_is_store_corrupt(self):
        rng = random.Random(18)
        data, keys = sealed_store(
            [("first", "a", "b", 25), ("second", "ü", "p" * 40, 64), ("third", "", "", 3)], rng
        )
        user, password = keys[1]
        store = self.store(data)
        self.assertEqual(self.all_outcomes(user, password, store), ("ok", ("ü", "p" * 40)))
        for cut in range(len(data)):
            store.write_bytes(data[:cut])
            for impl_label, impl in implementations():
                with self.assertRaises(pure.StoreCorrupt, msg="%s: cut %d" % (impl_label, cut)) as e:
                    impl.recover(user, password, store=store)
                self.assertIs(type(e.exception), pure.StoreCorrupt)

    def test_random_bytes_behind_a_valid_prelude_are_store_corrupt(self):
        rng = random.Random(0x1818)
        user, password = HOSTILE_KEYS()
        for i in range(300):
            tail = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            prefix = rng.choice([before_accounts(), before_record(), before_accounts() + head(4, 1)])
            store = self.store(prefix + tail)
            for impl_label, impl in implementations():
                got = outcome(lambda: impl.recover(user, password, store=store))
                self.assertIn(got[0], ("StoreCorrupt", "UnknownAccount", "AuthenticationFailed"), i)

    def reads_of(self, store: Path, call) -> int:
        """How many bytes pure read from ``store`` during ``call``."""
        counted = []
        real_read, real_open = os.read, os.open
        fds = set()

        def opened(path, flags, *args):
            fd = real_open(path, flags, *args)
            if os.fspath(path) == os.fspath(store):
                fds.add(fd)
            return fd

        def read(fd, n):
            data = real_read(fd, n)
            if fd in fds:
                counted.append(len(data))
            return data

        with mock.patch.object(pure.os, "open", opened), mock.patch.object(pure.os, "read", read):
            call()
        return sum(counted)

    def test_a_store_over_64_mib_is_refused_before_anything_is_read(self):
        store = self.dir / "huge.cbor"
        with open(store, "wb") as f:
            f.truncate(CAP + 1)
        os.chmod(store, 0o600)
        user, password = HOSTILE_KEYS()
        messages = []

        def call():
            with self.assertRaises(pure.StoreCorrupt) as e:
                pure.recover(user, password, store=store)
            messages.append(e.exception.message)

        self.assertEqual(self.reads_of(store, call), 0)
        self.assertIn("64 MiB", messages[0])
        self.assertEqual(self.all_outcomes(user, password, store), ("StoreCorrupt", 8))

    def test_a_store_that_grows_past_its_size_is_read_to_64_mib_plus_one_only(self):
        """fstat says 100 bytes; the file holds 64 MiB + 4096: pure reads at
        most 64 MiB + 1 and refuses it as too large."""
        store = self.dir / "grows.cbor"
        with open(store, "wb") as f:
            f.truncate(CAP + 4096)
        os.chmod(store, 0o600)
        real_fstat = os.fstat

        def small_fstat(fd):
            st = real_fstat(fd)
            fields = list(st)
            fields[stat.ST_SIZE] = 100
            return os.stat_result(fields)

        user, password = HOSTILE_KEYS()
        total = []

        def call():
            with self.assertRaises(pure.StoreCorrupt) as e:
                pure.recover(user, password, store=store)
            self.assertIn("64 MiB", e.exception.message)

        with mock.patch.object(pure.os, "fstat", small_fstat):
            total.append(self.reads_of(store, call))
        self.assertLessEqual(total[0], CAP + 1)
        self.assertGreater(total[0], CAP)

    def test_a_store_of_exactly_64_mib_is_read_and_refused_for_its_content(self):
        store = self.dir / "limit.cbor"
        with open(store, "wb") as f:
            f.truncate(CAP)
        os.chmod(store, 0o600)
        user, password = HOSTILE_KEYS()
        result = []

        def call():
            with self.assertRaises(pure.StoreCorrupt) as e:
                pure.recover(user, password, store=store)
            result.append(e.exception.message)

        self.assertEqual(self.reads_of(store, call), CAP)
        self.assertNotIn("64 MiB", result[0])

    def test_what_is_not_a_regular_file_is_refused_without_hanging(self):
        user, password = HOSTILE_KEYS()
        fifo = self.dir / "fifo"
        cases = [(self.dir, "a directory")]
        if hasattr(os, "mkfifo"):
            os.mkfifo(fifo, 0o600)
            cases.append((fifo, "a FIFO"))
        if os.path.exists("/dev/null"):
            cases.append((Path("/dev/null"), "a device"))
        for path, kind in cases:
            with self.subTest(kind):
                got = self.all_outcomes(user, password, path)
                self.assertEqual(got, ("StoreCorrupt", 8))
                with self.assertRaises(pure.StoreCorrupt) as e:
                    pure.recover(user, password, store=path)
                self.assertIn("is %s, not a regular file" % kind, e.exception.message)
                if binary() is not None:
                    code, _, stderr = self.cli_code(user, password, path)
                    self.assertEqual(code, 8)
                    self.assertEqual(stderr, "otp-link: %s\n" % e.exception.message)

    def test_a_missing_store_and_a_path_through_a_file_fail_alike(self):
        user, password = HOSTILE_KEYS()
        plain = self.store(b"x", "plain")
        for path, expected in ((self.dir / "missing.cbor", "StoreMissing"), (plain / "sub", "StoreIOError")):
            with self.subTest(expected):
                got = self.all_outcomes(user, password, path)
                self.assertEqual(got[0], expected)
                if binary() is not None:
                    self.assertEqual(self.cli_code(user, password, path)[0], got[1])


# ------------------------------------------------------------ spec rules, through every reader


class SpecRuleTests(Case):
    """The rules spec/ settles where it was silent before, each through
    pure, native and the binary alike."""

    def test_names_with_control_characters_are_refused_and_format_characters_read(self):
        rng = random.Random(7)
        for name, readable in (
            ("plain", True),
            ("zero\u200bwidth", True),
            ("bidi\u202eevil", True),
            ("bom\ufeff", True),
            ("line\u2028separator", True),
            ("nbsp\u00a0", True),
            ("tab\t", False),
            ("del\x7f", False),
            ("nel\u0085", False),
            ("c1\u009f", False),
            ("esc\x1b[2J", False),
            ("x" * 256, True),
            ("x" * 257, False),
            ("é" * 128, True),
        ):
            data, [(user, password)] = sealed_store([(name, "u", "p", 25)], rng)
            store = self.store(data)
            with self.subTest(name=name):
                got = self.all_outcomes(user, password, store)
                self.assertEqual(got, ("ok", ("u", "p")) if readable else ("StoreCorrupt", 8))
                if binary() is not None:
                    self.assert_like_cli(user, password, store)

    def test_another_accounts_damaged_record_does_not_stop_this_one(self):
        rng = random.Random(8)
        data, keys = sealed_store([("a", "u1", "p1", 25), ("b", "u2", "p2", 25)], rng)
        # Damage a's record inside its byte string (keep its length).
        at = data.index(tstr("width")) + len(tstr("width"))
        damaged = data[:at] + b"\x1c" + data[at + 1 :]  # a reserved head
        store = self.store(damaged)
        self.assertEqual(self.all_outcomes(*keys[1], store), ("ok", ("u2", "p2")))
        self.assertEqual(self.all_outcomes(*keys[0], store), ("StoreCorrupt", 8))
        if binary() is not None:
            self.assert_like_cli(*keys[1], store)
            self.assert_like_cli(*keys[0], store)

    def test_a_byte_after_the_account_inside_its_record_is_corrupt(self):
        rng = random.Random(9)
        data, [(user, password)] = sealed_store([("db", "u", "p", 25)], rng)
        record_at = data.index(tstr("db")) + len(tstr("db"))
        length, start = data[record_at + 1], record_at + 2  # 0x58 LEN
        record = data[start : start + length]
        padded = data[:record_at] + bstr(record + b"\x00") + data[start + length :]
        got = self.all_outcomes(user, password, self.store(padded))
        self.assertEqual(got, ("StoreCorrupt", 8))

    def test_unknown_versions_need_only_the_format_tag_and_an_unsigned_version(self):
        user, password = HOSTILE_KEYS()
        for label, data, version_error in (
            ("version 3, then garbage", prelude(2, "otp-link store", 3) + b"\xff\xff", True),
            ("version 3 in a map of 7", prelude(7, "otp-link store", 3), True),
            ("version 0 in a map of 2", prelude(2, "otp-link store", 0), True),
            ("version 2 in a map of 2", prelude(2, "otp-link store", 2), False),
            ("version 2, then garbage", prelude(3, "otp-link store", 2) + b"\xff\xff", False),
            ("version as text", head(5, 3) + tstr("format") + tstr("otp-link store") + tstr("version") + tstr("1"), False),
            ("version negative", head(5, 3) + tstr("format") + tstr("otp-link store") + tstr("version") + b"\x20", False),
            ("version as a float", head(5, 3) + tstr("format") + tstr("otp-link store") + tstr("version") + b"\xf9\x3c\x00", False),
            ("version not shortest", head(5, 3) + tstr("format") + tstr("otp-link store") + tstr("version") + b"\x18\x02", False),
            ("version first", head(5, 3) + tstr("version") + head(0, 2) + tstr("format") + tstr("otp-link store"), False),
        ):
            with self.subTest(label):
                store = self.store(data)
                self.assertEqual(self.all_outcomes(user, password, store), ("StoreCorrupt", 8))
                with self.assertRaises(pure.StoreCorrupt) as e:
                    pure.recover(user, password, store=store)
                self.assertEqual("format version" in e.exception.message, version_error)
                if version_error:
                    self.assertIn("native module", e.exception.message)
                if binary() is not None:
                    code, _, stderr = self.cli_code(user, password, store)
                    self.assertEqual(code, 8)
                    self.assertEqual("format version" in stderr, version_error, stderr)

    def test_keys_are_stripped_of_ascii_whitespace_only(self):
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        for pad, accepted in (
            (" ", True), ("\t", True), ("\n", True), ("\r\n", True), ("\f", True),
            ("\v", False), ("\u00a0", False), ("\u3000", False), ("\u2028", False),
        ):  # fmt: skip
            with self.subTest(pad=repr(pad)):
                got = self.all_outcomes(pad + v["user_key"] + pad, v["pass_key"] + pad, store)
                self.assertEqual(got[0], "ok" if accepted else "MalformedKey")
                if binary() is not None:
                    self.assert_like_cli(pad + v["user_key"] + pad, v["pass_key"] + pad, store)

    def test_keys_of_a_newer_otp_link_are_refused_naming_the_native_module(self):
        """A key version or field letter this reader does not know (launch
        keys and expiry may bring new ones) is malformed, exit 3, with a
        message that says the native module may read it."""
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        record = bytes.fromhex(v["record_id"])
        pad = bytes.fromhex(v["user"]["pad"])
        mac = bytes.fromhex(v["user"]["mac_key"])
        newer = key_text("l", record, pad, mac)
        body = key_text("u", record, pad, mac).replace("otp1-", "otp2-", 1).rsplit("-", 1)[0]
        import binascii

        otp2 = "%s-%08x" % (body, binascii.crc32(body.encode()))
        for user_key in (newer, otp2):
            with self.subTest(user_key[:7]):
                self.assertEqual(self.all_outcomes(user_key, v["pass_key"], store), ("MalformedKey", 3))
                with self.assertRaises(pure.MalformedKey) as e:
                    pure.recover(user_key, v["pass_key"], store=store)
                self.assertIn("native module", e.exception.message)
                if binary() is not None:
                    self.assertEqual(self.cli_code(user_key, v["pass_key"], store)[0], 3)

    def test_launch_keys_are_refused_before_anything_is_read_naming_native_and_otp_link(self):
        """spec/launch.md section 12: a reader without launch records refuses
        ``otpl1-`` keys as malformed (exit 3) before reading anything, and
        says who opens them. Not compared with the native module, which
        opens launch keys once it knows them."""
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        record = bytes.fromhex(v["record_id"])
        pad = bytes.fromhex(v["user"]["pad"])
        mac = bytes.fromhex(v["user"]["mac_key"])
        launch = []
        for letter in ("u", "p"):
            body = key_text(letter, record, pad, mac).replace("otp1-", "otpl1-", 1).rsplit("-", 1)[0]
            import binascii

            launch.append("%s-%08x" % (body, binascii.crc32(body.encode())))
        for store in (self.store(bytes.fromhex(v["store"])), self.dir / "missing.cbor", self.dir):
            for keys in (launch, (launch[0], v["pass_key"]), (v["user_key"], launch[1]), (" " + launch[0] + "\n", launch[1])):
                for call in (pure.recover, pure.verify):
                    with self.subTest(store=store.name, keys=[k[:6] for k in keys]):
                        with self.assertRaises(pure.MalformedKey) as e:
                            call(*keys, store=store)
                        self.assertIs(type(e.exception), pure.MalformedKey)
                        self.assertEqual(e.exception.exit_code, 3)
                        message = e.exception.message
                        self.assertIn("launch key", message)
                        self.assertIn("native module (pip install ./otp-py)", message)
                        self.assertIn("otp-link", message)
                        self.assertNotIn(pad.hex(), message)
        done = otp_cli.run_pure_script("--store", str(self.dir / "missing.cbor"), *launch)
        self.assertEqual(done.returncode, 3)
        self.assertIn(b"launch key", done.stderr)

    def test_a_malformed_key_is_reported_even_where_there_is_no_store_location(self):
        """Section 6 step 1 before step 2, as otp-link does it: no HOME and
        no store, and a mistyped key is still exit 3, not 2."""
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        with mock.patch.dict(os.environ, {}, clear=True):
            for keys, expected in (
                ((v["user_key"].upper(), v["pass_key"]), ("MalformedKey", 3)),
                ((v["pass_key"], v["user_key"]), ("MismatchedKeys", 3)),
                ((v["user_key"], v["pass_key"]), ("UsageError", 2)),
            ):
                for _, impl in implementations():
                    for call in (impl.recover, impl.verify):
                        self.assertEqual(outcome(lambda: call(*keys)), expected)
                if binary() is not None:
                    done = subprocess.run([binary(), "recover", *keys], capture_output=True, env={})
                    self.assertEqual(done.returncode, expected[1], done.stderr)

    def test_keys_are_checked_before_the_store_is_read(self):
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        for store in (self.dir / "missing.cbor", self.dir):
            got = self.all_outcomes(v["user_key"].upper(), v["pass_key"], store)
            self.assertEqual(got, ("MalformedKey", 3))
            got = self.all_outcomes(v["pass_key"], v["user_key"], store)
            self.assertEqual(got, ("MismatchedKeys", 3))

    @unittest.skipUnless(hasattr(os, "geteuid"), "Unix permissions")
    def test_a_store_others_may_access_is_refused_before_its_content_is_judged(self):
        """Spec section 8, PostgreSQL's rule: 0600 and 0400 for any owner,
        0640 and 0440 for a store of root's only; never writable by the
        group, never open to others. The tests' stores are the caller's
        (root's under CI)."""
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        good = bytes.fromhex(v["store"])
        roots = os.geteuid() == 0
        group_read = "ok" if roots else "InsecureStore"
        for data, mode, expected in (
            (good, 0o644, "InsecureStore"),
            (good, 0o620, "InsecureStore"),
            (good, 0o660, "InsecureStore"),
            (good, 0o650, "InsecureStore"),
            (good, 0o601, "InsecureStore"),
            (good, 0o604, "InsecureStore"),
            (good, 0o600, "ok"),
            (good, 0o400, "ok"),
            (good, 0o640, group_read),
            (good, 0o440, group_read),
            (good[:-1], 0o644, "InsecureStore"),  # corrupt and readable by others: exit 9
        ):
            store = self.store(data)
            os.chmod(store, mode)
            with self.subTest(mode=oct(mode), corrupt=data is not good):
                got = self.all_outcomes(v["user_key"], v["pass_key"], store)
                self.assertEqual(got[0], expected)
                if expected != "ok":
                    with self.assertRaises(pure.InsecureStore) as e:
                        pure.recover(v["user_key"], v["pass_key"], store=store)
                    self.assertIn("chmod 640" if roots else "chmod 600", e.exception.message)
                    if binary() is not None:
                        code, _, stderr = self.cli_code(v["user_key"], v["pass_key"], store)
                        self.assertEqual((code, stderr), (9, "otp-link: %s\n" % e.exception.message))
        # Oversized and readable by others: the size is judged first (exit 8).
        huge = self.dir / "huge.cbor"
        with open(huge, "wb") as f:
            f.truncate(CAP + 1)
        os.chmod(huge, 0o644)
        self.assertEqual(self.all_outcomes(v["user_key"], v["pass_key"], huge), ("StoreCorrupt", 8))

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0, "needs root to chown")
    def test_only_a_store_of_roots_may_be_readable_by_its_group(self):
        """A store of another user at 0640 is refused for its mode (checked
        before its owner), with the fix for that user's store."""
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        os.chown(store, 65534, 65534)
        os.chmod(store, 0o640)
        self.assertEqual(self.all_outcomes(v["user_key"], v["pass_key"], store), ("InsecureStore", 9))
        with self.assertRaises(pure.InsecureStore) as e:
            pure.recover(v["user_key"], v["pass_key"], store=store)
        self.assertIn("may be read or written by group or others (mode 0640)", e.exception.message)
        self.assertIn("must be owned by root", e.exception.message)
        if binary() is not None:
            code, _, stderr = self.cli_code(v["user_key"], v["pass_key"], store)
            self.assertEqual((code, stderr), (9, "otp-link: %s\n" % e.exception.message))

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0, "needs root to chown")
    def test_a_store_owned_by_another_user_is_refused(self):
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        os.chown(store, 65534, 65534)
        got = self.all_outcomes(v["user_key"], v["pass_key"], store)
        self.assertEqual(got, ("InsecureStore", 9))
        with self.assertRaises(pure.InsecureStore) as e:
            pure.recover(v["user_key"], v["pass_key"], store=store)
        self.assertIn("owned by user id 65534", e.exception.message)
        if binary() is not None:
            code, _, stderr = self.cli_code(v["user_key"], v["pass_key"], store)
            self.assertEqual((code, stderr), (9, "otp-link: %s\n" % e.exception.message))

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0, "needs root to drop to nobody")
    def test_access_denied_is_exit_9_as_the_binary_says(self):
        v = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        private = self.dir / "private"
        private.mkdir(mode=0o700)
        store = otp_cli.write_private(private / "store.cbor", bytes.fromhex(v["store"]))
        os.chmod(self.dir, 0o755)
        script = self.dir / "pure.py"
        shutil.copy(otp_cli.PACKAGE / "pure.py", script)
        os.chmod(script, 0o644)
        # An interpreter that user nobody may run (not one under /root).
        python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), None)
        if python is None:
            self.skipTest("no system python3 that nobody may run")

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        args = ["--store", str(store), v["user_key"], v["pass_key"]]
        mine = subprocess.run([python, str(script)] + args, preexec_fn=as_nobody, capture_output=True)
        self.assertEqual(mine.returncode, 9, mine.stderr)
        self.assertIn(b"Permission denied (os error 13)", mine.stderr)
        # The binary, where nobody may run it (not in a checkout under /root).
        runnable = binary() is not None and subprocess.run(
            [binary(), "--version"], preexec_fn=as_nobody, capture_output=True
        ).returncode == 0
        if runnable:
            theirs = subprocess.run(
                [binary(), "--store", str(store), "recover"] + args[2:],
                preexec_fn=as_nobody,
                capture_output=True,
            )
            self.assertEqual((mine.returncode, mine.stderr), (theirs.returncode, theirs.stderr))


# ------------------------------------------------------------ the API


class ApiTests(Case):
    def vector_store(self):
        v = json.loads((otp_cli.VECTORS / "ok-width-64-utf8.json").read_text())
        return v, self.store(bytes.fromhex(v["store"]))

    def test_implementation_is_named_and_pure_is_bound_without_the_native_module(self):
        self.assertIn(otp_link.IMPLEMENTATION, ("native", "pure"))
        if otp_link.IMPLEMENTATION == "pure":
            for name in ("recover", "verify", "recover_legacy", "default_store_path", "Credentials"):
                self.assertIs(getattr(otp_link, name), getattr(pure, name), name)
        for name in ("recover", "verify", "recover_legacy", "default_store_path", "Credentials"):
            self.assertTrue(hasattr(otp_link, name), name)

    def test_credentials_hide_their_values_and_refuse_pickling_and_copying(self):
        v, store = self.vector_store()
        for label, impl in implementations():
            with self.subTest(label):
                c = impl.recover(v["user_key"], v["pass_key"], store=store)
                self.assertEqual((c.username, c.password), (v["username"], v["password"]))
                for shown in (repr(c), str(c)):
                    self.assertIn("redacted", shown)
                    self.assertNotIn(v["password"], shown)
                    self.assertNotIn(v["username"], shown)
                for refuse in (pickle.dumps, copy.copy, copy.deepcopy):
                    with self.assertRaises(TypeError, msg=refuse.__name__):
                        refuse(c)
                raw = c.password_bytes()
                self.assertIsInstance(raw, bytearray)
                self.assertEqual(raw, v["password"].encode())
                raw[:] = bytes(len(raw))
                self.assertEqual(c.password, v["password"], "password_bytes is a copy")
                self.assertIsNot(c.password_bytes(), c.password_bytes())
                with c as entered:
                    self.assertIs(entered, c)

    def test_credentials_behave_as_the_native_modules_do(self):
        """otp-py/README.md's contract where it is silent, as the native
        module does it: repr before and after the with block, the
        ValueError after it, the TypeErrors' words, no subclass, no new
        attribute; the argument type errors' words."""
        v, store = self.vector_store()
        for label, impl in implementations():
            with self.subTest(label):
                c = impl.recover(v["user_key"], v["pass_key"], store=store)
                self.assertEqual(repr(c), "otp_link.Credentials(username=[redacted], password=[redacted])")
                self.assertEqual(str(c), repr(c))
                with self.assertRaisesRegex(TypeError, r"^otp_link.Credentials cannot be pickled: the values stay in this process; recover them where they are needed$"):
                    pickle.dumps(c)
                with self.assertRaisesRegex(TypeError, r"^otp_link.Credentials cannot be copied: "):
                    copy.copy(c)
                with self.assertRaisesRegex(TypeError, r"^otp_link.Credentials cannot be copied: "):
                    copy.deepcopy([c])
                with self.assertRaises(AttributeError):
                    c.username = "someone else"
                with self.assertRaises(AttributeError):
                    c.extra = 1
                with self.assertRaises(TypeError):
                    type("Sub", (type(c),), {})
                with c:
                    pass
                self.assertEqual(repr(c), "otp_link.Credentials([wiped])")
                for read in (lambda: c.username, lambda: c.password, c.password_bytes):
                    with self.assertRaisesRegex(ValueError, r"^these credentials were wiped when their with block ended; recover them again$"):
                        read()
                for call in (impl.recover, impl.verify):
                    for args, kwargs, message in (
                        ((v["user_key"].encode(), v["pass_key"]), {"store": store}, "user_key must be a str holding the key text, not bytes"),
                        ((v["user_key"], None), {"store": store}, "pass_key must be a str holding the key text, not NoneType"),
                        ((v["user_key"], v["pass_key"]), {"store": 42}, "store must be a path (str, bytes or os.PathLike), not int"),
                        (("not a key", None), {"store": store}, "pass_key must be a str holding the key text, not NoneType"),
                        (("not a key", v["pass_key"]), {"store": 42}, "store must be a path (str, bytes or os.PathLike), not int"),
                    ):
                        with self.assertRaises(pure.UsageError) as e:
                            call(*args, **kwargs)
                        self.assertEqual(str(e.exception), message)

    def test_recover_legacy_checks_its_argument_types_first_as_native_does(self):
        legacy = self.store(b"not a pickle", "db.pkl")
        for label, impl in implementations():
            for args, message in (
                ((42, "a" * 25, "b" * 25), "path must be a path (str, bytes or os.PathLike), not int"),
                ((legacy, b"a" * 25, "b" * 25), "user_key must be a str holding the key text, not bytes"),
                ((legacy, "short", None), "pass_key must be a str holding the key text, not NoneType"),
                ((None, "short", None), "path must be a path (str, bytes or os.PathLike), not NoneType"),
            ):
                with self.subTest(impl=label, message=message):
                    with self.assertRaises(pure.UsageError) as e:
                        impl.recover_legacy(*args)
                    self.assertEqual(str(e.exception), message)
            got = outcome(lambda: impl.recover_legacy(legacy, "short", "b" * 25))
            self.assertEqual(got, ("MalformedKey", 3), label)

    def test_the_implementation_is_the_one_the_runner_asked_for(self):
        """tests/tests/python.rs runs this file with the native module
        (``OTP_LINK_REQUIRE_NATIVE=1``: every comparison with it must run)
        and without it (``OTP_LINK_REQUIRE_PURE=1``)."""
        if os.environ.get("OTP_LINK_REQUIRE_NATIVE") == "1":
            self.assertEqual(otp_link.IMPLEMENTATION, "native")
            self.assertEqual([label for label, _ in implementations()], ["pure", "native"])
        elif os.environ.get("OTP_LINK_REQUIRE_PURE") == "1":
            self.assertEqual(otp_link.IMPLEMENTATION, "pure")
            self.assertIs(otp_link.recover, pure.recover)
            import importlib

            with self.assertRaises(ImportError):
                importlib.import_module("otp_link._native")
        else:
            self.skipTest("no implementation required (OTP_LINK_REQUIRE_NATIVE, OTP_LINK_REQUIRE_PURE)")

    def test_leaving_the_with_block_wipes_the_bytearrays(self):
        v, store = self.vector_store()
        with pure.recover(v["user_key"], v["pass_key"], store=store) as c:
            held = [c._username, c._password]
            self.assertEqual(bytes(held[1]), v["password"].encode())
        self.assertEqual(held, [bytearray(), bytearray()])
        with self.assertRaises(ValueError):
            c.password
        with self.assertRaises(ValueError):
            c.password_bytes()

    def test_pure_wipes_the_pads_it_parsed(self):
        v, store = self.vector_store()
        keys = []
        real = pure._parse_key

        def keep(text):
            key = real(text)
            keys.append(key)
            return key

        with mock.patch.object(pure, "_parse_key", keep):
            pure.recover(v["user_key"], v["pass_key"], store=store)
        self.assertEqual(len(keys), 2)
        for key in keys:
            self.assertEqual(set(key.pad) | set(key.mac_key), {0})

    def test_wrong_types_are_usage_errors(self):
        v, store = self.vector_store()
        for args, kwargs in (
            ((b"otp1-u", v["pass_key"]), {"store": store}),
            ((v["user_key"], None), {"store": store}),
            ((v["user_key"], v["pass_key"]), {"store": 7}),
        ):
            got = outcome(lambda: pure.recover(*args, **kwargs))
            self.assertEqual(got, ("UsageError", 2))
        got = outcome(lambda: pure.recover(v["user_key"], v["pass_key"], store=str(store)))
        self.assertEqual(got[0], "ok")
        got = outcome(lambda: pure.recover(v["user_key"], v["pass_key"], store=os.fsencode(store)))
        self.assertEqual(got[0], "ok")

    def test_default_store_path_follows_section_9(self):
        credentials = self.dir / "credentials"
        credentials.mkdir()
        (credentials / "otp-link-store").write_bytes(b"")
        dangling = self.dir / "dangling"
        dangling.mkdir()
        os.symlink(self.dir / "nowhere", dangling / "otp-link-store")
        empty = self.dir / "empty"
        empty.mkdir()
        cases = [
            ({"OTP_LINK_STORE": "/s/x.cbor", "HOME": "/h"}, "/s/x.cbor"),
            # The systemd credential otp-link-store, after OTP_LINK_STORE.
            ({"CREDENTIALS_DIRECTORY": str(credentials), "HOME": "/h"}, str(credentials / "otp-link-store")),
            ({"CREDENTIALS_DIRECTORY": str(credentials), "OTP_LINK_STORE": "/s/x.cbor"}, "/s/x.cbor"),
            ({"CREDENTIALS_DIRECTORY": str(dangling), "HOME": "/h"}, str(dangling / "otp-link-store")),
            ({"CREDENTIALS_DIRECTORY": str(empty), "HOME": "/h"}, "/h/.local/share/otp-link/store.cbor"),
            ({"CREDENTIALS_DIRECTORY": "credentials", "HOME": "/h"}, "/h/.local/share/otp-link/store.cbor"),
            ({"CREDENTIALS_DIRECTORY": "", "HOME": "/h"}, "/h/.local/share/otp-link/store.cbor"),
            ({"CREDENTIALS_DIRECTORY": str(empty)}, None),
            ({"OTP_LINK_STORE": "", "HOME": "/h", "XDG_DATA_HOME": "/x"}, "/x/otp-link/store.cbor"),
            ({"HOME": "/h", "XDG_DATA_HOME": "relative"}, "/h/.local/share/otp-link/store.cbor"),
            ({"HOME": "/h"}, "/h/.local/share/otp-link/store.cbor"),
            ({"HOME": ""}, None),
            ({}, None),
        ]
        if not sys.platform.startswith("linux"):
            self.skipTest("the Linux rows of section 9")
        for env, expected in cases:
            for label, impl in implementations():
                with self.subTest(env=env, impl=label), mock.patch.dict(os.environ, env, clear=True):
                    got = outcome(impl.default_store_path)
                    if expected is None:
                        self.assertEqual(got, ("UsageError", 2))
                    else:
                        self.assertEqual(str(impl.default_store_path()), expected)

    def test_recover_uses_the_default_store(self):
        v, store = self.vector_store()
        with mock.patch.dict(os.environ, {"OTP_LINK_STORE": str(store)}):
            for label, impl in implementations():
                with impl.recover(v["user_key"], v["pass_key"]) as c:
                    self.assertEqual(c.password, v["password"], label)

    def test_recover_makes_the_process_non_dumpable_on_linux(self):
        if not sys.platform.startswith("linux"):
            self.skipTest("PR_SET_DUMPABLE is Linux's")
        v, store = self.vector_store()
        program = (
            "import sys; sys.path.insert(0, %r)\n"
            "from otp_link import pure\n"
            "def dumpable():\n"
            "    import ctypes; return ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)\n"
            "before = dumpable()\n"
            "pure.recover(%r, %r, store=%r)\n"
            "print(before, dumpable())\n"
        ) % (str(otp_cli.PACKAGE.parent), v["user_key"], v["pass_key"], str(store))
        done = subprocess.run([sys.executable, "-c", program], capture_output=True)
        self.assertEqual(done.stdout.split(), [b"1", b"0"], done.stderr)


# ------------------------------------------------------------ the script


class ScriptTests(Case):
    def test_script_prints_what_otp_link_recover_prints(self):
        require_binary(self)
        rng = random.Random(19)
        store = self.dir / "store.cbor"
        accounts = [("a%d" % w, otp_cli.random_value(rng, w - 2), otp_cli.random_value(rng, w - 2), w) for w in (3, 25, 64, 101)]
        for name, u, p, w in accounts:
            [(uk, pk)] = otp_cli.secure_batch(store, w, [(name, u, p)])
            mine = otp_cli.run_pure_script("--store", str(store), uk, pk)
            theirs = otp(store, "recover", uk, pk)
            self.assertEqual((mine.returncode, mine.stdout, mine.stderr), (0, theirs.stdout, b""))
            self.assertEqual(mine.stdout, (u + "\n" + p + "\n").encode())
            mine = otp_cli.run_pure_script(uk, "--store=%s" % store, pk)
            self.assertEqual(mine.stdout, theirs.stdout)
            mine = otp_cli.run_pure_script("--store", str(store), "-", "-", stdin=(uk + "\n" + pk + "\n").encode())
            self.assertEqual(mine.stdout, theirs.stdout, mine.stderr)
            env = dict(os.environ, OTP_LINK_STORE=str(store))
            mine = otp_cli.run_pure_script(uk, pk, env=env)
            self.assertEqual(mine.stdout, theirs.stdout, mine.stderr)

    def test_script_fails_with_the_code_and_the_line_of_otp_link(self):
        """Every failure a reader can have: one line on stderr, the CLI's
        exit code; the line is the CLI's own but for a corrupt store's
        reason (the two readers name what they found in their own words)
        and a version this reader does not know (it names the native
        module)."""
        require_binary(self)
        ok = json.loads((otp_cli.VECTORS / "ok-width-25.json").read_text())
        good = self.store(bytes.fromhex(ok["store"]), "good.cbor")
        world = self.store(bytes.fromhex(ok["store"]), "world.cbor")
        os.chmod(world, 0o644)
        cases = [(v, p.stem) for p in vectors() for v in [json.loads(p.read_text())]]
        checked = 0
        for v, label in cases:
            store = self.store(bytes.fromhex(v["store"]), label + ".cbor")
            if is_launch(v):
                # Refused before anything is read; otp-link opens them.
                mine = otp_cli.run_pure_script("--store", str(store), v["user_key"], v["pass_key"])
                with self.subTest(label):
                    self.assertEqual((mine.returncode, mine.stdout), (3, b""))
                    self.assertIn(b"launch key", mine.stderr)
                continue
            checked += self.compare(store, v["user_key"], v["pass_key"], label)
        for store, label in (
            (self.dir / "missing.cbor", "missing"),
            (self.dir, "directory"),
            (world, "readable by others"),
        ):
            checked += self.compare(store, ok["user_key"], ok["pass_key"], label)
        for uk, pk, label in (
            ("", ok["pass_key"], "empty key"),
            ("x" * 400, ok["pass_key"], "long key"),
            (ok["user_key"] + "0", ok["pass_key"], "key with a digit more"),
        ):
            checked += self.compare(good, uk, pk, label)
        self.assertGreater(checked, 25)

    def compare(self, store, uk, pk, label) -> int:
        mine = otp_cli.run_pure_script("--store", str(store), uk, pk)
        theirs = otp(store, "recover", uk, pk)
        with self.subTest(label):
            self.assertEqual(mine.returncode, theirs.returncode, mine.stderr)
            self.assertEqual(mine.stdout, theirs.stdout)
            if theirs.returncode:
                line = mine.stderr.decode()
                self.assertTrue(line.startswith("otp-link: ") and line.count("\n") == 1, line)
                if " is corrupt (" in line:
                    self.assertRegex(theirs.stderr.decode(), r"^otp-link: store .* is corrupt \(.*\); restore it from a backup\n$")
                    self.assertRegex(line, r"^otp-link: store .* is corrupt \(.*\); restore it from a backup\n$")
                elif "format version" in line or "native module" in line:
                    self.assertIn("native module", line)
                else:
                    self.assertEqual(without_clock(line), without_clock(theirs.stderr.decode()))
                self.assertNotIn(uk[10:40] or "\0", line)
        return 1

    def test_usage_errors_are_exit_2_and_never_echo_an_argument(self):
        key = "otp1-u-0123456789abcdef0123456789abcdef-secretsecret"
        for args in ([], [key], [key, key, key], ["--stor", key, key], ["--store"], ["-x" + key, key]):
            done = otp_cli.run_pure_script(*args)
            self.assertEqual(done.returncode, 2, args)
            self.assertEqual(done.stdout, b"")
            self.assertTrue(done.stderr.startswith(b"otp-link: ") and done.stderr.count(b"\n") == 1, done.stderr)
            self.assertNotIn(b"secret", done.stderr)
        done = otp_cli.run_pure_script("--help")
        self.assertEqual(done.returncode, 0)
        self.assertIn(b"usage: python3 pure.py", done.stdout)
        for stdin, message in ((b"", b"stdin ended"), (b"\n", b"is empty"), (b"a b\n", b"more than one word"), (b"x" * 5000, b"longer than 4096")):
            done = otp_cli.run_pure_script("-", "k", stdin=stdin)
            self.assertEqual(done.returncode, 2, stdin)
            self.assertIn(message, done.stderr)

    def test_the_file_alone_is_a_working_reader(self):
        """pure.py copied by itself, with no package around it: as a script
        and as a module."""
        v = json.loads((otp_cli.VECTORS / "ok-three-accounts.json").read_text())
        store = self.store(bytes.fromhex(v["store"]))
        alone = self.dir / "alone"
        alone.mkdir()
        shutil.copy(otp_cli.PACKAGE / "pure.py", alone / "pure.py")
        clean = {k: val for k, val in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run(
            [sys.executable, "-I", str(alone / "pure.py"), "--store", str(store), v["user_key"], v["pass_key"]],
            capture_output=True,
            env=clean,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, (v["username"] + "\n" + v["password"] + "\n").encode())
        program = "import pure; c = pure.recover(%r, %r, store=%r); print(c.password)" % (v["user_key"], v["pass_key"], str(store))
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, cwd=alone, env=clean)
        self.assertEqual(done.stdout.decode().strip(), v["password"], done.stderr)

    def test_pure_imports_only_the_standard_library(self):
        source = (otp_cli.PACKAGE / "pure.py").read_text()
        import ast

        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    imported.add(node.module.split(".")[0])
        stdlib = {"__future__", "os", "stat", "sys", "hmac", "binascii", "errno", "pathlib", "unicodedata", "ctypes", "getpass", "legacy_pure", "_operator", "time", "typing"}
        self.assertLessEqual(imported, stdlib)
        # typing is the type checker's only (under TYPE_CHECKING): loading it
        # would cost a run as a script about 9 ms.
        probe = "import sys; sys.path.insert(0, %r); import pure; print('typing' in sys.modules)" % str(otp_cli.PACKAGE)
        done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True)
        self.assertEqual(done.stdout, b"False\n", done.stderr)


if __name__ == "__main__":
    unittest.main()
