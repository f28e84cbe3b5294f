#!/usr/bin/env bash
# FleetStorm beside other load clients against one broker we did not write (mosquitto, a fresh one per measurement):
# the Python asyncio peer (scripts/peers/asyncio_peer.py, standard library only) always, and the Go mqtt-benchmark
# when it is on PATH. Interleaved over ROUNDS rounds; prints medians and FleetStorm's ratio to the best peer as
# Markdown for README. Bounded: every run has its own duration or size.
#   storm 10k / 19k   time until every client has its CONNACK, and SYNs the kernel dropped (ListenOverflows);
#                     FleetStorm as one process (one device loop) and as two (`run --processes 2`, merged)
#   qos1              100 clients × 1 QoS 1 message of 256 B in flight, 15 s: messages per second, the client's CPU
#                     per message (user + sys) and its user-space share
#   idle              the RSS an idle connection adds to the client (at 10,000), and its whole RSS per connection
# Usage: scripts/bench-peers.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
command -v mosquitto >/dev/null || { echo "mosquitto not installed (apt-get install mosquitto)" >&2; exit 1; }
. scripts/bench-common.sh
peer="python3 scripts/peers/asyncio_peer.py"
go_peer=$(command -v mqtt-benchmark || true)

broker() {  # a fresh mosquitto on a free port; sets port and hub_pid
  port=$((20000 + RANDOM % 10000))
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\nmax_queued_messages 10000\n' "$port" \
    >"$out/m.conf"
  mosquitto -c "$out/m.conf" >/dev/null 2>&1 &
  hub_pid=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done
}
stop_broker() { kill "$hub_pid" 2>/dev/null; wait "$hub_pid" 2>/dev/null || true; hub_pid=""; }
overflows() { awk '/^TcpExt:/ {if (!h) {for (i=1;i<=NF;i++) n[i]=$i; h=1} else {for (i=1;i<=NF;i++) if (n[i]=="ListenOverflows") print $i}}' /proc/net/netstat; }
row() { echo "$*" >>"$out/rows"; echo "$*" >&2; }  # each measurement on stderr as it is taken

fleet_storm() {  # fleet_storm N [ARGS...]: seconds until all N connected (from the report's accepted series)
  local n=$1
  shift
  rm -f "$out/s.pb"
  "$bin" run profiles/connect-storm.yaml --hub "mqtt://127.0.0.1:$port" --devices "$n" --duration 8s --bin 10ms \
    --quiet --output "$out/s.pb" "$@" >/dev/null 2>&1 || true
  [ -f "$out/s.pb" ] || { echo nan; return; }
  "$bin" report "$out/s.pb" --format json | python3 -c '
import json, sys
r, n = json.load(sys.stdin), int(sys.argv[1])
bin_s = int(r["series"]["bin_ns"]) / 1e9
acc = [int(v) for s in r["series"]["series"] if s["name"] == "accepted" for v in s.get("values", [])]
total = 0
for i, v in enumerate(acc):
    total += v
    if total >= n:
        print(f"{(i + 1) * bin_s:.2f}"); break
else:
    print("nan")' "$n"
}

for k in $(seq "$rounds"); do
  for n in 10000 19000; do
    broker; before=$(overflows)
    t=$(fleet_storm "$n"); row "storm$n fleetstorm $t $(( $(overflows) - before ))"; stop_broker
    broker; before=$(overflows)
    t=$(fleet_storm "$n" --processes 2); row "storm$n fleetstorm-2p $t $(( $(overflows) - before ))"; stop_broker
    broker; before=$(overflows)
    t=$($peer storm 127.0.0.1 "$port" "$n" 100 | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["seconds"] if r["connected"] == int(sys.argv[1]) else "nan")' "$n")
    row "storm$n asyncio $t $(( $(overflows) - before ))"; stop_broker
    if [ -n "$go_peer" ]; then
      broker; before=$(overflows); start=$(date +%s.%N)
      "$go_peer" --broker "tcp://127.0.0.1:$port" --clients "$n" --count 1 --qos 0 >/dev/null 2>&1 || true
      row "storm$n mqtt-benchmark $(python3 -c "import time; print(f'{time.time() - $start:.2f}')") $(( $(overflows) - before ))"
      stop_broker
    fi
  done
  broker
  /usr/bin/time -f "%U %S" -o "$out/cpu" "$bin" run profiles/quickstart.yaml --hub "mqtt://127.0.0.1:$port" \
    --devices 100 --duration 15s --set telemetry.interval=0 --set telemetry.max_inflight=1 \
    --set telemetry.payload_bytes=256 --set telemetry.messages=100000000 --set telemetry.drain_timeout=1s \
    --set fleet.ramp_rate=0 --quiet --output "$out/q.pb" >/dev/null 2>&1 || true
  read -r user sys <"$out/cpu"
  acked=$("$bin" report "$out/q.pb" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["accounting"]["acked"])')
  row "qos1 fleetstorm $(python3 -c "a=$acked; print(f'{a/15:.0f} {($user+$sys)/a*1e6:.2f} {$user/a*1e6:.2f}')")"
  stop_broker
  broker
  row "$($peer qos1 127.0.0.1 "$port" 100 15 | python3 -c '
