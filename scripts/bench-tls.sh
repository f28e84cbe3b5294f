#!/usr/bin/env bash
# The devices' TLS on both libraries, same commit, same hub (issue 23): the system's OpenSSL (FleetTLS, the default)
# and swift-nio-ssl (FLEETSTORM_TLS=nio-ssl, kept only for this comparison). Per library:
#   idle RSS per connected TLS device: (RSS at N − RSS at 200) / (N − 200), profiles/connect-storm.yaml, N = 5,000
#   CPU per device: user + system time of the run until RSS is read (connect storm of N over TLS, then idle) / N
#   TLS connects per second: the busiest second of the run's accepted series
# The hub is a standalone release hub with a certificate from `fleetstorm hub --generate-cert` (swift-nio-ssl).
# Usage: scripts/bench-tls.sh [N]   Prints Markdown rows for README. Bounded: about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
. scripts/bench-common.sh
"$bin" hub --generate-cert "$out/certs" --host localhost >/dev/null

start_hub() {
  local port=$((20000 + RANDOM % 10000))
  "$bin" hub --tls-listen "127.0.0.1:$port" --tls-cert "$out/certs/server.pem" --tls-key "$out/certs/server-key.pem" \
    --anonymous --duration 10m >/dev/null 2>"$out/hub.err" &
  hub_pid=$!
  url="mqtts://127.0.0.1:$port"
  for _ in $(seq 100); do grep -q listening "$out/hub.err" 2>/dev/null && break; sleep 0.1; done
}
stop_hub() { kill -TERM "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true; hub_pid=""; }

# run DEVICES: a connect storm over TLS, then idle; prints "RSS_KiB CPU_ticks", read once all are in (15 s; 30 s
# past 5,000 devices: about 1,300 TLS connects a second here).
run() {
  local settle=$(($1 > 5000 ? 30 : 15))
  "$bin" run profiles/connect-storm.yaml --hub "$url" --devices "$1" --duration "$((settle + 10))s" \
    --ca-file "$out/certs/ca.pem" --set hub.server_name=localhost --quiet --output "$out/run.pb" >/dev/null \
    2>"$out/run.err" &
  local pid=$!
  sleep "$settle"
  local rss
  rss=$(rss_kib "$pid")
  local ticks
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  wait "$pid" || true
  echo "$rss $ticks"
}

echo "| TLS library | idle RSS per TLS device (200 → N devices) | CPU per device (N-device connect storm, then idle) | TLS connects/s (peak 1 s) |"
echo "|---|---|---|---|"
for library in openssl nio-ssl; do
  if [ "$library" = nio-ssl ]; then export FLEETSTORM_TLS=nio-ssl; else unset FLEETSTORM_TLS; fi
  start_hub
  read -r small _ < <(run 200)
  read -r big ticks < <(run "$n")
  "$bin" report "$out/run.pb" --format json >"$out/run.json"
  stop_hub
  rate=$(scripts/peak-accept-rate.py "$out/run.json")
  hz=$(getconf CLK_TCK)
  echo "| $library | $(python3 -c "print(f'{($big-$small)/($n-200):.1f} KiB')") | $(python3 -c "print(f'{$ticks/$hz*1e6/$n:.0f} µs')") | $rate |"
done
