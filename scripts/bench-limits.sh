#!/usr/bin/env bash
# One process at its limit (issue: "the instrument must not bend"): release builds, the hub in its own process
# unless said otherwise. Prints Markdown rows for README. Each step is bounded and stops by itself.
#   idle      generator RSS per idle connected device: (RSS at 19,000 − RSS at 200) / 18,800 (profiles/connect-storm.yaml)
#   connect   time until every device is connected: 10,000 and 19,000 devices (source-address pools)
#   storm     profiles/jitter-storm.yaml at 9,000 devices, all connected before the fault, embedded hub: the verdict
#   steady    19,000 devices × one message per 10 s: loop lag and timer lateness
#   tls       generator RSS per idle TLS device: (RSS at 5,000 − RSS at 200) / 4,800, and TLS connects per second
#   mosquitto connect storm of 10,000 against mosquitto (SYN drops from ListenOverflows) and QoS 1 closed loops
#   window    the adaptive connect window (auto) in 10,000-device storms against a fresh mosquitto each, ROUNDS times
#             (FLEETSTORM_ROUNDS, default 6); with FLEETSTORM_BENCH_BIN_BEFORE another build's binary is run
#             interleaved with this one: time to all connected, SYN drops, connect p50 / max, largest window
# Usage: scripts/bench-limits.sh [STEP...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(idle connect storm steady tls mosquitto)
. scripts/bench-common.sh

start_hub() {  # start_hub [--tls]: a standalone hub on a free port below 32768
  local port=$((20000 + RANDOM % 10000))
  if [ "${1:-}" = --tls ]; then
    [ -d "$out/certs" ] || "$bin" hub --generate-cert "$out/certs" --host localhost >/dev/null
    "$bin" hub --tls-listen "127.0.0.1:$port" --tls-cert "$out/certs/server.pem" --tls-key "$out/certs/server-key.pem" \
      --anonymous --duration 10m >/dev/null 2>"$out/hub.err" &
    url="mqtts://127.0.0.1:$port"
  else
    "$bin" hub --listen "127.0.0.1:$port" --anonymous --duration 10m >/dev/null 2>"$out/hub.err" &
    url="mqtt://127.0.0.1:$port"
  fi
  hub_pid=$!
  for _ in $(seq 100); do grep -q listening "$out/hub.err" 2>/dev/null && break; sleep 0.1; done
}
stop_hub() { kill -TERM "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true; hub_pid=""; }

# run_idle N [extra args]: connect-storm with N devices against $url; prints the run's RSS (KiB) once every device
# is connected, then lets it end. Uses the report's connected gauge to know when all are in.
run_idle() {
  local n=$1; shift
  "$bin" run profiles/connect-storm.yaml --hub "$url" --devices "$n" --duration 25s "$@" --quiet \
    --output "$out/idle.pb" >/dev/null 2>"$out/run.err" &
  local pid=$! peak=0
  sleep 15  # connects finish within seconds; then the fleet idles
  peak=$(rss_kib "$pid")
  wait "$pid"
  echo "$peak"
}

field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

for step in "${steps[@]}"; do
  case "$step" in
  idle)
    start_hub
    small=$(run_idle 200)
    big=$(run_idle 19000)
    "$bin" report "$out/idle.pb" --format json >"$out/idle.json"
    connected=$(field "$out/idle.json" "max(int(v) for s in r['series']['series'] if s['name']=='connected' for v in s.get('values',[0]))")
    stop_hub
    echo "| idle RSS per connected device (TCP) | 200: $((small / 1024)) MiB, 19,000: $((big / 1024)) MiB ($connected connected) | $(python3 -c "print(f'{($big-$small)/18800:.2f} KiB')") |"
    ;;
  connect)
    start_hub
    for n in 10000 19000; do
      "$bin" run profiles/connect-storm.yaml --hub "$url" --devices "$n" --duration 20s --quiet \
        --output "$out/c.pb" >/dev/null 2>&1
      "$bin" report "$out/c.pb" --format json >"$out/c.json"
      python3 - "$n" "$out/c.json" <<'PY'
import json, sys
n, r = int(sys.argv[1]), json.load(open(sys.argv[2]))
bin_s = int(r["series"]["bin_ns"]) / 1e9
acc = [int(v) for s in r["series"]["series"] if s["name"] == "accepted" for v in s.get("values", [])]
total, t = 0, None
for i, v in enumerate(acc):
    total += v
    if total >= n:
        t = (i + 1) * bin_s
        break
