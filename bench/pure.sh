#!/usr/bin/env bash
# The pure Python reader against Secure-Python-Link's recovery, side by side:
# `python3 otp-py/python/otp_link/pure.py --store STORE USER_KEY PASS_KEY` on
# a one-account store, and `python3 bench/legacy_recover.py FILE USER_KEY
# PASS_KEY` on a one-account pickle, by the same interpreter, in one
# hyperfine run (whole processes, warm page cache). Target: pure's median
# at most 1.5 times the original's. Prints a Markdown table of medians,
# and of the CPU time each took (less disturbed by other load).
# Needs hyperfine (apt-get install hyperfine) and cargo (to build the
# otp-link that writes the store; it is not timed).
# Environment:
#   RUNS     timed runs per command (default 200, at least 50)
#   PYTHON   the interpreter (default: /usr/bin/python3, else python3 on
#            PATH); python3 on PATH is measured as well when it is another
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
die() { printf 'bench/pure.sh: %s\n' "$*" >&2; exit 1; }
[ "$RUNS" -ge 50 ] || die "RUNS must be at least 50"
command -v hyperfine >/dev/null || die "needs hyperfine (apt-get install hyperfine)"

PATH_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$PATH_PYTHON; fi
fi
PYTHONS=("$PYTHON")
[ "$(readlink -f "$PATH_PYTHON")" = "$(readlink -f "$PYTHON")" ] || PYTHONS+=("$PATH_PYTHON")

(cd "$ROOT" && cargo build --quiet -p otp-cli --bin otp-link)
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
OTP=$TARGET_DIR/debug/otp-link

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The same values in both, at the original's width of 25.
printf 'alice\ns3cret pw\n' | "$OTP" --store "$WORK/store.cbor" secure-account db --width 25 \
  > "$WORK/keys.txt" 2>/dev/null
mapfile -t KEYS < "$WORK/keys.txt"
mapfile -t LEGACY_KEYS < <("$PYTHON" "$ROOT/bench/make_legacy_account.py" "$WORK/legacy.pkl" alice 's3cret pw')
PURE=$ROOT/otp-py/python/otp_link/pure.py
LEGACY=$ROOT/bench/legacy_recover.py

printf '| Python | `legacy_recover.py` (pickle) | `pure.py` (store) | ratio | target ≤ 1.5× | CPU (user + sys, means) |\n|---|---:|---:|---:|---|---|\n'
for py in "${PYTHONS[@]}"; do
  expected=$(printf 'alice\ns3cret pw')
  [ "$("$py" "$PURE" --store "$WORK/store.cbor" "${KEYS[@]}")" = "$expected" ] || die "pure.py printed the wrong values"
  [ "$("$py" "$LEGACY" "$WORK/legacy.pkl" "${LEGACY_KEYS[@]}")" = "$expected" ] || die "legacy_recover.py printed the wrong values"
  hyperfine --style basic -N --runs "$RUNS" --warmup 10 --export-json "$WORK/times.json" \
    -n legacy "$py ${LEGACY@Q} ${WORK@Q}/legacy.pkl ${LEGACY_KEYS[0]@Q} ${LEGACY_KEYS[1]@Q}" \
    -n pure "$py ${PURE@Q} --store ${WORK@Q}/store.cbor ${KEYS[0]} ${KEYS[1]}" >&2
  version=$("$py" -c 'import platform; print(platform.python_version())')
  python3 - "$WORK/times.json" "$py $version" <<'EOF'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
legacy, pure = runs["legacy"]["median"] * 1000, runs["pure"]["median"] * 1000
cpu = {k: (r["user"] + r["system"]) * 1000 for k, r in runs.items()}
ratio = pure / legacy
print("| %s | %.2f ms | %.2f ms | %.2f× | %s | %.1f ms vs %.1f ms (%.2f×) |" % (
    sys.argv[2], legacy, pure, ratio, "met" if ratio <= 1.5 else "NOT met",
    cpu["legacy"], cpu["pure"], cpu["pure"] / cpu["legacy"]))
EOF
done
printf '\n(medians of %d runs each; load average at the end: %s)\n' "$RUNS" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
