#!/usr/bin/env python3
"""The busiest second of a report's accepted-connections series, per second (the bench scripts' connects/s).
Usage: scripts/peak-accept-rate.py REPORT.json   (from `fleetstorm report R.pb --format json`)"""
import json
import sys

r = json.load(open(sys.argv[1]))
bin_s = int(r["series"]["bin_ns"]) / 1e9
acc = [int(v) for s in r["series"]["series"] if s["name"] == "accepted" for v in s.get("values", [])]
w = max(1, round(1 / bin_s))
print(f"{max((sum(acc[i:i+w]) for i in range(max(1, len(acc)-w+1))), default=0) / (w*bin_s):,.0f}")
