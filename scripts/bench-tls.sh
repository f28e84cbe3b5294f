#!/usr/bin/env bash
# TLS on the system's OpenSSL, both ends (issue 23): FleetStorm devices (FleetTLS client) against a standalone
# FleetStorm hub (FleetTLS server), then against mosquitto's TLS listener (OpenSSL too; the same certificate), N
# devices over mqtts, a connect storm, then idle. Prints one Markdown row per side:
#   devices: idle RSS per connected TLS device, (RSS at N − RSS at 200) / (N − 200), profiles/connect-storm.yaml;
#            CPU per device: user + system time of the run until RSS is read (connect storm of N, then idle) / N
#   hub, mosquitto: the server's idle RSS per TLS connection, (RSS with N devices − RSS with 200) / (N − 200);
#            CPU per accepted connection: the server's user + system time over the N-device run / N
#   all:     TLS connects per second, the busiest second of the run's accepted series
# Every run keeps at most 100 connects in flight (mosquitto's listen backlog), so neither server drops SYNs.
# FLEETSTORM_BENCH_BIN runs another build instead of this checkout's release build (an earlier commit's binary, for a
# before/after on the same machine).
# Usage: scripts/bench-tls.sh [N]   Bounded: about 2 minutes (N = 5,000).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
. scripts/bench-common.sh
bin=${FLEETSTORM_BENCH_BIN:-$bin}
"$bin" hub --generate-cert "$out/certs" --host localhost >/dev/null
hz=$(getconf CLK_TCK)
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_hub() {
  local port=$((20000 + RANDOM % 10000))
  "$bin" hub --tls-listen "127.0.0.1:$port" --tls-cert "$out/certs/server.pem" --tls-key "$out/certs/server-key.pem" \
    --anonymous --duration 10m >/dev/null 2>"$out/hub.err" &
  hub_pid=$!
  url="mqtts://127.0.0.1:$port"
  for _ in $(seq 100); do grep -q listening "$out/hub.err" 2>/dev/null && break; sleep 0.1; done
}
stop_hub() { kill -TERM "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true; hub_pid=""; }

# mosquitto's TLS listener on the hub's certificate (as root it would switch users and fail to read the key).
start_mosquitto() {
  local port=$((20000 + RANDOM % 10000))
  printf 'listener %s 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\nuser %s\n' "$port" \
    "$out/certs/ca.pem" "$out/certs/server.pem" "$out/certs/server-key.pem" "$(id -un)" >"$out/m.conf"
  "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$out/m.conf" >/dev/null 2>&1 &
  hub_pid=$!
  url="mqtts://127.0.0.1:$port"
  sleep 0.5
}

# run DEVICES: a connect storm over TLS, then idle; prints "devices_RSS_KiB devices_ticks hub_RSS_KiB hub_ticks", read
# once all are in (15 s, or 1 s per 250 devices: 500–1,300 TLS connects a second here); fails if a device is missing
# by then. The server's ticks count from the run's start.
run() {
  local settle=$(($1 / 250 > 15 ? $1 / 250 : 15))
  local hub_before
  hub_before=$(ticks_of "$hub_pid")
  "$bin" run profiles/connect-storm.yaml --hub "$url" --devices "$1" --duration "$((settle + 10))s" \
    --ca-file "$out/certs/ca.pem" --set hub.server_name=localhost --set fleet.max_in_flight=100 --quiet \
    --output "$out/run.pb" >/dev/null \
    2>"$out/run.err" &
  local pid=$!
  sleep "$settle"
  echo "$(rss_kib "$pid") $(ticks_of "$pid") $(rss_kib "$hub_pid") $(($(ticks_of "$hub_pid") - hub_before))"
  wait "$pid" || true
  "$bin" report "$out/run.pb" --format json >"$out/run.json"
  python3 - "$out/run.json" "$1" "$settle" <<'PY' >&2 || touch "$out/missing"
import json, sys
r = json.load(open(sys.argv[1]))
bin_s = int(r["series"]["bin_ns"]) / 1e9
acc = [int(v) for s in r["series"]["series"] if s["name"] == "accepted" for v in s.get("values", [])]
by_read = sum(acc[: int(float(sys.argv[3]) / bin_s)])
if by_read < int(sys.argv[2]):
    sys.exit(f"error: only {by_read} of {sys.argv[2]} devices connected by the RSS read at {sys.argv[3]} s")
PY
}

# measure SERVER (start_hub or start_mosquitto): 200 devices, then N, against one server (the 200 devices' memory,
# freed when they end, is reused by the N devices'); prints "devices_small devices_big devices_ticks server_small
# server_big server_ticks rate".
measure() {
  "$1"
  run 200 >"$out/row"
  read -r small _ server_small _ <"$out/row"
  run "$n" >"$out/row"
  read -r big ticks server_big server_ticks <"$out/row"
  stop_hub
  echo "$small $big $ticks $server_small $server_big $server_ticks $(scripts/peak-accept-rate.py "$out/run.json")"
}
measure start_hub >"$out/hub.row"
read -r small big ticks hub_small hub_big hub_ticks rate <"$out/hub.row"
measure start_mosquitto >"$out/mosquitto.row"
read -r _ _ _ mq_small mq_big mq_ticks mq_rate <"$out/mosquitto.row"
[ ! -e "$out/missing" ] || exit 1
per() { python3 -c "print(f'{($1)/($n-200):.1f} KiB')"; }
cpu() { python3 -c "print(f'{$1/$hz*1e6/$n:.0f} µs')"; }
echo "| side | idle RSS per TLS connection (200 → N devices) | CPU per connection (N-device connect storm, then idle) | TLS connects/s (peak 1 s) |"
echo "|---|---|---|---|"
echo "| devices (against the hub) | $(per "$big-$small") | $(cpu "$ticks") | $rate |"
echo "| hub | $(per "$hub_big-$hub_small") | $(cpu "$hub_ticks") | $rate |"
echo "| mosquitto | $(per "$mq_big-$mq_small") | $(cpu "$mq_ticks") | $mq_rate |"
