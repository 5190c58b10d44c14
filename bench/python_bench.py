#!/usr/bin/env python3
"""bench/python.sh's timing and report: python_bench.py OUT WORK USER_KEY PASS_KEY LEGACY_USER_KEY LEGACY_PASS_KEY.

Run by the virtual environment's interpreter (the one measured), with
OTP_LINK_STORE naming the 1-account store in WORK and WORK holding child.py
and legacy.pkl. Times, side by side:

- whole processes, interleaved: ROUNDS rounds (after 10 warm-up rounds), one
  run of each of `python -c pass`, `python -c 'import otp_link'`,
  `python child.py KEYS` and `python legacy_recover.py FILE KEYS` per round
  in a shuffled order, so that all four see the same load on a shared
  machine (hyperfine would run all of one command's runs, then the next's).
  Wall time from spawn to exit, and CPU time (user + system) from wait4;
- `otp_link.recover` and `otp_link.verify` in this process, timeit, CALLS
  calls a sample, 15 samples.

Writes OUT (bench/python-results.md) and prints it.
"""

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import timeit

import otp_link

out, work, user_key, pass_key, legacy_user, legacy_pass = sys.argv[1:7]
rounds, calls = int(os.environ.get("ROUNDS", "300")), int(os.environ.get("CALLS", "20000"))
bench_dir = os.path.dirname(os.path.abspath(__file__))
python = sys.executable

commands = {
    "python -c pass": [python, "-c", "pass"],
    "python -c 'import otp_link'": [python, "-c", "import otp_link"],
    "python child.py USER_KEY PASS_KEY (otp_link)": [python, os.path.join(work, "child.py"), user_key, pass_key],
    "python legacy_recover.py FILE USER_KEY PASS_KEY (Secure-Python-Link)": [
        python, os.path.join(bench_dir, "legacy_recover.py"), os.path.join(work, "legacy.pkl"), legacy_user, legacy_pass,
    ],
}
devnull = os.open(os.devnull, os.O_WRONLY)


def once(argv):
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, argv
    return wall, usage.ru_utime + usage.ru_stime


names = list(commands)
runs = {name: [] for name in names}
for r in range(10 + rounds):
    order = names[:]
    random.shuffle(order)
    for name in order:
        measured = once(commands[name])
        if r >= 10:
            runs[name].append(measured)

assert otp_link.IMPLEMENTATION == "native"
assert otp_link.recover(user_key, pass_key).password == "s3cret pw"
sample = lambda f: [t / calls for t in timeit.repeat(f, number=calls, repeat=15)]
recover = statistics.median(sample(lambda: otp_link.recover(user_key, pass_key)))
verify = statistics.median(sample(lambda: otp_link.verify(user_key, pass_key)))

med = statistics.median
wall = lambda name: [w for w, _ in runs[name]]
cpu = lambda name: [c for _, c in runs[name]]
# Paired: the median over rounds of (a's run - b's run) in the same round.
paired = lambda a, b: med([x - y for x, y in zip(wall(a), wall(b))])
ms = lambda s: f"{s * 1e3:.2f} ms"
us = lambda s: f"{s * 1e6:.1f} µs"
yes = lambda ok: "yes" if ok else "**no**"
passed, imported, child, legacy = names
import_cost, child_gain = paired(imported, passed), paired(legacy, child)

git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=bench_dir)
commit = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
if git("diff", "--quiet", "HEAD", "--").returncode:
    commit += " (with uncommitted changes)"
cpus = len(os.sched_getaffinity(0))
load = os.environ.get("LOAD1", "?")
load_note = f"load average {load} at the start ({cpus} CPUs)"
if load != "?" and float(load) >= 0.5 * cpus:
    load_note = f"WARNING: {load_note}: results are noisy"
lines = [
    "# otp-link Python benchmark results\n",
    f"`bench/python.sh`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}; {load_note}. "
    f"Python {platform.python_version()} ({sys.base_prefix}) in a virtual environment, otp_link installed "
    "by `pip install ./otp-py` (release build).\n",
    f"Whole processes: {rounds} interleaved rounds after 10 warm-up rounds, one run of each command per round "
    "in a shuffled order; wall time from spawn to exit, CPU time (user + system) from wait4.\n",
    "| Command | median wall | quartiles | median CPU |",
    "|---|---:|---:|---:|",
]
for name in names:
    q = statistics.quantiles(wall(name), n=4)
    lines.append(f"| `{name}` | {ms(med(wall(name)))} | {ms(q[0])} – {ms(q[2])} | {ms(med(cpu(name)))} |")
lines += [
    "",
    f"In-process, 1-account store (`OTP_LINK_STORE`): timeit, {calls} calls a sample, median of 15 samples: "
    f"`otp_link.recover` {us(recover)} a call, `otp_link.verify` {us(verify)}.\n",
    "| Target | Measured | Met |",
    "|---|---|---|",
    f"| whole child no slower than Secure-Python-Link's recovery | {ms(med(wall(child)))} against "
    f"{ms(med(wall(legacy)))}; {ms(child_gain)} faster in the median round "
    f"({med(wall(legacy)) / med(wall(child)):.2f}×) | {yes(child_gain >= 0)} |",
    f"| `otp_link.recover` in-process ≤ 50 µs | {us(recover)} | {yes(recover <= 50e-6)} |",
    f"| `import otp_link` ≤ 2 ms over `python -c pass` | {ms(import_cost)} in the median round "
    f"(CPU: {ms(med(cpu(imported)) - med(cpu(passed)))}) | {yes(import_cost <= 2e-3)} |",
    "",
]
text = "\n".join(lines)
with open(out, "w") as f:
    f.write(text)
print(text)
