#!/usr/bin/env bash
# TLS on the system's OpenSSL, both ends (issue 23): FleetStorm devices (FleetTLS client) against a standalone
# FleetStorm hub (FleetTLS server), N devices over mqtts, then idle. Prints one Markdown row per side:
#   devices: idle RSS per connected TLS device, (RSS at N − RSS at 200) / (N − 200), profiles/connect-storm.yaml;
#            CPU per device: user + system time of the run until RSS is read (connect storm of N, then idle) / N
#   hub:     idle RSS per TLS connection, (hub RSS with N devices − hub RSS with 200) / (N − 200);
#            CPU per accepted connection: the hub's user + system time over the N-device run / N
#   both:    TLS connects per second, the busiest second of the run's accepted series
# FLEETSTORM_BENCH_BIN runs another build instead of this checkout's release build (an earlier commit's binary, for a
# before/after on the same machine).
# Usage: scripts/bench-tls.sh [N]   Bounded: about 1 minute (N = 5,000).
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

# run DEVICES: a connect storm over TLS, then idle; prints "devices_RSS_KiB devices_ticks hub_RSS_KiB hub_ticks", read
# once all are in (15 s; 30 s past 5,000 devices: about 1,300 TLS connects a second here). The hub's ticks count from
# the run's start.
run() {
  local settle=$(($1 > 5000 ? 30 : 15))
  local hub_before
  hub_before=$(ticks_of "$hub_pid")
  "$bin" run profiles/connect-storm.yaml --hub "$url" --devices "$1" --duration "$((settle + 10))s" \
    --ca-file "$out/certs/ca.pem" --set hub.server_name=localhost --quiet --output "$out/run.pb" >/dev/null \
    2>"$out/run.err" &
  local pid=$!
  sleep "$settle"
  echo "$(rss_kib "$pid") $(ticks_of "$pid") $(rss_kib "$hub_pid") $(($(ticks_of "$hub_pid") - hub_before))"
  wait "$pid" || true
}

# One hub for both runs: the 200 devices' memory, freed when they end, is reused by the N devices'.
start_hub
read -r small _ hub_small _ < <(run 200)
read -r big ticks hub_big hub_ticks < <(run "$n")
"$bin" report "$out/run.pb" --format json >"$out/run.json"
stop_hub
rate=$(scripts/peak-accept-rate.py "$out/run.json")
per() { python3 -c "print(f'{($1)/($n-200):.1f} KiB')"; }
cpu() { python3 -c "print(f'{$1/$hz*1e6/$n:.0f} µs')"; }
echo "| side | idle RSS per TLS connection (200 → N devices) | CPU per connection (N-device connect storm, then idle) | TLS connects/s (peak 1 s) |"
echo "|---|---|---|---|"
echo "| devices | $(per "$big-$small") | $(cpu "$ticks") | $rate |"
echo "| hub | $(per "$hub_big-$hub_small") | $(cpu "$hub_ticks") | $rate |"
