#!/usr/bin/env bash
# Which build of otp-link starts fast: `otp-link recover` on a one-account
# store, built each way the README could tell a newcomer to build it, timed
# against /bin/true side by side. bench/README.md ("Which binary a newcomer
# builds") has the results and the reasons.
#
# The machine is shared and its load moves, so the commands are not timed
# one after the other: ROUNDS rounds of hyperfine (RUNS runs each, 5
# warm-up runs), the order of the commands rotated every round, and the
# median of all runs of each command is compared with /bin/true's.
#
# Builds (each with the workspace's release profile unless said):
#   readme   the README's build command: static musl
#            (cargo build --release -p otp-cli --target $(uname -m)-unknown-linux-musl)
#   default  cargo build --release -p otp-cli (glibc, dynamic)
#   static   glibc, static-pie: RUSTFLAGS='-C target-feature=+crt-static'
#            with --target $(uname -m)-unknown-linux-gnu
#   profile  glibc, dynamic, with a start-up-minded profile: lto = "fat",
#            codegen-units = 1, panic = "abort", strip = true
# Environment: ROUNDS (default 10), RUNS (default 50), WORK (scratch
# directory, default a new one under /tmp), BUILDS (default
# "readme default static profile").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-10} RUNS=${RUNS:-50}
BUILDS=(${BUILDS:-readme default static profile})
say() { printf '== %s\n' "$*" >&2; }
command -v hyperfine >/dev/null || { echo "bench/startup.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
ARCH=$(uname -m)
declare -A BIN
for b in "${BUILDS[@]}"; do
  say "building: $b"
  case $b in
    readme)
      (cd "$ROOT" && cargo build --release -p otp-cli --target "$ARCH-unknown-linux-musl" --quiet)
      BIN[$b]=$TARGET_DIR/$ARCH-unknown-linux-musl/release/otp-link ;;
    default)
      (cd "$ROOT" && cargo build --release -p otp-cli --quiet)
      BIN[$b]=$TARGET_DIR/release/otp-link ;;
    static)
      (cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' \
        cargo build --release -p otp-cli --target "$ARCH-unknown-linux-gnu" --quiet)
      BIN[$b]=$TARGET_DIR/$ARCH-unknown-linux-gnu/release/otp-link ;;
    profile)
      (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR/startup-profile cargo build --release -p otp-cli --quiet \
        --config 'profile.release.lto="fat"' --config 'profile.release.codegen-units=1' \
        --config 'profile.release.panic="abort"' --config 'profile.release.strip=true')
      BIN[$b]=$TARGET_DIR/startup-profile/release/otp-link ;;
    *) echo "bench/startup.sh: unknown build $b" >&2; exit 2 ;;
  esac
done

if [ -n "${WORK:-}" ]; then mkdir -p "$WORK"; else WORK=$(mktemp -d /tmp/otp-link-startup.XXXXXX); trap 'rm -rf "$WORK"' EXIT; fi
# Every binary copied next to the store, so that each is read from the
# same file system.
for b in "${BUILDS[@]}"; do cp "${BIN[$b]}" "$WORK/otp-link-$b"; done
store=$WORK/store.cbor
rm -f "$store" "$store.lock"
read -r -d '' user_key pass_key < <(printf 'bench-user\nbench-password\n' |
  "$WORK/otp-link-${BUILDS[0]}" --store "$store" secure-account bench 2>/dev/null) || true
for b in "${BUILDS[@]}"; do
  [ "$("$WORK/otp-link-$b" --store "$store" recover "$user_key" "$pass_key")" = "$(printf 'bench-user\nbench-password')" ] ||
    { echo "bench/startup.sh: the $b build printed the wrong values" >&2; exit 1; }
done

names=(/bin/true "${BUILDS[@]}")
say "timing ${names[*]}: $ROUNDS rounds of $RUNS runs each, order rotated (load $(cut -d' ' -f1-3 /proc/loadavg))"
for round in $(seq 0 $((ROUNDS - 1))); do
  args=()
  for i in $(seq 0 $((${#names[@]} - 1))); do
    name=${names[$(((i + round) % ${#names[@]}))]}
    if [ "$name" = /bin/true ]; then
      args+=(-n /bin/true /bin/true)
    else
      args+=(-n "$name" "$WORK/otp-link-$name --store $store recover $user_key $pass_key")
    fi
  done
  hyperfine -N --style none --runs "$RUNS" --warmup 5 --export-json "$WORK/round-$round.json" "${args[@]}" >/dev/null 2>&1
done
say "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK" "$ROUNDS" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times, per_round = {}, {}
for r in range(rounds):
    for result in json.load(open(f"{work}/round-{r}.json"))["results"]:
        times.setdefault(result["command"], []).extend(result["times"])
        per_round.setdefault(result["command"], []).append(statistics.median(result["times"]))
base = statistics.median(times["/bin/true"])
print("| Build | Median | vs /bin/true | Round medians (min–max) |")
print("|---|---:|---:|---:|")
for name, ts in times.items():
    m = statistics.median(ts)
    lo, hi = min(per_round[name]), max(per_round[name])
    print(f"| {name} | {m * 1000:.3f} ms | {m / base:.2f}× | {lo * 1000:.2f}–{hi * 1000:.2f} ms |")
EOF
