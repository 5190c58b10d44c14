# Sourced by bench/run.sh and bench/python.sh after they build: a build
# raises the load average, so wait up to 90 s for it to fall below half the
# CPUs. Sets LOAD1 (the 1-minute load average at the start of the timing)
# and warns when the machine did not settle. Uses the scripts' `say`.
calm() { awk -v cpus="$(nproc)" '{ exit !($1 < 0.5 * cpus) }' /proc/loadavg; }
for _ in $(seq 18); do
  calm && break
  say "load average $(cut -d' ' -f1 /proc/loadavg): waiting for the machine to settle"
  sleep 5
done
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
calm || say "WARNING: load average $LOAD1 at the start ($(nproc) CPUs): results are noisy"
