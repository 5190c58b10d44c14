#!/usr/bin/env python3
"""Writes a Secure-Python-Link account file, for otp-link's benchmarks.

Usage: python3 make_legacy_account.py FILE USERNAME PASSWORD

Prints the user key and then the password key, one per line. Like the
original it draws keys and padding from the random module (not a secure
generator: fine for benchmarks, not for real secrets). Each value may be
at most 23 bytes of UTF-8.
"""

import pickle
import random
import string
import sys

ALPHABET = string.ascii_lowercase + string.ascii_uppercase + string.digits + "!$%&*+=?#@"
KEY_LEN = 25


def make_key():
    return "".join(random.choice(ALPHABET) for _ in range(KEY_LEN))


def encrypt(value, key):
    data = value.encode("utf-8")
    if len(data) > KEY_LEN - 2:
        sys.stderr.write("a value may be at most %d bytes\n" % (KEY_LEN - 2))
        sys.exit(2)
    pad = "".join(random.choice(ALPHABET) for _ in range(KEY_LEN - 2 - len(data)))
    frame = data + pad.encode("ascii") + ("%02d" % len(data)).encode("ascii")
    return "".join(chr(f ^ ord(k)) for f, k in zip(frame, key))


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: make_legacy_account.py FILE USERNAME PASSWORD\n")
        sys.exit(2)
    path, username, password = sys.argv[1:]
    user_key, pass_key = make_key(), make_key()
    account = {"list": [encrypt(username, user_key), encrypt(password, pass_key)]}
    with open(path, "wb") as f:
        pickle.dump(account, f)
    print(user_key)
    print(pass_key)


if __name__ == "__main__":
    main()