import json, sys
r = json.load(sys.stdin)
a, s, c, u = r["acked"], r["seconds"], r["cpu"], r["user"]
print(f"qos1 asyncio {a / s:.0f} {c / a * 1e6:.2f} {u / a * 1e6:.2f}")')"
  stop_broker
  # Idle memory: the RSS a connection adds (RSS with 10,000 connected minus with 200, per connection), and the whole
  # process's RSS per connection at 10,000.
  for n in 200 10000; do
    broker
    "$bin" run profiles/connect-storm.yaml --hub "mqtt://127.0.0.1:$port" --devices "$n" --duration 25s --quiet \
      --output "$out/i.pb" >/dev/null 2>&1 &
    pid=$!; sleep 15; eval "rss$n=\$(rss_kib \"\$pid\")"; wait "$pid" || true
    stop_broker
  done
  row "idle fleetstorm $(python3 -c "print(f'{($rss10000 - $rss200) / 9800:.2f} {$rss10000 / 10000:.2f}')")"
  broker
  row "$($peer idle 127.0.0.1 "$port" 10000 3 | python3 -c '
import json, sys
r = json.load(sys.stdin)
rss, before, n = r["rss_kib_connected"], r["rss_kib_before"], max(r["connected"], 1)
print(f"idle asyncio {(rss - before) / n:.2f} {rss / n:.2f}")')"
  stop_broker
  echo "round $k done" >&2
done

echo "| work (medians of the rounds; mosquitto 2.0 as the broker) | FleetStorm | Python asyncio peer | mqtt-benchmark (Go) | FleetStorm vs best peer |"
echo "|---|---|---|---|---|"
python3 - "$out/rows" <<'PY'
import math, statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
def med(kind, tool, i, of=statistics.median):
    xs = [float(r[i]) for r in rows if r[0] == kind and r[1] == tool and not math.isnan(float(r[i]))]
    return of(xs) if xs else None
def cell(v, fmt):
    return "not run" if v is None else fmt(v)
tools = ["fleetstorm", "asyncio", "mqtt-benchmark"]
for n in ("10000", "19000"):
    t = {x: med("storm" + n, x, 2) for x in tools}
    d = {x: med("storm" + n, x, 3, max) for x in tools}
    peers = [t[x] for x in tools[1:] if t[x] is not None]
    ratio = f"{min(peers) / t['fleetstorm']:.1f}× faster" if peers and t["fleetstorm"] else "—"
    print(f"| {int(n):,}-client connect storm: time to all connected (SYNs dropped, most in one round) | "
          + " | ".join(cell(t[x], lambda v, x=x: f"{v:.2f} s ({d[x]:.0f})") for x in tools) + f" | {ratio} |")
    t2, d2 = med("storm" + n, "fleetstorm-2p", 2), med("storm" + n, "fleetstorm-2p", 3, max)
    ratio2 = f"{min(peers) / t2:.1f}× faster" if peers and t2 else "—"
    print(f"| the same, FleetStorm as 2 processes (`run --processes 2`) | "
          + cell(t2, lambda v: f"{v:.2f} s ({d2:.0f})") + " | " + " | ".join(cell(t[x], lambda v: "as above") for x in tools[1:])
          + f" | {ratio2} |")
q = {x: (med("qos1", x, 2), med("qos1", x, 3), med("qos1", x, 4)) for x in tools}
best = [q[x][0] for x in tools[1:] if q[x][0] is not None]
print("| QoS 1 closed loop, 100 clients × 1 in flight, 256 B: messages per second | "
      + " | ".join(cell(q[x][0], lambda v: f"{v:,.0f}") for x in tools)
      + (f" | {q['fleetstorm'][0] / max(best):.1f}× |" if best else " | — |"))
print("| the same: client CPU per message (of which user space) | "
      + " | ".join(cell(q[x][1], lambda v, x=x: f"{v:.2f} µs ({q[x][2]:.2f} µs)") for x in tools)
      + (f" | {min(q[x][1] for x in tools[1:] if q[x][1]) / q['fleetstorm'][1]:.1f}× less |" if best else " | — |"))
i = {x: (med("idle", x, 2), med("idle", x, 3)) for x in tools}
peers = [i[x][0] for x in tools[1:] if i[x][0] is not None]
print("| memory an idle connection adds at 10,000 (whole process per connection) | "
      + " | ".join(cell(i[x][0], lambda v, x=x: f"{v:.2f} KiB ({i[x][1]:.1f} KiB)") for x in tools)
      + (f" | {min(peers) / i['fleetstorm'][0]:.1f}× less |" if peers else " | — |"))
PY
