#!/usr/bin/env bash
# Does the live page (run --ui) make the generator late? 9,000 devices of profiles/steady-telemetry.yaml (one QoS 1
# message a second each, 20 each) against the embedded hub, without --ui and with it while a watcher fetches the
# page every second, ROUNDS times (default 2). Prints the generator's health line and publish_ack of each run.
#   scripts/bench-ui.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
source scripts/bench-common.sh
port=18090
args=(run profiles/steady-telemetry.yaml --devices 9000 --set telemetry.interval=1s --set telemetry.messages=20
  --set fleet.ramp_rate=3000 --quiet)
summary() { grep -h "generator" "$1" | sed 's/^generator: //'; grep -h "^publish_ack " "$1" | awk '{print "publish_ack p50 " $3 ", p99 " $5}'; }
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
  echo "round $round, without --ui: $(summary "$out/off.txt" | paste -sd ';')"
  echo "round $round, with --ui ($fetches page fetches): $(summary "$out/on.txt" | paste -sd ';')"
done
