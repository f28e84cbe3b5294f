#!/usr/bin/env bash
# Does the live page (run --ui) make the generator late? 9,000 devices of profiles/steady-telemetry.yaml (one QoS 1
# message a second each, 20 each) against the embedded hub, without --ui and with it while a watcher fetches the
# page every second, ROUNDS times (default 2). Prints a table: the generator's health figures and publish_ack p99.
#   scripts/bench-ui.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
source scripts/bench-common.sh
port=18090
args=(run profiles/steady-telemetry.yaml --devices 9000 --set telemetry.interval=1s --set telemetry.messages=20
  --set fleet.ramp_rate=3000 --quiet)
# One table row from a run's output: its health line's figures and publish_ack p99.
row() {
  local health ack
  health=$(grep -h "^generator" "$2")
  ack=$(grep -h "^publish_ack " "$2" | awk '{print $5}')
  figure() { sed -E "s/.*$1 ([0-9.]+[^,)]*).*/\1/" <<<"$health"; }
  echo "| $1 | $(figure "late sends") | $(figure "loop lag p99") | $(figure "timer lateness p99") | $ack |"
}
echo "| run | late sends | loop lag p99 | timer lateness p99 | publish_ack p99 |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  "$bin" "${args[@]}" --output "$out/off.pb" >"$out/off.txt" 2>&1
  "$bin" "${args[@]}" --ui "127.0.0.1:$port" --output "$out/on.pb" >"$out/on.txt" 2>&1 &
  run_pid=$!
  fetches=0
  while kill -0 "$run_pid" 2>/dev/null; do
    curl -s -o /dev/null "http://127.0.0.1:$port/body" && fetches=$((fetches + 1))
    sleep 1
  done
  wait "$run_pid"
  row "round $round, without --ui" "$out/off.txt"
  row "round $round, with --ui ($fetches page fetches)" "$out/on.txt"
done
