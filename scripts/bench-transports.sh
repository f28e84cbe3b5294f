#!/usr/bin/env bash
# What each transport costs a device: the same fleet (N devices, 20 QoS 1 messages each, 200 ms apart) over mqtt://,
# mqtts://, ws://, wss://, https:// (the HTTPS device API), amqp:// and amqps:// (AMQP 1.0) against a standalone release hub process (so the numbers are the devices' process
# only). Prints a Markdown table for README: peak RSS per device, CPU per message (user + system of the fleet process,
# connects included), connect and publish→ack percentiles.
# Usage: scripts/bench-transports.sh [DEVICES] [TRANSPORTS...]   (default 5000, all seven)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5000}"
shift || true
transports=("$@")
[ ${#transports[@]} -gt 0 ] || transports=(mqtt mqtts ws wss https amqp amqps)
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
swift build -c release --product fleetstorm >/dev/null
bin="$(swift build -c release --show-bin-path)/fleetstorm"
out="$(mktemp -d)"
hub_pid=""
trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$out"' EXIT
"$bin" hub --generate-cert "$out/certs" --host localhost >/dev/null
port=$(( 21000 + RANDOM % 8000 ))
"$bin" hub --anonymous --tls-cert "$out/certs/server.pem" --tls-key "$out/certs/server-key.pem" \
  --listen "127.0.0.1:$port" --tls-listen "127.0.0.1:$((port + 1))" --ws-listen "127.0.0.1:$((port + 2))" \
  --wss-listen "127.0.0.1:$((port + 3))" --https-listen "127.0.0.1:$((port + 4))" \
  --amqp-listen "127.0.0.1:$((port + 5))" --amqps-listen "127.0.0.1:$((port + 6))" --duration 10m >/dev/null 2>&1 &
hub_pid=$!
sleep 2
echo "| transport | devices | peak RSS MiB | RSS/device KiB | CPU µs/message | connect p50 / p99 | publish→ack p50 / p99 | acked |"
echo "|---|---|---|---|---|---|---|---|"
for t in "${transports[@]}"; do
  case $t in
    mqtt) url="mqtt://127.0.0.1:$port" ;;
    mqtts) url="mqtts://localhost:$((port + 1))" ;;
    ws) url="ws://127.0.0.1:$((port + 2))" ;;
    wss) url="wss://localhost:$((port + 3))" ;;
    https) url="https://localhost:$((port + 4))" ;;
    amqp) url="amqp://127.0.0.1:$((port + 5))" ;;
    amqps) url="amqps://localhost:$((port + 6))" ;;
    *) echo "unknown transport $t (mqtt, mqtts, ws, wss, https, amqp, amqps)" >&2; exit 2 ;;
  esac
  ca=()
  case $t in mqtts|wss|https|amqps) ca=(--ca-file "$out/certs/ca.pem") ;; esac
  /usr/bin/time -f "%e %M %U %S" -o "$out/time" "$bin" run profiles/quickstart.yaml --hub "$url" "${ca[@]}" \
    --devices "$n" --set fleet.ramp_rate=2000 --set telemetry.messages=20 --set telemetry.interval=200ms \
    --quiet --output "$out/r.pb" >/dev/null
  read -r wall rss_kb user sys < "$out/time"
  "$bin" report "$out/r.pb" --format json > "$out/r.json"
  python3 - "$t" "$n" "$rss_kb" "$user" "$sys" "$out/r.json" <<'PY'
import json, sys
t, n, rss_kb, user, sys_s, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
r = json.load(open(path))
h = {x["name"]: x for x in r["histograms"]}
ms = lambda v: f"{int(v) / 1e6:.2f} ms"
a = r["accounting"]
msgs = max(1, int(a.get("acked", 0)))
print(f"| {t} | {n} | {rss_kb / 1024:.0f} | {rss_kb / n:.1f} | {(user + sys_s) * 1e6 / msgs:.0f} | "
      f"{ms(h['connect']['p50'])} / {ms(h['connect']['p99'])} | "
      f"{ms(h['publish_ack']['p50'])} / {ms(h['publish_ack']['p99'])} | {a.get('acked', 0)} |")
PY
done
