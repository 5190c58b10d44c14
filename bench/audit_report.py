#!/usr/bin/env python3
"""bench/audit.sh's report: medians of recover with and without the audit
trail, their ratio, and each round's ratio, from hyperfine's JSON exports.

Usage: audit_report.py WORK_DIR OUTPUT.md   (standard library only)
"""
import glob
import json
import os
import statistics
import sys
from datetime import datetime, timezone


def main():
    work, output = sys.argv[1], sys.argv[2]
    times = {}  # command name -> every run's time, in seconds
    rounds = {}  # store size -> [(round, plain median, audited median)]
    for path in sorted(glob.glob(os.path.join(work, "round-*.json"))):
        round_no, size = os.path.basename(path)[len("round-"):-len(".json")].split("-")
        medians = {}
        for result in json.load(open(path))["results"]:
            name = result["command"]
            times.setdefault(name, []).extend(result["times"])
            medians[name.split(",")[0]] = statistics.median(result["times"])
        rounds.setdefault(size, []).append((int(round_no), medians["plain"], medians["audited"]))

    lines = [
        "# The audit trail's cost (bench/audit.sh)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on commit {os.environ.get('COMMIT', '?')}, "
        f"{os.environ.get('BUILD', '?')} release build, load average {os.environ.get('LOAD1', '?')} at the start "
        f"and {os.environ.get('LOAD_END', '?')} at the end ({os.cpu_count()} CPUs). "
        f"`otp-link recover` of a store's last account, with and without `--audit LOG`, "
        f"interleaved: {len(next(iter(rounds.values())))} rounds, each timing both commands "
        "(hyperfine -N, warm page cache), the order alternating.",
        "",
        "| store | plain, median | audited, median | ratio | runs each | ratio of the round medians: min / median / max |",
        "|---|---|---|---|---|---|",
    ]
    verdict = []
    for size in sorted(rounds, key=int):
        plain = times[f"plain, {size}"]
        audited = times[f"audited, {size}"]
        p, a = statistics.median(plain), statistics.median(audited)
        ratios = sorted(r[2] / r[1] for r in rounds[size])
        lines.append(
            f"| {int(size):,} account{'s' if size != '1' else ''} | {p * 1e3:.3f} ms | {a * 1e3:.3f} ms | "
            f"{a / p:.2f}× | {len(plain)} | {ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f} |"
        )
        verdict.append(f"{int(size):,} account{'s' if size != '1' else ''}: {a / p:.2f}× ({'within' if a / p <= 1.5 else 'NOT within'} 1.5×)")
    lines += ["", "Target: audited within 1.5× of plain. " + "; ".join(verdict) + ".", ""]
    open(output, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