h = {x["name"]: x for x in r["histograms"]}
print(f"| all {n:,} connected (hub in its own process) | {'%.2f s' % t if t else 'not all'} | connect p50 / p99 "
      f"{int(h['connect']['p50'])/1e6:.1f} / {int(h['connect']['p99'])/1e6:.1f} ms |")
PY
    done
    stop_hub
    ;;
  storm)
    # Seeds 1-5 (STORM_SEEDS to choose): the verdict must hold for each, not on average.
    for seed in ${STORM_SEEDS:-1 2 3 4 5}; do
    "$bin" run profiles/jitter-storm.yaml --devices 9000 --set fleet.ramp_rate=3000 --seed "$seed" --quiet \
      --output "$out/s.pb" >"$out/s.txt" 2>&1
    "$bin" report "$out/s.pb" --format json >"$out/s.json"
    python3 - "$out/s.json" "$seed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h = r["health"]
storms = [s for s in r.get("storms", []) if s["fault"] != "run"]
rec = ", ".join(f"{s['fault']}: {s.get('recovered', 0)}/{s.get('affected', 0)} back" for s in storms)
verdict = "GENERATOR LIMITED (" + h.get("cause", "") + ")" if h.get("generator_limited") else "kept up"
print(f"| jitter-storm, 9,000 devices, embedded hub, seed {sys.argv[2]} | {verdict}; loop lag p99 {int(h.get('loop_lag_p99_ns', 0))/1e6:.2f} ms, "
      f"timer lateness p99 {int(h.get('timer_lateness_p99_ns', 0))/1e6:.2f} ms, late sends {h.get('late_send_fraction', 0)*100:.2f} % | {rec} |")
PY
    done
    ;;
  steady)
    start_hub
    # Ramped at 2,000 connects/s (the connect storm itself is the 'connect' step), then steady telemetry.
    "$bin" run profiles/connect-storm.yaml --hub "$url" --devices 19000 --duration 60s --set telemetry.messages=1000 \
      --set telemetry.interval=10s --set fleet.ramp_rate=2000 --quiet --output "$out/t.pb" >/dev/null 2>&1
    stop_hub
    "$bin" report "$out/t.pb" --format json >"$out/t.json"
    python3 - "$out/t.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h, a = r["health"], r["accounting"]
verdict = "GENERATOR LIMITED (" + h.get("cause", "") + ")" if h.get("generator_limited") else "kept up"
print(f"| 19,000 devices × 1 msg / 10 s (hub in its own process) | {verdict}; loop lag p99 {int(h.get('loop_lag_p99_ns', 0))/1e6:.2f} ms, "
      f"timer lateness p99 {int(h.get('timer_lateness_p99_ns', 0))/1e6:.2f} ms, device loop CPU {h.get('loop_cpu_share', 0)*100:.0f} % | "
      f"{int(a.get('acked', 0)):,} acked of {int(a.get('generated', 0)):,} |")
PY
    ;;
  tls)
    start_hub --tls
    extra=(--ca-file "$out/certs/ca.pem" --set hub.server_name=localhost)
    small=$(run_idle 200 "${extra[@]}")
    big=$(run_idle 5000 "${extra[@]}")
    "$bin" report "$out/idle.pb" --format json >"$out/tls.json"
    stop_hub
    rate=$(scripts/peak-accept-rate.py "$out/tls.json")
    echo "| idle RSS per connected TLS device | 200: $((small / 1024)) MiB, 5,000: $((big / 1024)) MiB | $(python3 -c "print(f'{($big-$small)/4800:.1f} KiB')"); TLS connects/s (peak 1 s) $rate |"
    ;;
  window)
    command -v mosquitto >/dev/null || { echo "mosquitto not installed" >&2; exit 1; }
    overflows() { awk '/^TcpExt:/ {if (!h) {for (i=1;i<=NF;i++) n[i]=$i; h=1} else {for (i=1;i<=NF;i++) if (n[i]=="ListenOverflows") print $i}}' /proc/net/netstat; }
    builds=("$bin")
    [ -n "${FLEETSTORM_BENCH_BIN_BEFORE:-}" ] && builds=("$FLEETSTORM_BENCH_BIN_BEFORE" "$bin")
    echo "| build | all connected after | SYN drops | connect p50 / max | largest window |"
    echo "|---|---|---|---|---|"
    for _ in $(seq "${FLEETSTORM_ROUNDS:-6}"); do
      for b in "${builds[@]}"; do
        port=$((20000 + RANDOM % 10000))
        printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\n' "$port" >"$out/w.conf"
        mosquitto -c "$out/w.conf" >/dev/null 2>&1 &
        hub_pid=$!
        sleep 0.5
        before=$(overflows)
        "$b" run profiles/connect-storm.yaml --hub "mqtt://127.0.0.1:$port" --devices 10000 --duration 4s --bin 10ms \
          --quiet --output "$out/w.pb" >"$out/w.txt" 2>&1 || true
        drops=$(($(overflows) - before))
        stop_hub
        "$b" report "$out/w.pb" --format json >"$out/w.json"
        python3 - "$out/w.json" "$out/w.txt" "$b" "$drops" <<'PY'
