#!/usr/bin/env python3
"""bench/run.sh's report: python3 report.py WORK OUT_DIR.

Reads what run.sh left in WORK (hyperfine's --export-json files recover.json
and secure-N.json; rss.tsv, "NAME<TAB>KiB" per run of /usr/bin/time -f %M;
batch-times.txt, "N START END" per store; the stores) and run.sh's BUILDS,
LOAD1, MUSL_TARGET and *_RUNS; prints OUT_DIR/results.md as it writes it,
then plots OUT_DIR/recover-vs-accounts.png (matplotlib; BENCH_NO_PLOT=1 skips).
"""
import json, os, platform, statistics, subprocess, sys, time

work, out_dir = sys.argv[1:3]
env, MiB, out = os.environ, 1024 * 1024, []
builds = env["BUILDS"].split()
p = out.append


def load(*names):
    return {r["command"]: r for name in names for r in json.load(open(os.path.join(work, name)))["results"]}


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, cwd=out_dir)


recover, secure = load("recover.json"), load("secure-1.json", "secure-100000.json")
gen = {int(n): float(end) - float(start) for n, start, end in map(str.split, open(os.path.join(work, "batch-times.txt")))}
sizes = list(gen)
store_bytes = {n: os.path.getsize(os.path.join(work, f"store-{n}.cbor")) for n in sizes}
rss = {}
for line in open(os.path.join(work, "rss.tsv")):
    name, kib = line.rstrip("\n").rsplit("\t", 1)
    rss.setdefault(name, []).append(int(kib))

plural = lambda n: "" if n == 1 else "s"
accounts = lambda n: f"{n:,} account{plural(n)}"
recover_name = lambda n, b: f"recover, {n} account{plural(n)}, {b}"
ms = lambda s: f"{s * 1e3:.2f} ms"
met = lambda ok: "yes" if ok else "**no**"
stats = lambda r: f"{ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])}"
target = lambda t, ok, fmt=ms: f"≤ {fmt(t)} | {met(ok)}" if t else "— | —"


