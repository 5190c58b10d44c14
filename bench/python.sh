#!/usr/bin/env bash
# The Python child's benchmarks (bench/README.md, "Python children"), side by
# side in one run: a whole child `python child.py USER_KEY PASS_KEY` (start,
# import otp_link, recover from a 1-account store, print) against the same
# interpreter running Secure-Python-Link's recovery (bench/legacy_recover.py)
# on its pickle, the cost of `import otp_link` over `python -c pass`, and
# otp_link.recover in-process. Builds the release otp-link binary (to secure
# the account), installs the package with `pip install ./otp-py` into a
# virtual environment in the scratch directory, and has
# bench/python_bench.py time and write bench/python-results.md.
# Environment:
#   PYTHON        the base interpreter (default: the distribution's
#                 /usr/bin/python3, else the interpreter `python3` runs)
#   ROUNDS        interleaved rounds of the four processes (default 300)
#   CALLS         otp_link.recover calls per timeit sample (default 20000)
#   WORK          scratch directory (default: a new one under /tmp, removed
#                 at the end unless KEEP_WORK=1)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
ROUNDS=${ROUNDS:-300}
CALLS=${CALLS:-20000}
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/python.sh: %s\n' "$*" >&2; exit 1; }

if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$(python3 -c 'import sys; print(sys.executable)'); fi
fi

if [ -n "${WORK:-}" ]; then
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /tmp/otp-link-pybench.XXXXXX)
  [ "${KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
fi
chmod 700 "$WORK"

TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
say "building the release otp-link binary"
(cd "$ROOT" && cargo build --release -p otp-cli --quiet)
OTP=$TARGET_DIR/release/otp-link

say "pip install ./otp-py into a virtual environment of $PYTHON (release build)"
"$PYTHON" -m venv "$WORK/venv"
VPY=$WORK/venv/bin/python
# The package's own build requirement (maturin), fetched by pip as for any
# user; the Rust build goes to the workspace's target directory.
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR/otp-py-bench "$VPY" -m pip install --disable-pip-version-check -q ./otp-py)
[ "$("$VPY" -c 'import otp_link; print(otp_link.IMPLEMENTATION)')" = native ] || die "otp_link is not the native build"

say "securing a 1-account store and writing a Secure-Python-Link file"
export OTP_LINK_STORE=$WORK/store.cbor
mapfile -t KEYS < <(printf 'alice\ns3cret pw\n' | "$OTP" secure-account bench 2>/dev/null)
USER_KEY=${KEYS[0]} PASS_KEY=${KEYS[1]}
mapfile -t LEGACY_KEYS < <("$VPY" "$BENCH_DIR/make_legacy_account.py" "$WORK/legacy.pkl" alice 's3cret pw')
cat > "$WORK/child.py" <<'EOF'
import sys

import otp_link

credentials = otp_link.recover(sys.argv[1], sys.argv[2])
print(credentials.username)
print(credentials.password)
EOF
expected=$(printf 'alice\ns3cret pw')
[ "$("$VPY" "$WORK/child.py" "$USER_KEY" "$PASS_KEY")" = "$expected" ] || die "child.py printed the wrong values"
[ "$("$VPY" "$BENCH_DIR/legacy_recover.py" "$WORK/legacy.pkl" "${LEGACY_KEYS[@]}")" = "$expected" ] ||
  die "legacy_recover.py printed the wrong values"

. "$BENCH_DIR/settle.sh"   # waits for the load to fall; sets LOAD1

say "timing whole processes ($ROUNDS interleaved rounds) and otp_link.recover in-process"
ROUNDS=$ROUNDS CALLS=$CALLS LOAD1=$LOAD1 "$VPY" "$BENCH_DIR/python_bench.py" "$BENCH_DIR/python-results.md" \
  "$WORK" "$USER_KEY" "$PASS_KEY" "${LEGACY_KEYS[@]}"
