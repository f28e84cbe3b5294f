#!/usr/bin/env bash
# The FleetSim-vs-real sweep (issue 26): COUNT scenarios generated from FIRST_SEED on (scripts/gen-scenarios.py:
# random SDK cohorts and curves, tiers, QoS, every hub fault kind with fractions and overlaps), each run over real
# sockets and in FleetSim by scripts/sim-vs-real.sh and compared per storm and per run. Prints one line per scenario
# (its worst metric and how far apart) and a summary; the full tables go to OUTDIR (default: a temporary folder).
# Real runs that were not "kept up" are left out, never counted.
# Usage: scripts/differential.sh [FIRST_SEED] [COUNT] [OUTDIR]     (default 1 30)
set -euo pipefail
cd "$(dirname "$0")/.."
first="${1:-1}"
count="${2:-30}"
dir="${3:-$(mktemp -d)}"
mkdir -p "$dir"
python3 scripts/gen-scenarios.py "$first" "$count" "$dir" >/dev/null
echo "| scenario | devices | faults | verdict | worst metric | apart |"
echo "|---|---|---|---|---|---|"
agree=0; differ=0; skipped=0
for seed in $(seq "$first" $((first + count - 1))); do
  profile="$dir/generated-$seed.yaml"
  log="$dir/generated-$seed.txt"
  TOLERANCE="${TOLERANCE:-0.15}" scripts/sim-vs-real.sh "$profile" >"$log" 2>&1 && rc=0 || rc=$?
  devices=$(awk '/^  devices:/ {print $2; exit}' "$profile")
  faults=$(grep -o 'kind: [a-z-]*' "$profile" | awk '{print $2}' | paste -sd+ -)
  if grep -q "not compared" "$log"; then
    skipped=$((skipped + 1)); verdict="generator limited: not compared"; worst="—"; apart="—"
  elif line=$(grep -m1 '^worst:' "$log"); then
    worst=$(sed -E 's/^worst: (.*) \(([0-9.]+) % apart.*/\1/' <<<"$line")
    apart=$(sed -E 's/^worst: .* \(([0-9.]+) % apart.*/\1 %/' <<<"$line")
    if [ "$rc" -eq 0 ]; then agree=$((agree + 1)); verdict="agree"; else differ=$((differ + 1)); verdict="DIFFER"; fi
  else
    differ=$((differ + 1)); verdict="DIFFER"; worst="$(grep -m1 -E 'storms|error' "$log" || echo '?')"; apart="—"
  fi
  echo "| $seed | $devices | $faults | $verdict | $worst | $apart |"
done
echo
echo "$agree agree within ${TOLERANCE:-0.15}, $differ differ, $skipped not compared (generator limited); tables in $dir"
