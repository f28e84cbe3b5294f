#!/usr/bin/env bash
# FleetSim against real sockets on one profile: for each seed, the profile runs over real sockets (release
# `fleetstorm run`, embedded hub unless the profile names another) and in FleetSim (`fleetstorm simulate`), and the
# two reports are compared per storm (affected, recovered, 1 s peak attempt rate, t50, t90, attempts per device) and
# per run (connect attempts, refusals by reason, throttled connects and sends, acked, failed, pending). A real run
# whose generator verdict is not "kept up" measures the generator, not the hub: it is reported and not compared.
# Prints one Markdown table per seed (real, sim, sim/real) and the worst metric, and exits 1 when a metric differs by
# more than TOLERANCE (default 0.15) of the larger of the two (for counts, of at least 20: 2 against 4 is 10 % apart;
# for a storm's t50 and t90, less one 100 ms bin first: the storm analysis measures times in bins, so a difference
# within one bin is its resolution).
# FleetSim is told the network it models: SIM_RTT (default 200us) is the round trip of a device to the embedded hub
# over loopback (about half a connect's p50 here), not the model's default 1 ms; a refused send that closes the
# connection and its reconnect turn once per round trip, so the count of such loops follows the RTT.
# Usage: scripts/sim-vs-real.sh PROFILE [SEED ...]      (default: the profile's own seed)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/sim-vs-real.sh PROFILE [SEED ...]   e.g. scripts/sim-vs-real.sh profiles/hub-outage.yaml 1 2" >&2; exit 2; }
profile="$1"; shift
[ -f "$profile" ] || { echo "error: no profile at $profile" >&2; exit 2; }
source scripts/bench-common.sh
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=("")
status=0
for seed in "${seeds[@]}"; do
  args=(); [ -n "$seed" ] && args=(--seed "$seed")
  "$bin" run "$profile" "${args[@]}" --quiet --output "$out/real.pb" >"$out/real.txt" 2>&1 \
    || { echo "error: the real run failed: $(grep -m1 error "$out/real.txt")" >&2; exit 1; }
  "$bin" simulate "$profile" "${args[@]}" --set "simulation.rtt=${SIM_RTT:-200us}" --quiet --output "$out/sim.pb" >"$out/sim.txt" 2>&1 \
    || { echo "error: the simulation failed: $(grep -m1 error "$out/sim.txt")" >&2; exit 1; }
  "$bin" report "$out/real.pb" --format json >"$out/real.json"
  "$bin" report "$out/sim.pb" --format json >"$out/sim.json"
  python3 - "$out/real.json" "$out/sim.json" "${seed:-profile}" "${TOLERANCE:-0.15}" <<'PY' || status=1
import json, sys
real, sim = (json.load(open(p)) for p in sys.argv[1:3])
seed, tolerance = sys.argv[3], float(sys.argv[4])
if real["health"].get("generator_limited"):
    print(f"seed {seed}: the real run was GENERATOR LIMITED ({real['health'].get('cause', '')}): not compared")
    sys.exit(0)
num = lambda v: float(v or 0)
rows = []  # (label, real, sim, is_count)
def storms(r):
    return sorted((s for s in r.get("storms", []) if s["fault"] != "run"), key=lambda s: int(s["start_ns"]))
rs, ss = storms(real), storms(sim)
if len(rs) != len(ss):
    print(f"seed {seed}: {len(rs)} storms over real sockets, {len(ss)} in FleetSim")
    sys.exit(1)
for r, s in zip(rs, ss):
    name = r["fault"]
    rows.append((f"{name}: affected", num(r.get("affected")), num(s.get("affected")), True))
    rows.append((f"{name}: recovered", num(r.get("recovered")), num(s.get("recovered")), True))
    if num(r.get("affected")) == 0 and num(s.get("affected")) == 0:
        continue
    rows.append((f"{name}: peak attempts/s (1 s)", num(r.get("peak_attempt_rate_1s")), num(s.get("peak_attempt_rate_1s")), False))
    for t in ("t50", "t90"):
        rows.append((f"{name}: {t} s", num(r.get(t + "_ns")) / 1e9, num(s.get(t + "_ns")) / 1e9, False))
    rows.append((f"{name}: attempts per device", num(r.get("attempts_per_device")), num(s.get("attempts_per_device")), False))
def run_counts(r):
    h, c, a = r.get("hub", {}), r.get("connections", {}), r.get("accounting", {})
    out = {"connect attempts": c.get("attempts"), "acked": a.get("acked"), "failed": a.get("failed"),
           "pending": a.get("pending"), "throttled connects": h.get("throttled_connects"),
           "throttled sends": h.get("throttled_sends"), "shaped connects": h.get("shaped_connects"),
           "shaped sends": h.get("shaped_sends")}
    for reason, n in h.get("refused_by_reason", {}).items():
        out[f"refused: {reason}"] = n
    return out
rc, sc = run_counts(real), run_counts(sim)
for k in sorted(set(rc) | set(sc)):
    rows.append((k, num(rc.get(k)), num(sc.get(k)), True))
def off(real_v, sim_v, count, label=""):
    big = max(abs(real_v), abs(sim_v))
    if big == 0: return 0.0
    if label.endswith((" t50 s", " t90 s")):
        return max(0.0, abs(sim_v - real_v) - 0.1) / big
    return abs(sim_v - real_v) / (max(big, 20) if count else big)
print(f"seed {seed}: real run kept up\n")
print("| metric | real sockets | FleetSim | FleetSim / real |")
print("|---|---|---|---|")
worst = (0.0, "")
for label, r, s, count in rows:
    d = off(r, s, count, label)
    worst = max(worst, (d, label))
    fmt = (lambda v: f"{v:.0f}") if count else (lambda v: f"{v:.2f}")
    ratio = f"{s / r:.2f}" if r else ("—" if s == 0 else "∞")
    print(f"| {label} | {fmt(r)} | {fmt(s)} | {ratio} |")
print(f"\nworst: {worst[1] or 'none'} ({worst[0] * 100:.1f} % apart; tolerance {tolerance * 100:.0f} %)")
sys.exit(1 if worst[0] > tolerance else 0)
PY
done
exit "$status"
