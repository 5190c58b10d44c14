#!/usr/bin/env python3
"""What launch keys cost, whole processes: `otp-link issue` and a `recover`
that spends a launch key, beside a plain `recover` of the same account, on
stores of 1 and 100,000 accounts (bench/README.md, "Launch keys").

Targets (issue 14): issue within 3x, a spending recover within 2x of a plain
recover, medians. Each round times the three commands once each, in an
order that rotates from round to round, so that a burst of load on a shared
machine falls on all three alike; what a command needs (fresh launch keys
for the spending recover, a spent record for issue to clean up) is made
before its timed run, untimed. A run is timed from posix_spawn to waitpid,
stdout a pipe as a host reads it (issue refuses /dev/null, and fsyncs a
file), so each time includes starting the process, as hyperfine -N's do;
/bin/true under the same harness shows what that costs.

Usage: launch.py OTP_LINK_BINARY WORK_DIR OUTPUT.md   (standard library only)
Environment: ROUNDS (default 300), SIZES (default "1 100000"), BUILD, COMMIT.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone


def spawn_timed(argv):
    """Runs argv with stdout and stderr on pipes; returns (seconds, status,
    stdout)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
        (os.POSIX_SPAWN_CLOSE, out_r),
        (os.POSIX_SPAWN_CLOSE, err_r),
    ]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    os.close(out_w)
    os.close(err_w)
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    err = os.read(err_r, 65536)
    os.close(err_r)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[3:4]} failed: {err.decode(errors='replace')}")
    return elapsed, b"".join(chunks)


def run(argv, stdin=None):
    return subprocess.run(argv, input=stdin, capture_output=True, check=True).stdout


def main():
    otp, work, output = sys.argv[1:4]
    rounds = int(os.environ.get("ROUNDS", "300"))
    sizes = [int(s) for s in os.environ.get("SIZES", "1 100000").split()]
    load_start = open("/proc/loadavg").read().split()[0]
    times = {}  # (size, command) -> [seconds], one per round
    stores = {}
    for n in sizes:
        store = os.path.join(work, f"store-{n}.cbor")
        for stale in (store, store + ".lock"):
            if os.path.exists(stale):
                os.remove(stale)
        shutil.rmtree(store + ".launch", ignore_errors=True)
        batch = "".join(
            json.dumps({"account": f"account-{i:06d}", "username": f"user{i}", "password": f"password-{i}"}) + "\n"
            for i in range(n)
        ).encode()
        last = json.loads(run([otp, "--store", store, "secure-account", "--batch"], batch).splitlines()[-1])
        keys = [last["user_key"], last["pass_key"]]
        want = f"user{n - 1}\npassword-{n - 1}\n".encode()
        stores[n] = (store, keys, want)

    def issue_pair(store, keys):
        lines = run([otp, "--store", store, "issue", *keys]).decode().split()
        assert lines[0].startswith("otpl1-u-") and lines[1].startswith("otpl1-p-"), lines
        return lines

    def prepare(command, store, keys):
        """What the timed run of `command` needs, made untimed."""
        if command == "issue":
            # A host's steady state: the last child has spent its pair, which
            # this issue removes; no other record is outstanding.
            launch = store + ".launch"
            for entry in os.listdir(launch) if os.path.isdir(launch) else []:
                os.remove(os.path.join(launch, entry))
            run([otp, "--store", store, "recover", *issue_pair(store, keys)])
            return [otp, "--store", store, "issue", *keys]
        if command == "spending recover":
            return [otp, "--store", store, "recover", *issue_pair(store, keys)]
        if command == "recover":
            return [otp, "--store", store, "recover", *keys]
        return ["/bin/true"]

    commands = ["recover", "issue", "spending recover", "/bin/true"]
    for r in range(rounds):
        for n in sizes:
            store, keys, want = stores[n]
            order = commands[r % len(commands):] + commands[: r % len(commands)]
            for command in order:
                if command == "/bin/true" and n != sizes[0]:
                    continue
                argv = prepare(command, store, keys)
                seconds, out = spawn_timed(argv)
                if command in ("recover", "spending recover"):
                    assert out == want, (command, out)
                elif command == "issue":
                    assert out.startswith(b"otpl1-u-"), out
                times.setdefault((n, command), []).append(seconds)
        if r % 25 == 24:
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    load_end = open("/proc/loadavg").read().split()[0]

    median = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        "# What launch keys cost (bench/launch.sh)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on commit {os.environ.get('COMMIT', '?')}, "
        f"{os.environ.get('BUILD', '?')} release build, load average {load_start} at the start and {load_end} "
        f"at the end ({os.cpu_count()} CPUs, shared). {rounds} rounds; each times `otp-link recover` with the "
        "account's keys, `otp-link issue` with them, and `otp-link recover` spending a fresh launch pair, once "
        "each, the order rotating; whole processes from posix_spawn to waitpid, stdout a pipe, warm page cache. "
        "The launch directory holds, before each timed `issue`, one spent record (which it removes), and before "
        "each spending `recover` only the fresh record it spends.",
        "",
        "| store | recover, median | issue, median | issue / recover | spending recover, median | spending / recover | runs each |",
        "|---|---|---|---|---|---|---|",
    ]
    def paired(n, command):
        """The ratio to the plain recover of the same round, per round:
        its median, and the 10th and 90th percentiles."""
        ratios = sorted(a / b for a, b in zip(times[(n, command)], times[(n, "recover")]))
        pick = lambda q: ratios[min(len(ratios) - 1, int(q * len(ratios)))]
        return f"{statistics.median(ratios):.2f}× (10–90 %: {pick(0.1):.2f}–{pick(0.9):.2f})"

    verdict = []
    for n in sizes:
        plain, issue, spend = (median[(n, c)] for c in ("recover", "issue", "spending recover"))
        lines.append(
            f"| {n:,} account{'s' if n != 1 else ''} | {plain * 1e3:.3f} ms | {issue * 1e3:.3f} ms | "
            f"{issue / plain:.2f}× | {spend * 1e3:.3f} ms | {spend / plain:.2f}× | {len(times[(n, 'recover')])} |"
        )
        verdict.append(
            f"{n:,} account{'s' if n != 1 else ''}: issue {issue / plain:.2f}× "
            f"({'within' if issue / plain <= 3 else 'NOT within'} 3×), spending recover {spend / plain:.2f}× "
            f"({'within' if spend / plain <= 2 else 'NOT within'} 2×)"
        )
    lines += ["", "The same ratios taken round by round (each command against the plain recover of its own round):", ""]
    for n in sizes:
        lines.append(
            f"- {n:,} account{'s' if n != 1 else ''}: issue {paired(n, 'issue')}, "
            f"spending recover {paired(n, 'spending recover')}"
        )
    lines += [
        "",
        f"`/bin/true` under the same harness: {median[(sizes[0], '/bin/true')] * 1e3:.3f} ms (median), "
        "the cost of starting any process here, included in every time above.",
        "",
        "Targets: issue within 3×, a spending recover within 2× of a plain recover. " + "; ".join(verdict) + ".",
        "",
    ]
    open(output, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