import json, re, sys
r, text, build, drops = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3], sys.argv[4]
bin_s = int(r["series"]["bin_ns"]) / 1e9
acc = [int(v) for s in r["series"]["series"] if s["name"] == "accepted" for v in s.get("values", [])]
total, when = 0, "not all"
for i, v in enumerate(acc):
    total += v
    if total >= 10000:
        when = f"{(i + 1) * bin_s:.2f} s"
        break
connect = re.search(r"^connect\s+\d+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+(\S+)", text, re.M)
window = re.search(r"largest (\d+)", text)
print(f"| {build} | {when} | {drops} | {connect.group(1) if connect else '?'} / {connect.group(2) if connect else '?'} |"
      f" {window.group(1) if window else '?'} |")
PY
      done
    done
    ;;
  mosquitto)
    command -v mosquitto >/dev/null || { echo "mosquitto not installed" >&2; exit 1; }
    port=$((20000 + RANDOM % 10000))
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000\n' "$port" >"$out/m.conf"
    mosquitto -c "$out/m.conf" >/dev/null 2>&1 &
    mpid=$!
    sleep 0.5
    overflows() { awk '/^TcpExt:/ {if (!h) {for (i=1;i<=NF;i++) n[i]=$i; h=1} else {for (i=1;i<=NF;i++) if (n[i]=="ListenOverflows") print $i}}' /proc/net/netstat; }
    # mosquitto listens with a backlog of 100: a connect window of 100 in flight never overflows its accept queue;
    # auto (the connect-storm profile's) has to find that out by itself.
    for window in 500 100 auto; do
    before=$(overflows)
    "$bin" run profiles/connect-storm.yaml --hub "mqtt://127.0.0.1:$port" --devices 10000 --duration 15s --quiet \
      --set fleet.max_in_flight=$window --output "$out/m.pb" >/dev/null 2>&1
    after=$(overflows)
    "$bin" report "$out/m.pb" --format json >"$out/m.json"
    t=$(python3 - "$out/m.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bin_s = int(r["series"]["bin_ns"]) / 1e9
acc = [int(v) for s in r["series"]["series"] if s["name"] == "accepted" for v in s.get("values", [])]
tot = 0
for i, v in enumerate(acc):
    tot += v
    if tot >= 10000:
        print(f"{(i+1)*bin_s:.2f} s"); break
else:
    print(f"only {tot}")
PY
)
    echo "| 10,000 devices connect to mosquitto, max_in_flight $window | all connected after $t | SYN drops (ListenOverflows) $((after - before)) |"
    done
    for n in 100 10; do
      /usr/bin/time -f "%U %S" -o "$out/cpu" "$bin" run profiles/quickstart.yaml --hub "mqtt://127.0.0.1:$port" \
        --devices "$n" --duration 20s --set telemetry.interval=0 --set telemetry.max_inflight=1 \
        --set telemetry.payload_bytes=256 --set telemetry.messages=100000000 --set telemetry.drain_timeout=1s \
        --set fleet.ramp_rate=0 --quiet --output "$out/q.pb" >/dev/null 2>&1
      "$bin" report "$out/q.pb" --format json >"$out/q.json"
      read -r user sys <"$out/cpu"
      python3 - "$n" "$user" "$sys" "$out/q.json" <<'PY'
import json, sys
n, user, sys_, r = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), json.load(open(sys.argv[4]))
a = r["accounting"]
acked = int(a.get("acked", 0))
secs = int(r["run"]["duration_ns"]) / 1e9
print(f"| QoS 1 closed loop, {n} devices × 1 in flight, 256 B, mosquitto | {acked/secs:,.0f} msg/s | "
      f"generator CPU {(user+sys_)/max(acked,1)*1e6:.1f} µs per message ({user:.1f} s user + {sys_:.1f} s sys) |")
PY
    done
    kill "$mpid"; wait "$mpid" 2>/dev/null || true
    ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
