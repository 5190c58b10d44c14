#!/usr/bin/env bash
# Whole-process benchmarks of otp-link (see bench/README.md).
#
# Builds two release binaries of otp-link: the static musl build README
# recommends (x86_64-unknown-linux-musl; rustup adds the target when it is
# missing) and the default dynamic glibc build. Writes stores of 1, 1,000,
# 10,000 and 100,000 accounts with `secure-account --batch` and a
# Secure-Python-Link account file, then times, with hyperfine (a Python
# timing loop if hyperfine cannot be had):
#   - `otp-link recover` of both builds on each store, Secure-Python-Link's
#     recovery (bench/legacy_recover.py) and /bin/true (a glibc program that does
#     nothing), side by side in one hyperfine run;
#   - `otp-link secure-account` of both builds into a fresh, synced copy of
#     the 1- and 100,000-account stores (fsync included);
# and measures peak RSS with /usr/bin/time (median of several runs). Prints
# a Markdown report and writes it to bench/results.md; plots recover time
# against the number of accounts into bench/recover-vs-accounts.png when
# matplotlib is available.
#
# Usage: bench/run.sh
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
#   HYPERFINE=          (set empty) time with the Python loop, not hyperfine
# Run it on an otherwise idle machine with a warm page cache: it warns when
# the load average says otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
RECOVER_RUNS=${RECOVER_RUNS:-100}
WRITE_RUNS=${WRITE_RUNS:-20}
RSS_RUNS=${RSS_RUNS:-7}
SIZES=(1 1000 10000 100000)

say() { printf '== %s\n' "$*" >&2; }

if [ "$RECOVER_RUNS" -lt 50 ]; then
  echo "RECOVER_RUNS must be at least 50" >&2
  exit 2
fi

# --- tools -------------------------------------------------------------------
can_install() {
  [ "${BENCH_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}
apt_install() {
  can_install || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
  apt-get update -qq >/dev/null 2>&1 || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
if ! command -v hyperfine >/dev/null; then
  say "installing hyperfine"
  apt_install hyperfine || say "hyperfine unavailable: timing with a Python loop instead"
fi
if [ ! -x /usr/bin/time ]; then
  say "installing time (for peak RSS)"
  apt_install time || say "/usr/bin/time unavailable: peak RSS is not measured"
fi
# HYPERFINE= (empty) forces the Python timing loop.
HYPERFINE=${HYPERFINE-$(command -v hyperfine || true)}

# The Pythons to compare with: interpreters themselves, never a shim script
# in front of one (pyenv's shim alone costs tens of milliseconds).
PATH_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$PATH_PYTHON; fi
fi
PYTHONS=("$PYTHON")
if [ "$(readlink -f "$PATH_PYTHON")" != "$(readlink -f "$PYTHON")" ]; then
  PYTHONS+=("$PATH_PYTHON")
fi

# --- build -------------------------------------------------------------------
# BUILDS: labels; BIN[label]: the binary. The first build writes the stores.
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
declare -A BIN
BUILDS=()
MUSL_TARGET=$(uname -m)-unknown-linux-musl
if [ "${BENCH_NO_MUSL:-0}" != 1 ]; then
  if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET" &&
    [ "${BENCH_NO_INSTALL:-0}" != 1 ]; then
    say "adding the $MUSL_TARGET target"
    rustup target add "$MUSL_TARGET" >/dev/null 2>&1 || true
  fi
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
for b in "${BUILDS[@]}"; do
  [ -x "${BIN[$b]}" ] || { echo "no binary at ${BIN[$b]}" >&2; exit 1; }
done
OTP=${BIN[${BUILDS[0]}]}

# --- load --------------------------------------------------------------------
# The build itself raises the load average: give it up to 90 s to settle.
NPROC=$(nproc)
for _ in $(seq 18); do
  read -r LOAD1 _ < /proc/loadavg
  python3 -c "import sys; sys.exit(0 if float('$LOAD1') < 0.5 * $NPROC else 1)" && break
  say "load average $LOAD1: waiting for the machine to settle"
  sleep 5
done
read -r LOAD1 _ < /proc/loadavg
if python3 -c "import sys; sys.exit(0 if float('$LOAD1') < 0.5 * $NPROC else 1)"; then
  LOAD_NOTE="load average $LOAD1 at the start ($NPROC CPUs)"
else
  LOAD_NOTE="WARNING: load average $LOAD1 at the start ($NPROC CPUs): results are noisy"
  say "$LOAD_NOTE"
fi

# --- data --------------------------------------------------------------------
if [ -n "${WORK:-}" ]; then
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /tmp/otp-link-bench.XXXXXX)
  [ "${KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
fi
chmod 700 "$WORK"

# Shell-quotes one word (for hyperfine's command lines).
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

declare -A USER_KEY PASS_KEY STORE_BYTES GEN_SECONDS
for n in "${SIZES[@]}"; do
  store=$WORK/store-$n.cbor
  rm -f "$store" "$store.lock"
  say "writing a store of $n accounts"
  start=$(date +%s.%N)
  python3 -c '
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"account": "account-%06d" % i, "username": "user%d" % i,
                      "password": "password-%d-%s" % (i, "x" * 12)}))' "$n" |
    "$OTP" --store "$store" secure-account --batch > "$WORK/keys-$n.jsonl"
  end=$(date +%s.%N)
  GEN_SECONDS[$n]=$(python3 -c "print(f'{$end - $start:.1f}')")
  # The last account's keys: a reader scans every entry whichever it wants.
  read -r USER_KEY[$n] PASS_KEY[$n] < <(tail -n 1 "$WORK/keys-$n.jsonl" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["user_key"], d["pass_key"])')
  STORE_BYTES[$n]=$(stat -c %s "$store")
