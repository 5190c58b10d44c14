#!/usr/bin/env bash
# otp_link_recover in process through the C ABI (target: at most 50 us on a
# 1-account store; bench/README.md, "The C ABI"). Builds the release static
# library and otp-link, secures one account into a fresh store, checks that
# the C child recovers it, then times ITERATIONS calls of otp_link_recover
# (default 20000) with bench/ffi_recover.c and prints the median.
# Environment: ITERATIONS; WORK (scratch directory, default a new one under
# /tmp, removed at the end unless KEEP_WORK=1); CC (default cc).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ITERATIONS=${ITERATIONS:-20000}
CC=${CC:-cc}
say() { printf '== %s\n' "$*" >&2; }

TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
say "building libotp_link and otp-link (release)"
(cd "$ROOT" && cargo build --release -p otp-ffi -p otp-cli --quiet)
LIB=$TARGET_DIR/release/libotp_link.a
OTP=$TARGET_DIR/release/otp-link

WORK=${WORK:-$(mktemp -d /tmp/otp-ffi-bench.XXXXXX)}
[ "${KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"
STORE=$WORK/store.cbor
rm -f "$STORE" "$STORE.lock"

say "securing one account into $STORE"
read -r USER_KEY PASS_KEY < <(
  echo '{"account": "bench", "username": "bench-user", "password": "bench-password-xxxxxxxxxxxx"}' |
    "$OTP" --store "$STORE" secure-account --batch |
    sed -E 's/.*"user_key":"([^"]+)","pass_key":"([^"]+)".*/\1 \2/')

NATIVE=(-lpthread -ldl -lm)
say "compiling bench/ffi_recover.c and the C child against $LIB"
"$CC" -std=c99 -O2 -Wall -Wextra -Werror -I "$ROOT/otp-ffi/include" \
  "$ROOT/bench/ffi_recover.c" "$LIB" "${NATIVE[@]}" -o "$WORK/ffi_recover"
"$CC" -std=c99 -O2 -Wall -Wextra -Werror -I "$ROOT/otp-ffi/include" \
  "$ROOT/otp-ffi/examples/child.c" "$LIB" "${NATIVE[@]}" -o "$WORK/child"
OTP_LINK_STORE=$STORE "$WORK/child" "$USER_KEY" "$PASS_KEY" |
  grep -q '^recovered a 10-byte username and a 27-byte password;' ||
  { echo "bench/ffi.sh: the C child did not recover the account" >&2; exit 1; }

say "timing $ITERATIONS calls"
"$WORK/ffi_recover" "$STORE" "$USER_KEY" "$PASS_KEY" "$ITERATIONS"
