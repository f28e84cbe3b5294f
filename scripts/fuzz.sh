#!/usr/bin/env bash
# Runs the libFuzzer harnesses (Sources/FleetFuzz) for a bounded time each, starting from the committed corpora in
# Fuzz/Corpus/<target>/. A crash, a broken invariant or a leak fails the script and leaves the input in
# Fuzz/Findings/<target>/: move it into Fuzz/Corpus/<target>/ once fixed, and `swift test` replays it from then on.
#
#   scripts/fuzz.sh                       # every target, 30 s each
#   scripts/fuzz.sh 600 report profile    # 10 minutes each for two targets
#   FUZZ_JOBS=2 scripts/fuzz.sh 600       # two targets at a time (one core each)
#
# Inputs that add coverage are kept in Fuzz/Findings/<target>/new/ (not committed; merge the useful ones with
# `-merge=1` into the corpus by hand). The build uses its own folder (.build-fuzz): `-sanitize=fuzzer` instruments
# every module.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(report credentials profile mqtt amqp hub-mqtt hub-websocket hub-https hub-amqp hub-mixed amqp-device amqp-pool hub-session tls-client tls-server tls-records template)
fi
swift build --product fleetstorm-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -D -Xswiftc FUZZING 2>&1 | tail -n 3
binary=$(swift build --product fleetstorm-fuzz --scratch-path .build-fuzz --show-bin-path)/fleetstorm-fuzz
jobs=${FUZZ_JOBS:-1}

run_one() {
  local target=$1
  local findings=Fuzz/Findings/$target
  mkdir -p "$findings/new"
  local log=$findings/fuzz.log
  # -rss_limit_mb: a harness that allocates without bound is a finding too; -timeout: so is one that hangs.
  # SWIFT_BACKTRACE off: libFuzzer's own signal handler then writes the crashing input (crash-*) before exiting.
  if SWIFT_BACKTRACE=enable=no FLEETSTORM_FUZZ_TARGET=$target "$binary" "$findings/new" "Fuzz/Corpus/$target" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1; then
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz $target: ${runs:-?} inputs in ${seconds} s, no crash"
  else
    echo "fuzz $target: FAILED, input and log in $findings/ (replay: swift run fleetstorm-fuzz $target FILE)" >&2
    grep -E 'ERROR|Fatal error|==[0-9]+==' "$log" | head -n 5 >&2
    return 1
  fi
}

failed=0
pids=()
for target in "${targets[@]}"; do
  run_one "$target" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
