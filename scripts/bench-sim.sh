#!/usr/bin/env bash
# FleetSim's speed and memory, and the sim-vs-real comparison, for the README tables.
#   scripts/bench-sim.sh scale [DEVICES...]   profiles/hub-outage.yaml (drop-all, 15 s outage, recovery) at each size,
#                                             all devices at once (no ramp, no connect window, so the drop at 5 s
#                                             hits every one): wall time, peak RSS, RSS per device, events
#   scripts/bench-sim.sh real                 profiles/storm-capacity.yaml (5,000 devices) over real sockets and in
#                                             FleetSim, three seeds each: the storm rows side by side
#   scripts/bench-sim.sh cpu DEVICES ROUNDS [BIN...]
#                                             the scale step's run at one size with each binary given (default: this
#                                             build), interleaved ROUNDS times: user CPU seconds per binary, minimum
#                                             and median (the minimum is the least disturbed run on a shared VM)
# Every run is bounded by its profile's duration; nothing listens beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
step="${1:-scale}"
shift || true

storm_row() { grep -E "^  (drop|outage|throttle)@" "$1" | head -1 | sed 's/  */ /g'; }
# The storm row's columns counted from its end (a fault's name may hold spaces):
# ... peak peak1s mean PMR CV sync t50 t90 t99 t100 att/dev wasted
storm_field() { storm_row "$1" | awk -v back="$2" '{ print $(NF - back) }'; }
thousands() { python3 -c "import sys; print(f'{int(sys.argv[1]):,}')" "$1"; }

case "$step" in
scale)
  sizes=("$@")
  [ ${#sizes[@]} -eq 0 ] && sizes=(100000 1000000)
  echo "| devices | wall | peak RSS | RSS per device | events | storm: attempts per device, t90 / t99 |"
  echo "|---|---|---|---|---|---|"
  for n in "${sizes[@]}"; do
    window=$((n < 1000000 ? n : 1000000))   # fleet.max_in_flight's largest value
    /usr/bin/time -f "%e %M" -o "$out/time" "$bin" simulate profiles/hub-outage.yaml --devices "$n" \
      --set fleet.ramp_rate=0 --set fleet.max_in_flight="$window" --quiet --output "$out/sim.pb" >"$out/sim.txt"
    read -r wall kib <"$out/time"
    events=$(grep -oE '\(([0-9]+) events\)' "$out/sim.txt" | tr -dc '0-9')
    storm="$(storm_field "$out/sim.txt" 1), $(storm_field "$out/sim.txt" 4) / $(storm_field "$out/sim.txt" 3)"
    echo "| $(thousands "$n") | $wall s | $((kib / 1024)) MiB | $(thousands $((kib * 1024 / n))) B |" \
      "$(python3 -c "print(f'{int(\"$events\") / 1e6:.1f} M')") | $storm |"
  done
  ;;
real)
  echo "| seed | kind | peak attempts/s (100 ms bin) | peak attempts/s (1 s) | t50 | t90 | t99 | t100 | attempts per device | wasted | generator |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  row() {
    local f=$1
    echo "$(storm_field "$f" 11) | $(storm_field "$f" 10) | $(storm_field "$f" 5) | $(storm_field "$f" 4) |" \
      "$(storm_field "$f" 3) | $(storm_field "$f" 2) | $(storm_field "$f" 1) | $(storm_field "$f" 0)"
  }
  for seed in 21 22 23; do
    "$bin" run profiles/storm-capacity.yaml --seed "$seed" --quiet --output "$out/real.pb" >"$out/real.txt"
    "$bin" simulate profiles/storm-capacity.yaml --seed "$seed" --quiet --output "$out/sim.pb" >"$out/sim.txt"
    health=$(grep -oE "^(generator: kept up|GENERATOR LIMITED)" "$out/real.txt" | sed 's/^generator: //' || true)
    echo "| $seed | real | $(row "$out/real.txt") | $health |"
    echo "| $seed | simulated | $(row "$out/sim.txt") | |"
  done
  ;;
cpu)
  n="${1:?devices}"
  rounds="${2:?rounds}"
  shift 2
  bins=("$@")
  [ ${#bins[@]} -eq 0 ] && bins=("$bin")
  declare -A times
  for _ in $(seq "$rounds"); do
    for b in "${bins[@]}"; do
      /usr/bin/time -f "%U" -o "$out/time" "$b" simulate profiles/hub-outage.yaml --devices "$n" \
        --set fleet.ramp_rate=0 --set fleet.max_in_flight="$((n < 1000000 ? n : 1000000))" --quiet \
        --output "$out/sim.pb" >/dev/null
      times[$b]="${times[$b]:-} $(cat "$out/time")"
    done
  done
  echo "| binary | user CPU s, min | median | all rounds |"
  echo "|---|---|---|---|"
  for b in "${bins[@]}"; do
    # shellcheck disable=SC2086
    python3 -c "import sys, statistics as s; v = sorted(map(float, sys.argv[2:]))
print(f'| {sys.argv[1]} | {v[0]:.2f} | {s.median(v):.2f} | {\", \".join(f\"{x:.2f}\" for x in v)} |')" "$b" ${times[$b]}
  done
  ;;
*)
  echo "usage: scripts/bench-sim.sh scale [DEVICES...] | real | cpu DEVICES ROUNDS [BIN...]" >&2
  exit 2
  ;;
esac