done

say "writing a Secure-Python-Link account file"
mapfile -t LEGACY_KEYS < <("$PYTHON" "$BENCH_DIR/make_legacy_account.py" "$WORK/legacy.pkl" alice 's3cret pw')
printf 'bench-user\nbench-password\n' > "$WORK/credentials.txt"

# recover_name N BUILD, recover_cmd N BUILD
recover_name() { if [ "$1" = 1 ]; then echo "recover, 1 account, $2"; else echo "recover, $1 accounts, $2"; fi; }
recover_cmd() { echo "$(q "${BIN[$2]}") --store $(q "$WORK/store-$1.cbor") recover $(q "${USER_KEY[$1]}") $(q "${PASS_KEY[$1]}")"; }
legacy_cmd() { echo "$(q "$1") $(q "$BENCH_DIR/legacy_recover.py") $(q "$WORK/legacy.pkl") $(q "${LEGACY_KEYS[0]}") $(q "${LEGACY_KEYS[1]}")"; }

# Both recoveries must work (and agree) before they are timed.
[ "$(eval "$(legacy_cmd "$PYTHON")")" = "$(printf 'alice\ns3cret pw')" ] || { echo "legacy recovery failed" >&2; exit 1; }
for b in "${BUILDS[@]}"; do
  for n in "${SIZES[@]}"; do
    [ "$(eval "$(recover_cmd "$n" "$b")" | head -n 1)" = "user$((n - 1))" ] || { echo "recover ($b) failed on $n accounts" >&2; exit 1; }
  done
done

