#!/usr/bin/env bash
# Whole-process benchmarks of otp-link; bench/README.md says what and why.
# Builds the static musl and the glibc release binaries, writes stores of 1
# to 100,000 accounts and a Secure-Python-Link account file, checks every
# recovery, measures peak RSS (/usr/bin/time) and times with hyperfine
# (--export-json into $WORK); bench/report.py writes bench/results.md and
# bench/recover-vs-accounts.png from that. Needs hyperfine and /usr/bin/time
# (Debian packages `hyperfine`, `time`: apt-get installs them when missing).
# Environment:
#   RECOVER_RUNS  timed runs per recover command (default 100, at least 50)
#   WRITE_RUNS    timed runs per secure-account command (default 20)
#   RSS_RUNS      runs per peak-RSS measurement (default 7)
#   PYTHON        the Python 3 to compare with (default: the distribution's
#                 /usr/bin/python3, else the interpreter `python3` runs); the
#                 interpreter `python3` on PATH runs (resolved past pyenv-style
#                 shims) is measured as well when it is another one
#   WORK          scratch directory (default: a new one under /tmp, removed
#                 at the end unless KEEP_WORK=1)
#   BENCH_NO_INSTALL=1  never apt-get, pip or rustup install anything
#   BENCH_NO_MUSL=1     skip the static musl build
#   BENCH_NO_PLOT=1     skip the plot
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
export RECOVER_RUNS=${RECOVER_RUNS:-100} WRITE_RUNS=${WRITE_RUNS:-20} RSS_RUNS=${RSS_RUNS:-7}
SIZES=(1 1000 10000 100000)
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }
may_install() { [ "${BENCH_NO_INSTALL:-0}" != 1 ]; }
[ "$RECOVER_RUNS" -ge 50 ] || die "RECOVER_RUNS must be at least 50"

# --- tools -------------------------------------------------------------------
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ] && may_install && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing ${missing[*]} with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1 || true
fi
if ! command -v hyperfine >/dev/null || [ ! -x /usr/bin/time ]; then
  die "needs hyperfine and /usr/bin/time: apt-get install hyperfine time (Debian packages)"
fi
if [ "${BENCH_NO_PLOT:-0}" != 1 ] && may_install && ! python3 -c 'import matplotlib' 2>/dev/null; then
  say "installing matplotlib for the plot"
  python3 -m pip install --quiet matplotlib >/dev/null 2>&1 || say "pip could not install matplotlib"
fi

# The Pythons to compare with: interpreters themselves, never a shim script
# in front of one (pyenv's shim alone costs tens of milliseconds).
PATH_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$PATH_PYTHON; fi
fi
PYTHONS=("$PYTHON")
[ "$(readlink -f "$PATH_PYTHON")" = "$(readlink -f "$PYTHON")" ] || PYTHONS+=("$PATH_PYTHON")

# --- build -------------------------------------------------------------------
# BUILDS: labels; BIN[label]: the binary. The first build writes the stores.
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
declare -A BIN
BUILDS=()
MUSL_TARGET=$(uname -m)-unknown-linux-musl
export MUSL_TARGET
if [ "${BENCH_NO_MUSL:-0}" != 1 ]; then
  if may_install; then rustup target add "$MUSL_TARGET" >/dev/null 2>&1 || true; fi
  if rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
    say "building the static musl release binary"
    (cd "$ROOT" && cargo build --release -p otp-cli --target "$MUSL_TARGET" --quiet)
    BIN[musl]=$TARGET_DIR/$MUSL_TARGET/release/otp-link
    BUILDS+=(musl)
  else
    say "no $MUSL_TARGET target: timing the glibc build only"
  fi
fi
say "building the glibc release binary"
(cd "$ROOT" && cargo build --release -p otp-cli --quiet)
BIN[glibc]=$TARGET_DIR/release/otp-link
BUILDS+=(glibc)
OTP=${BIN[${BUILDS[0]}]}

# --- load --------------------------------------------------------------------
# The build itself raises the load average: give it up to 90 s to settle.
. "$BENCH_DIR/settle.sh"   # waits for the load to fall; sets LOAD1

