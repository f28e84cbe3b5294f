#!/usr/bin/env bash
# Test-hub benchmark: a standalone release `fleetstorm hub` (its own process) takes an unpaced connection storm
# from `fleetstorm run`, optionally over TLS. Prints a Markdown table for README: accepts per second the hub
# sustained (peak over 1 s, from its hub_accepted series), the hub's RSS idle and with every device connected,
# and memory per connection.
# Usage: scripts/bench-hub.sh [DEVICES...]   (default: 5000 15000; one process holds at most ~19,900 sockets here)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(5000 15000)
. scripts/bench-common.sh
"$bin" hub --generate-cert "$out/certs" --host localhost >/dev/null
echo "| transport | devices | accepts/s (peak 1 s) | connect p50 / p99 | hub RSS idle MiB | hub RSS connected MiB | KiB per connection |"
echo "|---|---|---|---|---|---|---|"
for tls in no yes; do
  for n in "${sizes[@]}"; do
    port=$((24000 + RANDOM % 7000))
    if [ "$tls" = yes ]; then
      listen=(--tls-listen "127.0.0.1:$port" --tls-cert "$out/certs/server.pem" --tls-key "$out/certs/server-key.pem")
      url="mqtts://127.0.0.1:$port"; extra=(--ca-file "$out/certs/ca.pem" --set hub.server_name=localhost)
    else
      listen=(--listen "127.0.0.1:$port"); url="mqtt://127.0.0.1:$port"; extra=()
    fi
    "$bin" hub "${listen[@]}" --anonymous --output "$out/hub.pb" --duration 10m >/dev/null 2>"$out/hub.err" &
    hub_pid=$!
    for _ in $(seq 100); do grep -q listening "$out/hub.err" 2>/dev/null && break; sleep 0.1; done
    idle=$(rss_kib "$hub_pid")
    # Devices connect unpaced, idle 8 s (one message), then leave; sample the hub's RSS while all are connected.
    "$bin" run profiles/quickstart.yaml --hub "$url" "${extra[@]}" --devices "$n" --set fleet.ramp_rate=0 \
      --set fleet.max_in_flight=2000 --set telemetry.messages=1 --set telemetry.interval=8s \
      --set mqtt.keep_alive=60s --quiet --output "$out/run.pb" >/dev/null &
    run_pid=$!
    peak=$idle
    while kill -0 "$run_pid" 2>/dev/null; do
      r=$(rss_kib "$hub_pid"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2
    done
    wait "$run_pid"
    kill -TERM "$hub_pid"; wait "$hub_pid" || true; hub_pid=""
    "$bin" report "$out/hub.pb" --format json > "$out/hub.json"
    "$bin" report "$out/run.pb" --format json > "$out/run.json"
    python3 - "$tls" "$n" "$idle" "$peak" "$out/hub.json" "$out/run.json" <<'PY'
import json, sys
tls, n, idle, peak = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hub, run = json.load(open(sys.argv[5])), json.load(open(sys.argv[6]))
series = {s["name"]: [int(v) for v in s.get("values", [])] for s in hub["series"]["series"]}
per_bin = int(hub["series"]["bin_ns"]) / 1e9
acc = series.get("hub_accepted", [])
w = max(1, round(1 / per_bin))
peak_rate = max((sum(acc[i:i + w]) for i in range(max(1, len(acc) - w + 1))), default=0) / (w * per_bin)
h = {x["name"]: x for x in run["histograms"]}
ms = lambda v: f"{int(v) / 1e6:.2f} ms"
accepted = int(hub["hub"].get("connections_accepted", 0))
print(f"| {'TLS' if tls == 'yes' else 'TCP'} | {n} ({accepted} accepted) | {peak_rate:,.0f} | "
      f"{ms(h['connect'].get('p50', 0))} / {ms(h['connect'].get('p99', 0))} | {idle / 1024:.1f} | {peak / 1024:.1f} | "
      f"{(peak - idle) / n:.1f} |")
PY
  done
done
