#!/usr/bin/env python3
"""Summarizes a FleetSim-vs-real sweep (scripts/differential.sh) from the tables scripts/sim-vs-real.sh wrote for each
generated scenario: one line per scenario (its worst metric and how far apart), then per metric the median and worst
difference over the scenarios compared.

How far apart: for counts, the difference over the larger of the two, counted as at least 20 (2 against 4 is 10 %
apart); for storm times (t50, t90), the difference less one 100 ms bin (the storm analysis measures times in bins,
so a difference within one bin is its resolution) over the larger; for rates and ratios, the difference over the
larger. The same rule as scripts/sim-vs-real.sh.

Usage: scripts/differential-summary.py DIR [TOLERANCE]
"""
import glob
import os
import re
import statistics
import sys

BIN = 0.1


def apart(label: str, real: float, sim: float, count: bool) -> float:
    big = max(abs(real), abs(sim))
    if big == 0:
        return 0.0
    if count:
        return abs(sim - real) / max(big, 20)
    if label.endswith(" t50 s") or label.endswith(" t90 s"):
        return max(0.0, abs(sim - real) - BIN) / big
    return abs(sim - real) / big


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    folder, tolerance = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.15
    per_metric: dict[str, list[float]] = {}
    rows, agree, differ, skipped = [], 0, 0, 0
    paths = sorted(glob.glob(os.path.join(folder, "generated-*.txt")), key=lambda p: int(re.findall(r"\d+", p)[-1]))
    for path in paths:
        seed = re.findall(r"\d+", os.path.basename(path))[-1]
        text = open(path).read()
        profile = open(path[:-4] + ".yaml").read()
        devices = re.search(r"^  devices: (\d+)", profile, re.M).group(1)
        faults = "+".join(re.findall(r"kind: ([a-z-]+)", profile))
        if "not compared" in text:
            skipped += 1
            rows.append(f"| {seed} | {devices} | {faults} | generator limited: not compared | — | — |")
            continue
        if "storms over real sockets" in text:
            differ += 1
            rows.append(f"| {seed} | {devices} | {faults} | DIFFER | {text.strip().splitlines()[-1]} | — |")
            continue
        worst = (0.0, "none")
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or cells[0] in ("metric", "---"):
                continue
            try:
                real, sim = float(cells[1]), float(cells[2])
            except ValueError:
                continue
            count = "." not in cells[1]
            d = apart(cells[0], real, sim, count)
            # A storm's metrics are named after its faults (`drop@5s: t90 s`): grouped by the metric alone.
            storm = "@" in cells[0]
            metric = "storm: " + cells[0].rsplit(": ", 1)[-1] if storm else cells[0]
            if not storm or real or sim or metric.endswith(("affected", "recovered")):
                per_metric.setdefault(metric, []).append(d)
            if d > worst[0]:
                worst = (d, cells[0])
        verdict = "agree" if worst[0] <= tolerance else "DIFFER"
        agree += verdict == "agree"
        differ += verdict == "DIFFER"
        rows.append(f"| {seed} | {devices} | {faults} | {verdict} | {worst[1]} | {worst[0] * 100:.1f} % |")
    print("| scenario | devices | faults | verdict | worst metric | apart |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{agree} agree within {tolerance * 100:.0f} %, {differ} differ, {skipped} not compared (generator limited)\n")
    print("| metric | scenarios | median apart | worst apart |")
    print("|---|---|---|---|")
    for metric in sorted(per_metric):
        values = per_metric[metric]
        print(f"| {metric} | {len(values)} | {statistics.median(values) * 100:.1f} % | {max(values) * 100:.1f} % |")


if __name__ == "__main__":
    main()
