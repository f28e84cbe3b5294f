#!/usr/bin/env bash
# FleetSim's speed and memory, and the sim-vs-real comparison, for the README tables.
#   scripts/bench-sim.sh scale [DEVICES...]   profiles/hub-outage.yaml (drop-all, 15 s outage, recovery) at each size,
#                                             all devices at once (no ramp, no connect window, so the drop at 5 s
#                                             hits every one): wall time, peak RSS, RSS per device, events
#   scripts/bench-sim.sh real                 profiles/storm-capacity.yaml (5,000 devices) over real sockets and in
#                                             FleetSim, three seeds each: the storm rows side by side
# Every run is bounded by its profile's duration; nothing listens beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
step="${1:-scale}"
shift || true

storm_row() { grep -E "^  (drop|outage|throttle)@" "$1" | head -1 | sed 's/  */ /g'; }

case "$step" in
scale)
  sizes=("$@")
  [ ${#sizes[@]} -eq 0 ] && sizes=(100000 1000000)
  echo "| devices | wall s | peak RSS MiB | RSS per device B | events | storm (affected back peak peak1s ... t90 t99 t100 att/dev wasted) |"
  echo "|---|---|---|---|---|---|"
  for n in "${sizes[@]}"; do
    window=$((n < 1000000 ? n : 1000000))   # fleet.max_in_flight's largest value
    /usr/bin/time -f "%e %M" -o "$out/time" "$bin" simulate profiles/hub-outage.yaml --devices "$n" \
      --set fleet.ramp_rate=0 --set fleet.max_in_flight="$window" --quiet --output "$out/sim.pb" >"$out/sim.txt"
    read -r wall kib <"$out/time"
    events=$(grep -oE '\(([0-9]+) events\)' "$out/sim.txt" | tr -dc '0-9')
    echo "| $n | $wall | $((kib / 1024)) | $((kib * 1024 / n)) | $events | $(storm_row "$out/sim.txt") |"
  done
  ;;
real)
  echo "| seed | kind | storm row | generator |"
  echo "|---|---|---|---|"
  for seed in 21 22 23; do
    "$bin" run profiles/storm-capacity.yaml --seed "$seed" --quiet --output "$out/real.pb" >"$out/real.txt"
    "$bin" simulate profiles/storm-capacity.yaml --seed "$seed" --quiet --output "$out/sim.pb" >"$out/sim.txt"
    health=$(grep -oE "^(generator: kept up|GENERATOR LIMITED)" "$out/real.txt" || true)
    echo "| $seed | real | $(storm_row "$out/real.txt") | $health |"
    echo "| $seed | simulated | $(storm_row "$out/sim.txt") | |"
  done
  ;;
*)
  echo "usage: scripts/bench-sim.sh scale [DEVICES...] | real" >&2
  exit 2
  ;;
esac
