#!/usr/bin/env bash
# The Python child's benchmarks (bench/README.md, "Python children"), side by
# side in one run, medians:
#   - a whole child, `python child.py USER_KEY PASS_KEY` (start, import
#     otp_link, recover from a 1-account store, print), against the same
#     interpreter running Secure-Python-Link's recovery
#     (bench/legacy_recover.py) on its pickle, `python -c pass` and
#     `python -c 'import otp_link'` (hyperfine -N);
#   - in-process `otp_link.recover` on the 1-account store (timeit, many
#     calls per sample).
# Builds the release otp-link binary (to secure the account) and installs
# the package with `pip install ./otp-py` into a virtual environment in the
# scratch directory. Writes bench/python-results.md. Needs hyperfine (apt-get
# installs it when missing and this runs as root).
# Environment:
#   PYTHON        the base interpreter (default: the distribution's
#                 /usr/bin/python3, else the interpreter `python3` runs)
#   PROCESS_RUNS  timed runs per whole-process command (default 200)
#   CALLS         otp_link.recover calls per timeit sample (default 20000)
#   WORK          scratch directory (default: a new one under /tmp, removed
#                 at the end unless KEEP_WORK=1)
#   BENCH_NO_INSTALL=1  never apt-get anything
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
PROCESS_RUNS=${PROCESS_RUNS:-200}
CALLS=${CALLS:-20000}
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/python.sh: %s\n' "$*" >&2; exit 1; }

if ! command -v hyperfine >/dev/null && [ "${BENCH_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
  say "installing hyperfine with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; } >/dev/null 2>&1 || true
fi
command -v hyperfine >/dev/null || die "needs hyperfine: apt-get install hyperfine"

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

calm() { awk -v cpus="$(nproc)" '{ exit !($1 < 0.5 * cpus) }' /proc/loadavg; }
for _ in $(seq 18); do
  calm && break
  say "load average $(cut -d' ' -f1 /proc/loadavg): waiting for the machine to settle"
  sleep 5
done
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

say "timing whole processes side by side ($PROCESS_RUNS runs each)"
hyperfine --style basic -N --runs "$PROCESS_RUNS" --warmup 10 --export-json "$WORK/processes.json" \
  -n "python -c pass" "$VPY -c pass" \
  -n "python -c 'import otp_link'" "$VPY -c 'import otp_link'" \
  -n "python child.py USER_KEY PASS_KEY (otp_link)" "$VPY $WORK/child.py $USER_KEY $PASS_KEY" \
  -n "python legacy_recover.py FILE KEYS (Secure-Python-Link)" \
  "$VPY $BENCH_DIR/legacy_recover.py $WORK/legacy.pkl ${LEGACY_KEYS[0]@Q} ${LEGACY_KEYS[1]@Q}" >&2

say "timing otp_link.recover in-process ($CALLS calls a sample, 15 samples)"
"$VPY" - "$USER_KEY" "$PASS_KEY" "$CALLS" > "$WORK/inprocess.json" <<'EOF'
import json, statistics, sys, timeit

import otp_link

user_key, pass_key, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert otp_link.recover(user_key, pass_key).password == "s3cret pw"
samples = timeit.repeat(lambda: otp_link.recover(user_key, pass_key), number=calls, repeat=15)
verify = timeit.repeat(lambda: otp_link.verify(user_key, pass_key), number=calls, repeat=15)
per_call = lambda s: [t / calls for t in s]
print(json.dumps({"recover": per_call(samples), "verify": per_call(verify)}))
EOF

export WORK LOAD1 PROCESS_RUNS CALLS
"$VPY" - "$BENCH_DIR/python-results.md" <<'EOF'
import json, os, platform, statistics, subprocess, sys, time

work, out = os.environ["WORK"], sys.argv[1]
procs = {r["command"]: r for r in json.load(open(os.path.join(work, "processes.json")))["results"]}
inproc = json.load(open(os.path.join(work, "inprocess.json")))
med = lambda name: procs[name]["median"]
ms = lambda s: f"{s * 1e3:.2f} ms"
us = lambda s: f"{s * 1e6:.1f} µs"
yes = lambda ok: "yes" if ok else "**no**"
passed, imported = med("python -c pass"), med("python -c 'import otp_link'")
child = med("python child.py USER_KEY PASS_KEY (otp_link)")
legacy = med("python legacy_recover.py FILE KEYS (Secure-Python-Link)")
recover = statistics.median(inproc["recover"])
verify = statistics.median(inproc["verify"])
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=os.path.dirname(out))
commit = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
if git("diff", "--quiet", "HEAD", "--").returncode:
    commit += " (with uncommitted changes)"
lines = [
    "# otp-link Python benchmark results\n",
    f"`bench/python.sh`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, "
    f"load average {os.environ['LOAD1']} at the start; Python {platform.python_version()} "
    f"({sys.base_prefix}), in a virtual environment with `pip install ./otp-py`.\n",
    f"Whole processes: hyperfine -N, {os.environ['PROCESS_RUNS']} runs each after 10 warm-ups, side by side.\n",
    "| Command | median | mean ± σ | min |",
    "|---|---:|---:|---:|",
]
for name, r in procs.items():
    lines.append(f"| `{name}` | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} |")
lines += [
    "",
    f"In-process, 1-account store: timeit, {os.environ['CALLS']} calls a sample, median of 15 samples: "
    f"`otp_link.recover` {us(recover)} a call, `otp_link.verify` {us(verify)}.\n",
    "| Target | Measured | Met |",
    "|---|---:|---|",
    f"| whole child no slower than Secure-Python-Link's recovery | {ms(child)} vs {ms(legacy)} "
    f"({legacy / child:.2f}× faster) | {yes(child <= legacy)} |",
    f"| `otp_link.recover` in-process ≤ 50 µs | {us(recover)} | {yes(recover <= 50e-6)} |",
    f"| `import otp_link` ≤ 2 ms over `python -c pass` | {ms(imported - passed)} | {yes(imported - passed <= 2e-3)} |",
    "",
]
text = "\n".join(lines)
open(out, "w").write(text)
print(text)
EOF
