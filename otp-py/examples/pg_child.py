#!/usr/bin/env python3
"""pg_child.py: a Python child that logs in to PostgreSQL with credentials
it recovers from two otp-link keys, and nothing else.

    python3 pg_child.py USER_KEY PASS_KEY

The Python twin of tests/examples/pg_child.rs (README, "Walkthrough"): the
host starts it with the two keys ``otp-link secure-account`` printed as its
only arguments. It recovers the username and the password with
``otp_link.recover`` from the store, connects with psycopg over TCP with
password authentication, runs one query and prints its rows like
``psql -tA`` (columns separated by ``|``, NULL as an empty field). It never
prints the credentials.

The environment says where to go, never who to be: ``OTP_LINK_STORE`` (the
store; default the per-user data directory), ``PGHOST`` (default
127.0.0.1), ``PGPORT`` (5432), ``PGDATABASE`` (the recovered username) and
``PG_CHILD_QUERY`` (``SELECT current_database()``). ``PGUSER`` and
``PGPASSWORD`` are ignored.

Exit codes: 0 success; 1 the connection or the query failed; 2 usage; and,
when the credentials cannot be recovered, which is before any connection
attempt, otp-link's own code for the failure (``OtpLinkError.exit_code``),
with its message on stderr as ``pg_child.py: MESSAGE``.
"""

import os
import sys

import otp_link


def main(argv):
    if len(argv) != 3:
        print("pg_child.py: usage: pg_child.py USER_KEY PASS_KEY (the two keys otp-link secure-account printed)",
              file=sys.stderr)
        return 2
    try:
        credentials = otp_link.recover(argv[1], argv[2])
    except otp_link.OtpLinkError as e:
        print(f"pg_child.py: {e}", file=sys.stderr)
        return e.exit_code

    import psycopg  # after recovery: a wrong key costs no driver import

    with credentials:
        try:
            with psycopg.connect(
                host=os.environ.get("PGHOST") or "127.0.0.1",
                port=int(os.environ.get("PGPORT") or 5432),
                dbname=os.environ.get("PGDATABASE") or credentials.username,
                user=credentials.username,
                password=credentials.password,  # a str: the driver's copy cannot be wiped
                connect_timeout=30,
            ) as connection:
                rows = connection.execute(os.environ.get("PG_CHILD_QUERY") or "SELECT current_database()").fetchall()
        except psycopg.Error as e:
            message = str(e).replace("\n", " ")
            for secret in (credentials.password, credentials.username):
                if secret:
                    message = message.replace(secret, "[redacted]")
            print(f"pg_child.py: {message}", file=sys.stderr)
            return 1
    for row in rows:
        print("|".join("" if value is None else str(value) for value in row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