# --- timing ------------------------------------------------------------------
# measure OUT.json RUNS WARMUP SHELL PREPARE NAME CMD [NAME CMD ...]
# SHELL=0: CMD is split into words and run directly; SHELL=1: run by sh.
# Writes hyperfine's JSON (the Python loop writes the same fields).
measure() {
  local out=$1 runs=$2 warmup=$3 shell=$4 prepare=$5
  shift 5
  if [ -n "$HYPERFINE" ]; then
    local args=(--style basic --runs "$runs" --warmup "$warmup" --export-json "$out")
    [ "$shell" = 1 ] || args+=(-N)
    [ -z "$prepare" ] || args+=(--prepare "$prepare")
    while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
    "$HYPERFINE" "${args[@]}" >&2
  else
    python3 - "$out" "$runs" "$warmup" "$shell" "$prepare" "$@" <<'PY'
import json, shlex, statistics, subprocess, sys, time
out, runs, warmup, shell, prepare, *pairs = sys.argv[1:]
runs, warmup, shell = int(runs), int(warmup), shell == "1"
results = []
for name, cmd in zip(pairs[0::2], pairs[1::2]):
    argv = cmd if shell else shlex.split(cmd)
    times = []
    for i in range(warmup + runs):
        if prepare:
            subprocess.run(prepare, shell=True, check=True)
        start = time.perf_counter()
        subprocess.run(argv, shell=shell, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    results.append({"command": name, "times": times, "median": statistics.median(times),
                    "mean": statistics.mean(times), "stddev": statistics.stdev(times),
                    "min": min(times), "max": max(times)})
    print(f"{name}: median {results[-1]['median'] * 1e3:.2f} ms", file=sys.stderr)
with open(out, "w") as f:
    json.dump({"results": results}, f)
PY
  fi
}

say "timing recover and the Python recovery, side by side ($RECOVER_RUNS runs each)"
pairs=()
for b in "${BUILDS[@]}"; do
  for n in "${SIZES[@]}"; do pairs+=("$(recover_name "$n" "$b")" "$(recover_cmd "$n" "$b")"); done
done
pairs+=("/bin/true (does nothing; glibc, dynamic)" "/bin/true")
for py in "${PYTHONS[@]}"; do
  pairs+=("Python recovery ($py, $("$py" -c 'import platform; print(platform.python_version())'))" "$(legacy_cmd "$py")")
done
measure "$WORK/recover.json" "$RECOVER_RUNS" 5 0 "" "${pairs[@]}"

say "timing secure-account into fresh copies of the stores ($WRITE_RUNS runs each)"
for n in 1 100000; do
  copy=$WORK/copy-$n.cbor
  # A fresh copy per run, synced so that the timed run's fsync flushes only
  # its own writes; cp -p keeps mode 0600.
  prepare="rm -f $(q "$copy") $(q "$copy.lock") $(q "$copy.tmp") && cp -p $(q "$WORK/store-$n.cbor") $(q "$copy") && sync"
  pairs=()
  for b in "${BUILDS[@]}"; do
    pairs+=("secure-account into a $n-account store, $b"
      "$(q "${BIN[$b]}") --store $(q "$copy") secure-account bench-new < $(q "$WORK/credentials.txt") > /dev/null 2>&1")
  done
  measure "$WORK/secure-$n.json" "$WRITE_RUNS" 2 1 "$prepare" "${pairs[@]}"
done

RSS_FILE=$WORK/rss.txt
: > "$RSS_FILE"
if [ -x /usr/bin/time ]; then
  say "measuring peak RSS (median of $RSS_RUNS runs)"
  rss_of() { # NAME CMD...
    local name=$1
    shift
    local values=()
    for _ in $(seq "$RSS_RUNS"); do
      values+=("$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1)")
    done
    printf '%s\t%s\n' "$name" "${values[*]}" >> "$RSS_FILE"
  }
  for b in "${BUILDS[@]}"; do
    for n in "${SIZES[@]}"; do
      rss_of "$(recover_name "$n" "$b")" "${BIN[$b]}" --store "$WORK/store-$n.cbor" recover "${USER_KEY[$n]}" "${PASS_KEY[$n]}"
    done
  done
  rss_of "Python recovery ($PYTHON)" "$PYTHON" "$BENCH_DIR/legacy_recover.py" "$WORK/legacy.pkl" "${LEGACY_KEYS[@]}"
fi

# --- report ------------------------------------------------------------------
SIZES_LIST=$(IFS=,; echo "${SIZES[*]}")
STORE_LIST=$(for n in "${SIZES[@]}"; do printf '%s=%s,' "$n" "${STORE_BYTES[$n]}"; done)
GEN_LIST=$(for n in "${SIZES[@]}"; do printf '%s=%s,' "$n" "${GEN_SECONDS[$n]}"; done)
BUILDS_LIST=$(IFS=,; echo "${BUILDS[*]}")
export WORK SIZES_LIST STORE_LIST GEN_LIST RSS_FILE LOAD_NOTE OTP BENCH_DIR RECOVER_RUNS WRITE_RUNS RSS_RUNS BUILDS_LIST MUSL_TARGET
export TOOL=${HYPERFINE:+hyperfine $("$HYPERFINE" --version | cut -d' ' -f2)}
export COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
python3 - <<'PY' | tee "$BENCH_DIR/results.md"
import json, os, platform, statistics, time

env = os.environ
work = env["WORK"]
sizes = [int(s) for s in env["SIZES_LIST"].split(",")]
builds = env["BUILDS_LIST"].split(",")
store_bytes = {int(k): int(v) for k, v in (p.split("=") for p in env["STORE_LIST"].strip(",").split(","))}
gen = {int(k): v for k, v in (p.split("=") for p in env["GEN_LIST"].strip(",").split(","))}
build_names = {"musl": f"static musl build ({env['MUSL_TARGET']})", "glibc": "glibc build (default target, dynamic)"}

def recover_name(n, b):
    return f"recover, {n} account" + ("s" if n != 1 else "") + f", {b}"

def load(name):
    with open(os.path.join(work, name)) as f:
        return {r["command"]: r for r in json.load(f)["results"]}

recover = load("recover.json")
secure = {**load("secure-1.json"), **load("secure-100000.json")}
ms = lambda s: f"{s * 1e3:.2f} ms"
MiB = 1024 * 1024

def size(n):
    b = store_bytes[n]
    return f"{b / MiB:.1f} MiB" if b >= MiB else f"{b / 1024:.1f} KiB" if b >= 1024 else f"{b} B"

def accounts(n):
    return f"{n:,} account" + ("s" if n != 1 else "")

def cpu():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"

def mem():
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    return f"{kib / 1024 / 1024:.1f} GiB"

def met(ok):
    return "yes" if ok else "**no**"

print("# otp-link benchmark results\n")
print(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {env['COMMIT']}")
print(f"- Machine: {os.cpu_count()} CPUs, {cpu()}, {mem()} RAM, Linux {platform.release()}")
print(f"- Timing: {env.get('TOOL') or 'Python timing loop (hyperfine unavailable)'}; "
      f"{env['RECOVER_RUNS']} runs per recover command (5 warm-up), {env['WRITE_RUNS']} per "
      f"secure-account command (2 warm-up); whole processes, warm page cache; {env['LOAD_NOTE']}")
print(f"- Builds: " + "; ".join(f"{b}: {build_names[b]}" for b in builds))
print(f"- Produced by `bench/run.sh`\n")

print("## Time (whole process)\n")
print("| Command | Build | Median | Mean ± σ | Min | Store size | Target | Met |")
print("|---|---|---:|---:|---:|---:|---|---|")
targets = {1: 2e-3, 10000: 5e-3, 100000: 15e-3}
for b in builds:
    for n in sizes:
        r = recover[recover_name(n, b)]
        t = targets.get(n)
        print(f"| `otp-link recover`, {accounts(n)} | {b} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} "
              f"| {ms(r['min'])} | {size(n)} | {'≤ ' + ms(t) if t else '—'} "
              f"| {met(r['median'] <= t) if t else '—'} |")
others = [k for k in recover if k.startswith("Python recovery") or k.startswith("/bin/true")]
for name in others:
    r = recover[name]
    print(f"| {name} | — | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} | — | — | — |")
for n, target in ((1, None), (100000, 150e-3)):
    for b in builds:
        r = secure[f"secure-account into a {n}-account store, {b}"]
        print(f"| `otp-link secure-account` into a {n:,}-account store (fsync) | {b} | {ms(r['median'])} "
              f"| {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} | {size(n)} "
              f"| {'≤ ' + ms(target) if target else '—'} | {met(r['median'] <= target) if target else '—'} |")

print("\n## Python recovery / `otp-link recover` (1 account), ratio of medians\n")
print("For scale, the last column is what `/bin/true` (a dynamically linked glibc program")
print("that does nothing) reaches: the Python recovery's median over `/bin/true`'s.\n")
print("| Python | Build | Ratio | `/bin/true` would reach | Target | Met |")
print("|---|---|---:|---:|---|---|")
floor = recover["/bin/true (does nothing; glibc, dynamic)"]["median"]
pythons = [k for k in recover if k.startswith("Python recovery")]
for name in pythons:
    py = recover[name]["median"]
    for b in builds:
        ratio = py / recover[recover_name(1, b)]["median"]
        print(f"| {name[len('Python recovery '):]} | {b} | {ratio:.1f}× | {py / floor:.1f}× | ≥ 30× | {met(ratio >= 30)} |")

rss_lines = [l.rstrip("\n").split("\t") for l in open(env["RSS_FILE"]) if l.strip()]
if rss_lines:
    print(f"\n## Peak RSS (median of {env['RSS_RUNS']} runs, `/usr/bin/time -f %M`)\n")
    print("| Command | Build | Peak RSS | Store size | Limit | Met |")
    print("|---|---|---:|---:|---|---|")
    for name, values in rss_lines:
        kib = statistics.median(int(v) for v in values.split())
        if name.startswith("recover"):
            n, b = int(name.split()[1]), name.rsplit(", ", 1)[1]
            limit = {1: 8 * MiB, 100000: store_bytes[100000] + 8 * MiB}.get(n)
            print(f"| `otp-link recover`, {accounts(n)} | {b} | {kib / 1024:.1f} MiB | {size(n)} "
                  f"| {f'≤ {limit / MiB:.1f} MiB' if limit else '—'} | {met(kib * 1024 <= limit) if limit else '—'} |")
        else:
            print(f"| {name} | — | {kib / 1024:.1f} MiB | — | — | — |")

print("\n## Growth with the number of accounts\n")
for b in builds:
    base = recover[recover_name(1, b)]["median"]
    for n in sizes[1:]:
        t = recover[recover_name(n, b)]["median"]
        extra = t - base
        print(f"- {b}, {accounts(n)}: {ms(t)}, {extra * 1e3:.2f} ms over 1 account "
              f"({extra / (n - 1) * 1e9:.0f} ns per extra account, "
              f"{extra / (store_bytes[n] - store_bytes[1]) * 1e9 * MiB / 1e6:.2f} ms per extra MiB)")
print(f"\nWriting the stores with `secure-account --batch` ({builds[0]} build) took (seconds): "
      + ", ".join(f"{accounts(n)}: {gen[n]}" for n in sizes) + ".")
PY

if [ "${BENCH_NO_PLOT:-0}" != 1 ]; then
  if ! python3 -c 'import matplotlib' 2>/dev/null && [ "${BENCH_NO_INSTALL:-0}" != 1 ]; then
    say "installing matplotlib for the plot"
    python3 -m pip install --quiet matplotlib >/dev/null 2>&1 || true
  fi
  if python3 -c 'import matplotlib' 2>/dev/null; then
    python3 - "$WORK/recover.json" "$BENCH_DIR/recover-vs-accounts.png" <<'PY'
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import statistics
from matplotlib.ticker import FuncFormatter
results = json.load(open(sys.argv[1]))["results"]
fig, ax = plt.subplots(figsize=(6, 4))
builds = []
for r in results:
    b = r["command"].rsplit(", ", 1)[-1]
    if r["command"].startswith("recover") and b not in builds:
        builds.append(b)
for b in builds:
    points = [(int(r["command"].split()[1]), r) for r in results
              if r["command"].startswith("recover") and r["command"].endswith(", " + b)]
    xs = [n for n, _ in points]
    medians = [r["median"] * 1e3 for _, r in points]
    quartiles = [statistics.quantiles(r["times"], n=4) for _, r in points]
    ax.errorbar(xs, medians,
                yerr=[[m - q[0] * 1e3 for m, q in zip(medians, quartiles)],
                      [q[2] * 1e3 - m for m, q in zip(medians, quartiles)]],
                marker="o", capsize=3, label=f"otp-link recover, {b} build (median, quartiles)")
for r in results:
    if r["command"].startswith("Python") or r["command"].startswith("/bin/true"):
        ax.axhline(r["median"] * 1e3, linestyle="--", color="gray")
        ax.annotate(r["command"], (xs[0], r["median"] * 1e3), fontsize=7,
                    xytext=(0, 3), textcoords="offset points")
ax.set_xscale("log")
ax.set_yscale("log")
plain = FuncFormatter(lambda v, _: f"{v:g}")
ax.yaxis.set_major_formatter(plain)
ax.yaxis.set_minor_formatter(plain)
ax.tick_params(axis="y", which="minor", labelsize=7)
ax.set_xlabel("accounts in the store")
ax.set_ylabel("whole-process time (ms)")
ax.set_title("otp-link recover vs store size")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8, loc="center right")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=120)
PY
    say "plot: $BENCH_DIR/recover-vs-accounts.png"
  else
    say "matplotlib unavailable: no plot"
  fi
fi
say "report: $BENCH_DIR/results.md"
