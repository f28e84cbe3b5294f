#!/usr/bin/env bash
# Fleet-scale benchmark: release `fleetstorm run` against the embedded hub at several fleet sizes.
# Prints a Markdown table (wall time, peak RSS, connect and publish→ack percentiles) for README.
# Usage: scripts/bench-fleet.sh [SIZES...]   (default: 1000 5000 9000; the embedded hub needs 2 descriptors per device)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 9000)
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
swift build -c release --product fleetstorm >/dev/null
bin="$(swift build -c release --show-bin-path)/fleetstorm"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "| devices | messages | wall s | peak RSS MiB | RSS/device KiB | connect p50 / p99 | publish→ack p50 / p99 | acked |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  /usr/bin/time -f "%e %M" -o "$out/time" "$bin" run profiles/quickstart.yaml --devices "$n" \
    --set fleet.ramp_rate=2000 --set telemetry.messages=10 --set telemetry.interval=1s \
    --quiet --output "$out/r.pb" >/dev/null
  read -r wall rss_kb < "$out/time"
  "$bin" report "$out/r.pb" --format json > "$out/r.json"
  python3 - "$n" "$wall" "$rss_kb" "$out/r.json" <<'PY'
import json, sys
n, wall, rss_kb, path = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
h = {x["name"]: x for x in r["histograms"]}
ms = lambda v: f"{int(v) / 1e6:.2f} ms"
a = r["accounting"]
print(f"| {n} | {a.get('generated', 0)} | {wall:.1f} | {rss_kb / 1024:.0f} | {rss_kb / n:.1f} | "
      f"{ms(h['connect']['p50'])} / {ms(h['connect']['p99'])} | "
      f"{ms(h['publish_ack']['p50'])} / {ms(h['publish_ack']['p99'])} | {a.get('acked', 0)} |")
PY
done
