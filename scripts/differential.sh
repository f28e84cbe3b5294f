#!/usr/bin/env bash
# The FleetSim-vs-real sweep (issue 26): COUNT scenarios generated from FIRST_SEED on (scripts/gen-scenarios.py:
# random SDK cohorts and curves, tiers, QoS, every hub fault kind with fractions and overlaps), each run over real
# sockets and in FleetSim by scripts/sim-vs-real.sh and compared per storm and per run. Prints one line per scenario
# (its worst metric and how far apart) and per metric the median and worst (scripts/differential-summary.py); the
# full tables go to OUTDIR (default: a temporary folder).
# Real runs that were not "kept up" are left out, never counted.
# Usage: scripts/differential.sh [FIRST_SEED] [COUNT] [OUTDIR]     (default 1 30)
set -euo pipefail
cd "$(dirname "$0")/.."
first="${1:-1}"
count="${2:-30}"
dir="${3:-$(mktemp -d)}"
mkdir -p "$dir"
python3 scripts/gen-scenarios.py "$first" "$count" "$dir" >/dev/null
for seed in $(seq "$first" $((first + count - 1))); do
  TOLERANCE="${TOLERANCE:-0.15}" scripts/sim-vs-real.sh "$dir/generated-$seed.yaml" >"$dir/generated-$seed.txt" 2>&1 || true
done
python3 scripts/differential-summary.py "$dir" "${TOLERANCE:-0.15}"
echo "tables in $dir"
