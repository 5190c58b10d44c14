# Sourced by the benchmarks that time one release build of otp-link against
# itself (audit.sh, launch.sh): builds the static musl binary, the README's
# build, where the musl target is installed, else the glibc one, and sets
# OTP (its path) and BUILD (musl or glibc). BENCH_NO_MUSL=1 picks glibc.
# Needs ROOT (the repository) and the scripts' `say`.
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
MUSL_TARGET=$(uname -m)-unknown-linux-musl
if [ "${BENCH_NO_MUSL:-0}" != 1 ] && rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
  say "building the static musl release binary"
  (cd "$ROOT" && cargo build --release -p otp-cli --target "$MUSL_TARGET" --quiet)
  OTP=$TARGET_DIR/$MUSL_TARGET/release/otp-link BUILD=musl
else
  say "building the glibc release binary"
  (cd "$ROOT" && cargo build --release -p otp-cli --quiet)
  OTP=$TARGET_DIR/release/otp-link BUILD=glibc
fi
