#!/usr/bin/env bash
# TLS 1.3 records after the handshake (issue 23): our record layer (`TLS13Records`, OpenSSL's connection object freed)
# against OpenSSL's own (`FLEETSTORM_TLS_RECORDS=openssl`, the same binary), both ends switched together, interleaved
# over ROUNDS rounds. Each round and side: a standalone hub over TLS and a QoS 1 closed loop of 100 devices × 1,000
# messages of 256 B (one in flight per device), then prints per side the medians of
#   msg/s            acknowledged messages over the seconds in which any was acknowledged
#   device CPU/msg   the device process's user + system time over the whole run / messages (100 handshakes included)
#   hub CPU/msg      the hub's user + system time over the run / messages
# FLEETSTORM_BENCH_BIN runs another build instead of this checkout's release build.
# Usage: scripts/bench-tls-records.sh [ROUNDS]   Bounded: about 30 s per round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
. scripts/bench-common.sh
bin=${FLEETSTORM_BENCH_BIN:-$bin}
"$bin" hub --generate-cert "$out/certs" --host localhost >/dev/null
hz=$(getconf CLK_TCK)
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# one RECORDS (ours | openssl) -> "msgs_per_s device_us_per_msg hub_us_per_msg"
one() {
  local records=$1 port=$((20000 + RANDOM % 10000))
  local env_records=()
  [ "$records" = openssl ] && env_records=(FLEETSTORM_TLS_RECORDS=openssl)
  env "${env_records[@]}" "$bin" hub --tls-listen "127.0.0.1:$port" --tls-cert "$out/certs/server.pem" \
    --tls-key "$out/certs/server-key.pem" --anonymous --duration 10m >/dev/null 2>"$out/hub.err" &
  hub_pid=$!
  for _ in $(seq 100); do grep -q listening "$out/hub.err" 2>/dev/null && break; sleep 0.1; done
  local hub0; hub0=$(ticks_of "$hub_pid")
  local TIMEFORMAT='%3U %3S'
  { time env "${env_records[@]}" "$bin" run profiles/quickstart.yaml --hub "mqtts://127.0.0.1:$port" \
    --ca-file "$out/certs/ca.pem" --set hub.server_name=localhost --devices 100 --bin 10ms \
    --set fleet.ramp_rate=0 --set telemetry.interval=0 --set telemetry.max_inflight=1 \
    --set telemetry.payload_bytes=256 --set telemetry.messages=1000 --quiet --output "$out/q.pb" >/dev/null 2>&1 \
    || true; } 2>"$out/time"
  local device; device=$(awk -v hz="$hz" '{printf "%.0f", ($1 + $2) * hz}' "$out/time")
  local hub1; hub1=$(ticks_of "$hub_pid")
  kill -TERM "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true; hub_pid=""
  "$bin" report "$out/q.pb" --format json >"$out/q.json"
  python3 - "$out/q.json" "$device" "$((hub1 - hub0))" "$hz" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bin_s = int(r["series"]["bin_ns"]) / 1e9
acked = [int(v) for s in r["series"]["series"] if s["name"] == "acked" for v in s.get("values", [])]
busy = [i for i, v in enumerate(acked) if v > 0]
total = sum(acked)
if total < 100_000:
    sys.exit(f"error: only {total} of 100000 messages acknowledged")
seconds = (busy[-1] - busy[0] + 1) * bin_s
hz = float(sys.argv[4])
print(f"{total / seconds:.0f} {float(sys.argv[2]) / hz * 1e6 / total:.2f} {float(sys.argv[3]) / hz * 1e6 / total:.2f}")
PY
}

: >"$out/ours"
: >"$out/openssl"
for _ in $(seq "$rounds"); do
  one ours >>"$out/ours"
  one openssl >>"$out/openssl"
done
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
col() { awk -v c="$2" '{print $c}' "$out/$1" | median; }
echo "| TLS 1.3 records (both ends) | msg/s | device CPU per message | hub CPU per message |"
echo "|---|---|---|---|"
for side in ours openssl; do
  label=$([ "$side" = ours ] && echo "ours (\`TLS13Records\`)" || echo "OpenSSL's (\`FLEETSTORM_TLS_RECORDS=openssl\`)")
  echo "| $label | $(col "$side" 1) | $(col "$side" 2) µs | $(col "$side" 3) µs |"
done
