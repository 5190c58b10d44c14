#!/usr/bin/env bash
# What the audit trail costs `otp-link recover`: the same recover with and
# without OTP_LINK_AUDIT, side by side, on a 1-account and a 10,000-account
# store (bench/README.md, "The audit trail"). The target: audited within
# 1.5x of plain, medians.
#
# The two commands are interleaved: ROUNDS short hyperfine runs, each
# timing both commands (RUNS runs each, after a warm-up), alternating which
# goes first, so that a burst of load on a shared machine falls on both.
# Every run's time is pooled per command; bench/audit_report.py gives the
# medians, their ratio and the ratio of each round, and writes
# bench/audit-results.md.
#
# Needs hyperfine (Debian package `hyperfine`; apt-get installs it when
# missing and the script runs as root). Environment:
#   ROUNDS   rounds (default 15)     RUNS  runs per command per round (default 40)
#   WORK     scratch directory (default: a new one under /tmp, removed at the end)
#   BENCH_NO_MUSL=1  time the glibc build instead of the static musl one
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-15} RUNS=${RUNS:-40}
say() { printf '== %s\n' "$*" >&2; }

if ! command -v hyperfine >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing hyperfine with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; } >/dev/null 2>&1 || true
fi
command -v hyperfine >/dev/null || { echo "bench/audit.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

. "$ROOT/bench/release-binary.sh"

if [ -n "${WORK:-}" ]; then mkdir -p "$WORK"; else
  WORK=$(mktemp -d /tmp/otp-link-audit-bench.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
fi
chmod 700 "$WORK"
rm -f "$WORK"/round-*.json "$WORK"/audit-*.log

declare -A USER_KEY PASS_KEY
for n in 1 10000; do
  store=$WORK/store-$n.cbor
  rm -f "$store" "$store.lock"
  say "writing a store of $n accounts"
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "{\"account\": \"account-%06d\", \"username\": \"user%d\", \"password\": \"password-%d\"}\n", i, i, i }' |
    "$OTP" --store "$store" secure-account --batch > "$WORK/keys-$n.jsonl"
  read -r "USER_KEY[$n]" "PASS_KEY[$n]" < <(tail -n 1 "$WORK/keys-$n.jsonl" |
    sed -E 's/.*"user_key":"([^"]+)","pass_key":"([^"]+)".*/\1 \2/')
  # Both commands must print the values; the audited one must log.
  want=$(printf 'user%d\npassword-%d' $((n - 1)) $((n - 1)))
  [ "$("$OTP" --store "$store" recover "${USER_KEY[$n]}" "${PASS_KEY[$n]}")" = "$want" ] || { echo "recover failed" >&2; exit 1; }
  [ "$("$OTP" --store "$store" --audit "$WORK/audit-check.log" recover "${USER_KEY[$n]}" "${PASS_KEY[$n]}")" = "$want" ] || { echo "audited recover failed" >&2; exit 1; }
done
grep -q '"outcome":"success"' "$WORK/audit-check.log" || { echo "no audit record written" >&2; exit 1; }

LOAD1=$(cut -d' ' -f1 /proc/loadavg)
say "load average $LOAD1 ($(nproc) CPUs); $ROUNDS rounds of $RUNS runs per command"
for round in $(seq "$ROUNDS"); do
  for n in 1 10000; do
    plain=("$OTP" --store "$WORK/store-$n.cbor" recover "${USER_KEY[$n]}" "${PASS_KEY[$n]}")
    audited=("$OTP" --store "$WORK/store-$n.cbor" --audit "$WORK/audit-$n.log" recover "${USER_KEY[$n]}" "${PASS_KEY[$n]}")
    a=(-n "plain, $n" "${plain[*]@Q}") b=(-n "audited, $n" "${audited[*]@Q}")
    if [ $((round % 2)) = 0 ]; then first=("${a[@]}") second=("${b[@]}"); else first=("${b[@]}") second=("${a[@]}"); fi
    hyperfine --style none -N --runs "$RUNS" --warmup 3 --export-json "$WORK/round-$round-$n.json" \
      "${first[@]}" "${second[@]}" >/dev/null 2>&1
  done
  printf '.' >&2
done
echo >&2
lines=$(cat "$WORK"/audit-1.log "$WORK"/audit-10000.log | wc -l)
say "audit records written while timing: $lines"
COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD) BUILD=$BUILD LOAD1=$LOAD1 LOAD_END=$(cut -d' ' -f1 /proc/loadavg) \
  python3 "$ROOT/bench/audit_report.py" "$WORK" "$ROOT/bench/audit-results.md"
