#!/usr/bin/env bash
# What a JSON template costs per message (issue: "CPU per message with a JSON template vs filler, in the closed-loop
# benchmark; goal ≤ 1.5× filler"). QoS 1 closed loop against mosquitto (a broker we did not write, started here):
# 100 devices × 1 message in flight for 15 s, once with profiles/thermostat-fleet.yaml's reading as a template and
# once with filler of the same size (150 B), interleaved over ROUNDS rounds; the generator's CPU (user + sys, from
# /usr/bin/time) per acknowledged message, medians. Prints Markdown rows for README. Bounded: ROUNDS × 2 × 15 s.
# Usage: scripts/bench-template.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
command -v mosquitto >/dev/null || { echo "mosquitto not installed (apt-get install mosquitto)" >&2; exit 1; }
. scripts/bench-common.sh

port=$((20000 + RANDOM % 10000))
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000\n' "$port" >"$out/m.conf"
mosquitto -c "$out/m.conf" >/dev/null 2>&1 &
hub_pid=$!
sleep 0.5

common='name: template-cost
fleet: {devices: 100, ramp_rate: 0}
telemetry:
  messages: 100000000
  interval: 0
  max_inflight: 1
  drain_timeout: 1s
  content_type: application/json'
printf '%s\n  payload_bytes: 150\n' "$common" >"$out/filler.yaml"
reading=$(grep -m1 '"temperature"' profiles/thermostat-fleet.yaml | sed 's/^ *//')
printf "%s\n  template: '%s'\n" "$common" "$reading" >"$out/template.yaml"

measure() {  # measure KIND: prints "µs-per-message user-µs-per-message msg/s body-bytes"
  /usr/bin/time -f "%U %S" -o "$out/cpu" "$bin" run "$out/$1.yaml" --hub "mqtt://127.0.0.1:$port" --duration 15s \
    --quiet --output "$out/$1.pb" >/dev/null 2>&1 || true
  "$bin" report "$out/$1.pb" --format json >"$out/$1.json"
  read -r user sys <"$out/cpu"
  python3 - "$user" "$sys" "$out/$1.json" <<'PY'
import json, sys
user, sys_, r = float(sys.argv[1]), float(sys.argv[2]), json.load(open(sys.argv[3]))
acked = int(r["accounting"].get("acked", 0))
secs = int(r["run"]["duration_ns"]) / 1e9
print(f"{(user + sys_) / max(acked, 1) * 1e6:.2f} {user / max(acked, 1) * 1e6:.2f} {acked / secs:.0f}")
PY
}

for k in $(seq "$rounds"); do
  for kind in filler template; do
    measure "$kind" >>"$out/$kind.rows"
    echo "round $k $kind: $(tail -1 "$out/$kind.rows")" >&2
  done
done

echo "| body (QoS 1 closed loop, 100 devices × 1 in flight, mosquitto; medians) | msg/s | generator CPU per message | of which user space |"
echo "|---|---|---|---|"
python3 - "$out/filler.rows" "$out/template.rows" "$rounds" <<'PY'
import statistics, sys
def rows(path):
    return [tuple(map(float, line.split())) for line in open(path) if line.strip()]
f, t, n = rows(sys.argv[1]), rows(sys.argv[2]), sys.argv[3]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print(f"| filler, 150 B | {med(f, 2):,.0f} | {med(f, 0):.2f} µs | {med(f, 1):.2f} µs |")
print(f"| JSON template (thermostat reading, ~150 B) | {med(t, 2):,.0f} | {med(t, 0):.2f} µs | {med(t, 1):.2f} µs |")
print(f"| template / filler | {med(t, 2) / med(f, 2):.2f} | {med(t, 0) / med(f, 0):.2f} | {med(t, 1) / med(f, 1):.2f} |")
PY
