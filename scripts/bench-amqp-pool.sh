#!/usr/bin/env bash
# What a pooled AMQP device costs (reference §11.1: .NET carries up to 995 devices on one connection): fleets of
# growing size, 995 devices per connection, 3 QoS 1 messages each 10 s apart, against a standalone release hub
# process, so the numbers are the devices' process only. Prints a Markdown table for README: peak RSS, the memory each
# further device adds (the slope between two sizes, so the process's fixed cost drops out), CPU per message.
# Usage: scripts/bench-amqp-pool.sh [SIZES...]   (default 1000 50000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 50000 100000)
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
swift build -c release --product fleetstorm >/dev/null
bin="$(swift build -c release --show-bin-path)/fleetstorm"
out="$(mktemp -d)"
hub_pid=""
trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$out"' EXIT
port=$(( 21000 + RANDOM % 8000 ))
"$bin" hub --anonymous --amqp-listen "127.0.0.1:$port" --duration 20m >/dev/null 2>&1 &
hub_pid=$!
sleep 2
echo "| devices | connections | peak RSS MiB | KiB per further device | CPU µs/message | connect p50 / p99 | publish→ack p50 / p99 | acked |"
echo "|---|---|---|---|---|---|---|---|"
prev_n=""
prev_kb=""
for n in "${sizes[@]}"; do
  /usr/bin/time -f "%e %M %U %S" -o "$out/time" "$bin" run profiles/quickstart.yaml --hub "amqp://127.0.0.1:$port" \
    --devices "$n" --set amqp.devices_per_connection=995 --set fleet.ramp_rate=10000 --set fleet.max_in_flight=2000 \
    --set telemetry.messages=3 --set telemetry.interval=10s --set telemetry.drain_timeout=60s \
    --quiet --output "$out/r.pb" >/dev/null
  read -r wall rss_kb user sys < "$out/time"
  "$bin" report "$out/r.pb" --format json > "$out/r.json"
  python3 - "$n" "$rss_kb" "$user" "$sys" "$out/r.json" "${prev_n:-0}" "${prev_kb:-0}" <<'PY'
import json, sys
n, rss_kb, user, sys_s, path, pn, pkb = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
r = json.load(open(path))
h = {x["name"]: x for x in r["histograms"]}
ms = lambda v: f"{int(v) / 1e6:.2f} ms"
acked = max(1, int(r["accounting"].get("acked", 0)))
slope = f"{(rss_kb - pkb) / (n - pn):.2f}" if pn else "—"
print(f"| {n} | {(n + 994) // 995} | {rss_kb / 1024:.0f} | {slope} | {(user + sys_s) * 1e6 / acked:.0f} | "
      f"{ms(h['connect']['p50'])} / {ms(h['connect']['p99'])} | {ms(h['publish_ack']['p50'])} / {ms(h['publish_ack']['p99'])} | {acked} |")
PY
  prev_n=$n
  prev_kb=$rss_kb
done
