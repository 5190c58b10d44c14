#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/.

Run from anywhere: python3 fuzz/make_seeds.py. Self-contained and
deterministic (a fixed-seed PRNG): rerunning it rewrites the same files. It
builds valid key texts (spec/README.md, "Key text": CRC-32 of the body) and
valid stores ("Store": the CBOR schema; the decoder checks structure, not
tags, so random ciphertexts and tags do), then near misses and the hostile
shapes the decoder must refuse. libFuzzer learns the rest by itself: the seeds
only save it from discovering the schema and the grammar bit by bit.
"""
import pathlib
import random
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parent
rng = random.Random(20261125)


def write(target, name, data):
    path = ROOT / "corpus" / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)


def rand(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


# ---- keys ------------------------------------------------------------------

def key_text(field, record_id, pad, mac_key):
    body = f"otp1-{field}-{record_id.hex()}-{pad.hex()}-{mac_key.hex()}"
    return f"{body}-{zlib.crc32(body.encode()):08x}"


def key_pair(width):
    record_id = rand(16)
    return (key_text("u", record_id, rand(width), rand(32)),
            key_text("p", record_id, rand(width), rand(32)))


for width in (3, 25, 64, 101):
    user, pass_ = key_pair(width)
    write("key_parse", f"user-w{width}", user)
    write("key_parse", f"pass-w{width}", pass_)
    write("key_parse", f"pair-w{width}", f"{user}\n{pass_}")
user, pass_ = key_pair(25)
other_user, _ = key_pair(25)
write("key_parse", "empty", "")
write("key_parse", "prefix-only", "otp1-")
write("key_parse", "padded-whitespace", f"  {user}\t\n")
write("key_parse", "uppercase", user.upper())
write("key_parse", "no-checksum", user.rsplit("-", 1)[0])
write("key_parse", "bad-checksum", user[:-1] + ("0" if user[-1] != "0" else "1"))
write("key_parse", "truncated", user[: len(user) // 2])
write("key_parse", "version-2", "otp2" + user[4:])
write("key_parse", "width-2", key_text("u", rand(16), rand(2), rand(32)))
write("key_parse", "width-102", key_text("u", rand(16), rand(102), rand(32)))
write("key_parse", "field-x", key_text("x", rand(16), rand(25), rand(32)))
write("key_parse", "swapped-pair", f"{pass_}\n{user}")
write("key_parse", "two-user-keys", f"{user}\n{other_user}")
write("key_parse", "pair-of-two-accounts", f"{other_user}\n{pass_}")

# ---- stores ----------------------------------------------------------------

def head(major, n):
    """A CBOR head with the shortest argument encoding."""
    mt = major << 5
    if n < 24:
        return bytes([mt | n])
    if n < 0x100:
        return bytes([mt | 24, n])
    if n < 0x10000:
        return bytes([mt | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([mt | 26]) + struct.pack(">I", n)
    return bytes([mt | 27]) + struct.pack(">Q", n)


def bstr(b):
    return head(2, len(b)) + b


def tstr(s):
    return head(3, len(s.encode())) + s.encode()


NULL = b"\xf6"


def prelude(version=1, entries=3, tag="otp-link store"):
    return head(5, entries) + tstr("format") + tstr(tag) + tstr("version") + head(0, version)


def record(width, created=1_795_633_662, rotated=None):
    sealed = lambda: head(4, 2) + bstr(rand(width)) + bstr(rand(16))
    return (head(5, 5) + tstr("width") + head(0, width)
            + tstr("created") + head(0, created)
            + tstr("rotated") + (NULL if rotated is None else head(0, rotated))
            + tstr("username") + sealed() + tstr("password") + sealed())


def entry(name, rec, record_id=None):
    return head(4, 3) + bstr(record_id or rand(16)) + tstr(name) + bstr(rec)


def store(accounts, **kw):
    return prelude(**kw) + tstr("accounts") + head(4, len(accounts)) + b"".join(accounts)


empty = store([])
one = store([entry("db", record(25))])
three = store([
    entry("first", record(64)),
    entry("second", record(40, rotated=1_795_700_000)),
    entry("thïrd ☃", record(101)),
])
write("store_decode", "store-empty", empty)
write("store_decode", "store-one-w25", one)
write("store_decode", "store-three", three)
write("store_decode", "store-w3", store([entry("x", record(3))]))
write("store_decode", "empty", b"")
write("store_decode", "truncated-half", three[: len(three) // 2])
write("store_decode", "truncated-last-byte", three[:-1])
write("store_decode", "trailing-byte", one + b"\x00")
write("store_decode", "duplicate-id", store([entry("a", record(25), bytes(16)), entry("b", record(25), bytes(16))]))
write("store_decode", "width-2", store([entry("a", record(2))]))
write("store_decode", "width-102", store([entry("a", record(102))]))
write("store_decode", "name-empty", store([entry("", record(25))]))
write("store_decode", "name-control", store([entry("a\nb", record(25))]))
write("store_decode", "name-257", store([entry("n" * 257, record(25))]))
write("store_decode", "version-2", store([], version=2))
write("store_decode", "version-u64-max", prelude(version=2**64 - 1))
write("store_decode", "wrong-format-tag", store([], tag="otp-link stash"))
write("store_decode", "four-entries", store([], entries=4) + tstr("extra") + NULL)
write("store_decode", "nested-arrays", b"\x81" * 200)
write("store_decode", "nested-maps", b"\xa1\x00" * 100)
write("store_decode", "indefinite", b"\x9f\xbf\x5f\x7f" + b"\xff" * 4)
write("store_decode", "tagged", b"\xd8\x18" + one)
accounts = prelude() + tstr("accounts")
write("store_decode", "accounts-array-2e64", accounts + b"\x9b" + b"\xff" * 8)
write("store_decode", "accounts-map-4g", accounts + b"\xba\xff\xff\xff\xff")
write("store_decode", "top-level-bstr-4g", b"\x5a\xff\xff\xff\xff")
write("store_decode", "top-level-tstr-2e64", b"\x7b" + b"\xff" * 8)
write("store_decode", "top-level-map-2e64", b"\xbb" + b"\xff" * 8)
entry_head = accounts + head(4, 1) + head(4, 3) + bstr(bytes(16)) + tstr("db")
write("store_decode", "record-bstr-4g", entry_head + b"\x5a\xff\xff\xff\xff")
write("store_decode", "record-bstr-2e64", entry_head + b"\x5b" + b"\xff" * 8)
write("store_decode", "record-map-4g", entry_head + head(2, 5) + b"\xba\xff\xff\xff\xff")
write("store_decode", "name-tstr-4g", accounts + head(4, 1) + head(4, 3) + bstr(bytes(16)) + b"\x7a\xff\xff\xff\xff")

# Rules that span heads and entries: one encoding per store, one account per
# name and per record id (spec/README.md, "Store").
one_w25 = record(25)
write("store_decode", "duplicate-name", store([entry("a", record(25)), entry("a", record(25))]))
write("store_decode", "integer-not-shortest",
      store([entry("db", one_w25.replace(tstr("width") + head(0, 25), tstr("width") + b"\x19\x00\x19", 1))]))
write("store_decode", "length-not-shortest",
      prelude() + tstr("accounts") + b"\x98\x01" + entry("db", record(25)))
write("store_decode", "null-not-shortest",
      store([entry("db", one_w25.replace(tstr("rotated") + NULL, tstr("rotated") + b"\xf8\x16", 1))]))

# store_recover: each store seed behind the target's three bytes (window,
# where the record id comes from, width) and a record id. The window is 7
# bytes, the id the store's first, the width 25.
for path in sorted((ROOT / "corpus" / "store_decode").iterdir()):
    write("store_recover", path.name, bytes([6, 1, 22]) + bytes(16) + path.read_bytes())

# Launch keys (spec/launch.md, "Key text"): the account key grammar under
# the prefix otpl1-, whose CRC-32 covers the prefix too. Drawn last, so the
# seeds above keep their bytes.
def launch_key_text(field, launch_id, pad, mac_key):
    body = f"otpl1-{field}-{launch_id.hex()}-{pad.hex()}-{mac_key.hex()}"
    return f"{body}-{zlib.crc32(body.encode()):08x}"


launch_id = rand(16)
launch_user = launch_key_text("u", launch_id, rand(25), rand(32))
launch_pass = launch_key_text("p", launch_id, rand(25), rand(32))
write("key_parse", "launch-pair-w25", f"{launch_user}\n{launch_pass}")
write("key_parse", "launch-relabelled", launch_user.replace("otpl1-", "otp1-", 1))
write("key_parse", "launch-mixed-pair", f"{launch_user}\n{pass_}")
