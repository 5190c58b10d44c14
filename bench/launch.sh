#!/usr/bin/env bash
# What launch keys cost: `otp-link issue` and a `recover` that spends a
# launch key, beside a plain `recover`, on stores of 1 and 100,000 accounts,
# interleaved (bench/launch.py says how; bench/README.md, "Launch keys").
# Writes bench/launch-results.md. Needs only Python 3.
# Environment:
#   ROUNDS   rounds of the three commands (default 300)
#   SIZES    store sizes (default "1 100000")
#   WORK     scratch directory (default: a new one under /tmp, removed at the end)
#   BENCH_NO_MUSL=1  time the glibc build instead of the static musl one
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '== %s\n' "$*" >&2; }

. "$ROOT/bench/release-binary.sh"

if [ -n "${WORK:-}" ]; then mkdir -p "$WORK"; else
  WORK=$(mktemp -d /tmp/otp-link-launch-bench.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
fi
chmod 700 "$WORK"
say "load average $(cut -d' ' -f1 /proc/loadavg) ($(nproc) CPUs); ${ROUNDS:-300} rounds"
COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD) BUILD=$BUILD \
  python3 "$ROOT/bench/launch.py" "$OTP" "$WORK" "$ROOT/bench/launch-results.md"