def size(n):
    b = store_bytes[n]
    return f"{b / MiB:.1f} MiB" if b >= MiB else f"{b / 1024:.1f} KiB" if b >= 1024 else f"{b} B"


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem = int(open("/proc/meminfo").readline().split()[1]) / MiB
commit = run("git", "rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
if run("git", "diff", "--quiet", "HEAD", "--").returncode:
    commit += " (with uncommitted changes)"
cpus = len(os.sched_getaffinity(0))
load_note = f"load average {env['LOAD1']} at the start ({cpus} CPUs)"
if float(env["LOAD1"]) >= 0.5 * cpus:
    load_note = f"WARNING: {load_note}: results are noisy"
build_names = {"musl": f"static musl build ({env['MUSL_TARGET']})", "glibc": "glibc build (default target, dynamic)"}

p("# otp-link benchmark results\n")
p(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {commit}")
p(f"- Machine: {os.cpu_count()} CPUs, {cpu}, {mem:.1f} GiB RAM, Linux {platform.release()}")
p(f"- Timing: hyperfine {run('hyperfine', '--version').stdout.split()[1]}; {env['RECOVER_RUNS']} runs per recover "
  f"command (5 warm-up), {env['WRITE_RUNS']} per secure-account command (2 warm-up); whole processes, warm page "
  f"cache; {load_note}")
p("- Builds: " + "; ".join(f"{b}: {build_names[b]}" for b in builds))
p("- Produced by `bench/run.sh`\n")

p("## Time (whole process)\n")
p("| Command | Build | Median | Mean ± σ | Min | Store size | Target | Met |\n|---|---|---:|---:|---:|---:|---|---|")
for b in builds:
    for n in sizes:
        r, t = recover[recover_name(n, b)], {1: 2e-3, 10000: 5e-3, 100000: 15e-3}.get(n)
        p(f"| `otp-link recover`, {accounts(n)} | {b} | {stats(r)} | {size(n)} | {target(t, t and r['median'] <= t)} |")
for name, r in recover.items():
    if not name.startswith("recover"):
        p(f"| {name} | — | {stats(r)} | — | — | — |")
for n, t in ((1, None), (100000, 150e-3)):
    for b in builds:
        r = secure[f"secure-account into a {n}-account store, {b}"]
        p(f"| `otp-link secure-account` into a {n:,}-account store (fsync) | {b} | {stats(r)} | {size(n)} "
          f"| {target(t, t and r['median'] <= t)} |")

p("\n## Python recovery / `otp-link recover` (1 account), ratio of medians\n")
p("For scale, the last column is what `/bin/true` (a dynamically linked glibc program")
p("that does nothing) reaches: the Python recovery's median over `/bin/true`'s.\n")
p("| Python | Build | Ratio | `/bin/true` would reach | Target | Met |\n|---|---|---:|---:|---|---|")
floor = recover["/bin/true (does nothing; glibc, dynamic)"]["median"]
for name, r in recover.items():
    for b in builds if name.startswith("Python recovery") else ():
        ratio = r["median"] / recover[recover_name(1, b)]["median"]
        p(f"| {name[len('Python recovery '):]} | {b} | {ratio:.1f}× | {r['median'] / floor:.1f}× | ≥ 30× | {met(ratio >= 30)} |")

p(f"\n## Peak RSS (median of {env['RSS_RUNS']} runs, `/usr/bin/time -f %M`)\n")
p("| Command | Build | Peak RSS | Store size | Limit | Met |\n|---|---|---:|---:|---|---|")
for name, values in rss.items():
    kib = statistics.median(values)
    if name.startswith("recover"):
        n, b = int(name.split()[1]), name.rsplit(", ", 1)[1]
        limit = {1: 8 * MiB, 100000: store_bytes[100000] + 8 * MiB}.get(n)
        p(f"| `otp-link recover`, {accounts(n)} | {b} | {kib / 1024:.1f} MiB | {size(n)} "
          f"| {target(limit, limit and kib * 1024 <= limit, lambda v: f'{v / MiB:.1f} MiB')} |")
    else:
        p(f"| {name} | — | {kib / 1024:.1f} MiB | — | — | — |")

p("\n## Growth with the number of accounts\n")
for b in builds:
    base = recover[recover_name(1, b)]["median"]
    for n in sizes[1:]:
        t = recover[recover_name(n, b)]["median"]
        p(f"- {b}, {accounts(n)}: {ms(t)}, {(t - base) * 1e3:.2f} ms over 1 account ({(t - base) / (n - 1) * 1e9:.0f} "
          f"ns per extra account, {(t - base) / (store_bytes[n] - store_bytes[1]) * 1e3 * MiB:.2f} ms per extra MiB)")
p(f"\nWriting the stores with `secure-account --batch` ({builds[0]} build) took (seconds): "
  + ", ".join(f"{accounts(n)}: {gen[n]:.1f}" for n in sizes) + ".")

report = "\n".join(out) + "\n"
print(report, end="")
open(os.path.join(out_dir, "results.md"), "w").write(report)
print(f"== report: {out_dir}/results.md", file=sys.stderr)

if env.get("BENCH_NO_PLOT", "0") == "1":
    sys.exit()
try:
    import matplotlib
except ImportError:
    print("== matplotlib unavailable: no plot", file=sys.stderr)
    sys.exit()
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

fig, ax = plt.subplots(figsize=(6, 4))
for b in builds:
    points = [recover[recover_name(n, b)] for n in sizes]
    medians = [r["median"] * 1e3 for r in points]
    quartiles = [[q * 1e3 for q in statistics.quantiles(r["times"], n=4)] for r in points]
    ax.errorbar(sizes, medians, yerr=[[m - q[0] for m, q in zip(medians, quartiles)],
                                      [q[2] - m for m, q in zip(medians, quartiles)]],
                marker="o", capsize=3, label=f"otp-link recover, {b} build (median, quartiles)")
for name, r in recover.items():
    if not name.startswith("recover"):
        ax.axhline(r["median"] * 1e3, linestyle="--", color="gray")
        ax.annotate(name, (sizes[0], r["median"] * 1e3), fontsize=7, xytext=(0, 3), textcoords="offset points")
ax.set_xscale("log")
ax.set_yscale("log")
ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
ax.tick_params(axis="y", which="minor", labelsize=7)
ax.set(xlabel="accounts in the store", ylabel="whole-process time (ms)", title="otp-link recover vs store size")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8, loc="center right")
fig.tight_layout()
fig.savefig(os.path.join(out_dir, "recover-vs-accounts.png"), dpi=120)
print(f"== plot: {out_dir}/recover-vs-accounts.png", file=sys.stderr)
