#!/usr/bin/env bash
# The test hub beside mosquitto, the same work, the same client (a release `fleetstorm run` in its own process):
#   storm   DEVICES devices connect unpaced (max_in_flight 100, mosquitto's backlog) and idle: the broker's CPU per
#           accepted connection and its memory per idle connection (RSS with all connected − RSS before, / DEVICES)
#   qos1    QoS 1 closed loop, 256 B, one in flight per device: 100 devices × 1,000 and 10 devices × 5,000 messages:
#           messages per second (acked over the bins that had acks) and the broker's CPU per message
# A third server shows the floor under the hub: scripts/nio-floor, the least an MQTT server on the same SwiftNIO can do
# (CONNACK, PINGRESP, PUBACK; no rules, no counting) with the hub's channel options.
# Each broker runs in its own process, started per round and ended by its PID; CPU is its utime + stime from
# /proc/PID/stat over the client's run. Prints one Markdown table: medians over ROUNDS rounds (default 3), and the
# hub's figure as a ratio to mosquitto's.
# Usage: scripts/bench-hub-vs-mosquitto.sh [DEVICES] [ROUNDS]   (default 10000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
rounds="${2:-3}"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "needs mosquitto (apt-get install mosquitto)" >&2; exit 1; }
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
source scripts/bench-common.sh
swift build -c release --package-path scripts/nio-floor >/dev/null
floor_bin="$(swift build -c release --package-path scripts/nio-floor --show-bin-path)/nio-floor"
ticks=$(getconf CLK_TCK)
cpu_s() { awk -v t="$ticks" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }

start_broker() {  # $1 = mosquitto | floor | hub; sets hub_pid, url
  port=$((20000 + RANDOM % 10000))
  if [ "$1" = floor ]; then
    "$floor_bin" "$port" >"$out/floor.out" 2>&1 &
    hub_pid=$!
    for _ in $(seq 100); do grep -q listening "$out/floor.out" 2>/dev/null && break; sleep 0.1; done
  elif [ "$1" = mosquitto ]; then
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000\n' "$port" >"$out/m.conf"
    "$mosquitto_bin" -c "$out/m.conf" >/dev/null 2>&1 &
    hub_pid=$!
    sleep 0.5
  else
    "$bin" hub --listen "127.0.0.1:$port" --anonymous --duration 10m >/dev/null 2>"$out/hub.err" &
    hub_pid=$!
    for _ in $(seq 100); do grep -q listening "$out/hub.err" 2>/dev/null && break; sleep 0.1; done
  fi
  url="mqtt://127.0.0.1:$port"
}
stop_broker() { kill -TERM "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; hub_pid=""; }

# storm BROKER -> "cpu_us_per_connection kib_per_idle_connection"
storm() {
  start_broker "$1"
  local rss0 cpu0 peak
  rss0=$(rss_kib "$hub_pid"); cpu0=$(cpu_s "$hub_pid")
  "$bin" run profiles/connect-storm.yaml --hub "$url" --devices "$n" --duration 12s --set fleet.max_in_flight=100 \
    --quiet --output "$out/s.pb" >/dev/null 2>&1 &
  local run_pid=$! peak=$rss0
  while kill -0 "$run_pid" 2>/dev/null; do
    r=$(rss_kib "$hub_pid"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2
  done
  wait "$run_pid" || true
  local cpu1; cpu1=$(cpu_s "$hub_pid")
  stop_broker
  python3 -c "print(f'{($cpu1 - $cpu0) * 1e6 / $n:.1f} {($peak - $rss0) / $n:.2f}')"
}

# qos1 BROKER DEVICES MESSAGES -> "msgs_per_s cpu_us_per_message"
qos1() {
  start_broker "$1"
  local cpu0; cpu0=$(cpu_s "$hub_pid")
  "$bin" run profiles/quickstart.yaml --hub "$url" --devices "$2" --bin 10ms --set fleet.ramp_rate=0 \
    --set telemetry.interval=0 --set telemetry.max_inflight=1 --set telemetry.payload_bytes=256 \
    --set telemetry.messages="$3" --quiet --output "$out/q.pb" >/dev/null 2>&1 || true
  local cpu1; cpu1=$(cpu_s "$hub_pid")
  stop_broker
  "$bin" report "$out/q.pb" --format json >"$out/q.json"
  python3 - "$out/q.json" "$cpu0" "$cpu1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bin_s = int(r["series"]["bin_ns"]) / 1e9
acked = [int(v) for s in r["series"]["series"] if s["name"] == "acked" for v in s.get("values", [])]
busy = [i for i, v in enumerate(acked) if v > 0]
total = sum(acked)
seconds = (busy[-1] - busy[0] + 1) * bin_s if busy else 1
print(f"{total / seconds:.0f} {(float(sys.argv[3]) - float(sys.argv[2])) * 1e6 / max(1, total):.1f}")
PY
}

median() { python3 -c "import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

declare -A results
for round in $(seq "$rounds"); do
  for broker in mosquitto floor hub; do
    read -r c m <<<"$(storm "$broker")"
    results[$broker-conn]+="$c "; results[$broker-idle]+="$m "
    read -r rate cpu <<<"$(qos1 "$broker" 100 1000)"
    results[$broker-q100-rate]+="$rate "; results[$broker-q100-cpu]+="$cpu "
    read -r rate cpu <<<"$(qos1 "$broker" 10 5000)"
    results[$broker-q10-rate]+="$rate "; results[$broker-q10-cpu]+="$cpu "
  done
  echo "round $round done" >&2
done

row() {  # label key unit digits
  local m f h
  # shellcheck disable=SC2086
  m=$(median ${results[mosquitto-$2]}); f=$(median ${results[floor-$2]}); h=$(median ${results[hub-$2]})
  python3 -c "print(f'| $1 | {$m:.$4f} $3 | {$f:.$4f} $3 | {$h:.$4f} $3 | {$h / $m if $m else 0:.2f} | {$h / $f if $f else 0:.2f} |')"
}
echo "| work (medians over the rounds) | mosquitto | bare NIO server | fleetstorm hub | hub / mosquitto | hub / bare NIO |"
echo "|---|---|---|---|---|---|"
row "CPU per accepted connection ($n storm)" conn µs 1
row "memory per idle connection ($n connected)" idle KiB 2
row "QoS 1, 100 devices × 1,000 × 256 B: messages/s" q100-rate msg/s 0
row "QoS 1, 100 devices × 1,000: CPU per message" q100-cpu µs 1
row "QoS 1, 10 devices × 5,000 × 256 B: messages/s" q10-rate msg/s 0
row "QoS 1, 10 devices × 5,000: CPU per message" q10-cpu µs 1
