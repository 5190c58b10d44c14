#!/usr/bin/env python3
"""Secure-Python-Link's recovery, as a baseline for otp-link's benchmarks.

Usage: python3 legacy_recover.py FILE USER_KEY PASS_KEY

Prints the username and the password, one per line. Like the original it
simply unpickles the file, XORs each stored string with its key, reads the
value's length from the frame's last two characters and slices the value
out. pickle.load runs whatever code a pickle names: use this only on your
own files (otp-link reads them without running any code).
"""

import pickle
import sys


def decrypt(stored, key):
    frame = bytes(ord(s) ^ ord(k) for s, k in zip(stored, key))
    length = int(frame[-2:])
    return frame[:length].decode("utf-8")


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: legacy_recover.py FILE USER_KEY PASS_KEY\n")
        sys.exit(2)
    path, user_key, pass_key = sys.argv[1:]
    with open(path, "rb") as f:
        # latin1: Python 2 files hold byte strings, read as code points 0..255.
        account = pickle.load(f, encoding="latin1")
    enc_user, enc_pass = account["list"]
    print(decrypt(enc_user, user_key))
    print(decrypt(enc_pass, pass_key))


if __name__ == "__main__":
    main()