# --- data --------------------------------------------------------------------
if [ -n "${WORK:-}" ]; then
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /tmp/otp-link-bench.XXXXXX)
  [ "${KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
fi
chmod 700 "$WORK"
rm -f "$WORK/batch-times.txt" "$WORK/rss.tsv"

declare -A USER_KEY PASS_KEY
for n in "${SIZES[@]}"; do
  store=$WORK/store-$n.cbor
  rm -f "$store" "$store.lock"
  say "writing a store of $n accounts"
  start=$(date +%s.%N)
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "{\"account\": \"account-%06d\", \"username\": \"user%d\", \"password\": \"password-%d-xxxxxxxxxxxx\"}\n", i, i, i }' |
    "$OTP" --store "$store" secure-account --batch > "$WORK/keys-$n.jsonl"
  echo "$n $start $(date +%s.%N)" >> "$WORK/batch-times.txt"
  # The last account's keys: a reader scans every entry whichever it wants.
  read -r "USER_KEY[$n]" "PASS_KEY[$n]" < <(tail -n 1 "$WORK/keys-$n.jsonl" |
    sed -E 's/.*"user_key":"([^"]+)","pass_key":"([^"]+)".*/\1 \2/')
done

say "writing a Secure-Python-Link account file"
mapfile -t LEGACY_KEYS < <("$PYTHON" "$BENCH_DIR/make_legacy_account.py" "$WORK/legacy.pkl" alice 's3cret pw')
printf 'bench-user\nbench-password\n' > "$WORK/credentials.txt"

# check NAME EXPECTED CMD...: the command must print EXPECTED; then its peak
# RSS, RSS_RUNS times, into rss.tsv; then it joins the timed commands.
TIMED=()
check() {
  local name=$1 expected=$2
  shift 2
  [ "$("$@")" = "$expected" ] || die "$name printed the wrong values"
  for _ in $(seq "$RSS_RUNS"); do
    /usr/bin/time -a -o "$WORK/rss.tsv" -f "$name\t%M" "$@" > /dev/null
  done
  TIMED+=(-n "$name" "${*@Q}")
}
say "checking every recovery and measuring its peak RSS ($RSS_RUNS runs each)"
for b in "${BUILDS[@]}"; do
  for n in "${SIZES[@]}"; do
    check "recover, $n account$([ "$n" = 1 ] || echo s), $b" "$(printf 'user%d\npassword-%d-xxxxxxxxxxxx' $((n - 1)) $((n - 1)))" \
      "${BIN[$b]}" --store "$WORK/store-$n.cbor" recover "${USER_KEY[$n]}" "${PASS_KEY[$n]}"
  done
done
TIMED+=(-n "/bin/true (does nothing; glibc, dynamic)" /bin/true)
for py in "${PYTHONS[@]}"; do
  check "Python recovery ($py, $("$py" -c 'import platform; print(platform.python_version())'))" "$(printf 'alice\ns3cret pw')" \
    "$py" "$BENCH_DIR/legacy_recover.py" "$WORK/legacy.pkl" "${LEGACY_KEYS[@]}"
done

# --- timing ------------------------------------------------------------------
say "timing recover and the Python recovery, side by side ($RECOVER_RUNS runs each)"
hyperfine --style basic -N --runs "$RECOVER_RUNS" --warmup 5 --export-json "$WORK/recover.json" "${TIMED[@]}" >&2

say "timing secure-account into fresh copies of the stores ($WRITE_RUNS runs each)"
for n in 1 100000; do
  copy=$WORK/copy-$n.cbor store=$WORK/store-$n.cbor credentials=$WORK/credentials.txt
  # A fresh copy per run, synced so that the timed run's fsyncs flush only
  # its own writes; cp -p keeps mode 0600. Stdin from a file needs sh, whose
  # start-up hyperfine measures and subtracts. The keys go to a file, as an
  # administrator keeps them (otp-link refuses to issue keys into
  # /dev/null), so the time includes syncing that file before the commit.
  keys=$WORK/keys-new.txt
  args=()
  for b in "${BUILDS[@]}"; do
    args+=(-n "secure-account into a $n-account store, $b"
      "${BIN[$b]@Q} --store ${copy@Q} secure-account bench-new < ${credentials@Q} > ${keys@Q} 2>/dev/null")
  done
  hyperfine --style basic --runs "$WRITE_RUNS" --warmup 2 --export-json "$WORK/secure-$n.json" \
    --prepare "rm -f ${copy@Q} ${copy@Q}.lock ${copy@Q}.tmp && cp -p ${store@Q} ${copy@Q} && sync" "${args[@]}" >&2
done

# --- report ------------------------------------------------------------------
BUILDS="${BUILDS[*]}" LOAD1=$LOAD1 python3 "$BENCH_DIR/report.py" "$WORK" "$BENCH_DIR"
