#!/usr/bin/env python3
"""Seeded scenario generator for the FleetSim-vs-real differential sweep (scripts/differential.sh).

Each scenario: 1-3 SDK cohorts (default curves, or a custom full-jitter / fixed one), with or without an IoT Hub
tier (S1 with 1-2 units, telemetry on either side of its D2C rate), QoS 0 or 1, keep-alive 30-60 s, and 1-3 faults
drawn from every hub fault kind with fractions, overlaps and gaps. Sizes that run over real sockets here in under a
minute (300-1,500 devices, 45-60 s). The same seed writes the same files.

Usage: scripts/gen-scenarios.py FIRST_SEED COUNT OUTDIR
"""
import os
import random
import sys

SDKS = ["azure-c", "azure-python", "azure-dotnet", "azure-java", "azure-node"]
WINDOWED = ["outage", "reject-auth", "blackhole", "slow-connack", "slow-puback", "throttle", "disable", "flap"]
INSTANT = ["drop", "expire-tokens"]


def fault(r: random.Random, at: int) -> str:
    kind = r.choice(INSTANT * 3 + WINDOWED)  # drops are the common case
    parts = [f"at: {at}s", f"kind: {kind}"]
    if r.random() < 0.35 and kind != "throttle":
        parts.append(f"fraction: {r.choice([0.1, 0.25, 0.5, 0.75])}")
    if kind in WINDOWED:
        parts.append(f"for: {r.choice([3, 5, 8, 12])}s")
    if kind in ("slow-connack", "slow-puback"):
        parts.append(f"delay: {r.choice([200, 500, 1500])}ms")
    if kind == "throttle":
        if r.random() < 0.7:
            parts.append(f"connect_rate: {r.choice([20, 50, 100, 200])}")
        else:
            parts.append(f"send_rate: {r.choice([50, 100, 300])}")
    if kind == "flap":
        parts.append("period: 2s")
        parts.append("down: 500ms")
    if kind == "outage" and r.random() < 0.3:
        parts.append("refuse: reset")
    return "  - {" + ", ".join(parts) + "}"


def scenario(seed: int) -> str:
    r = random.Random(seed)
    devices = r.choice([300, 600, 900, 1200, 1500])
    duration = r.choice([45, 60])
    interval = r.choice([1, 2, 5, 10])
    lines = [
        f"name: generated-{seed}",
        f"description: generated for the FleetSim-vs-real sweep (scripts/gen-scenarios.py, seed {seed})",
        f"seed: {seed}",
        f"duration: {duration}s",
        "hub:",
        "  url: embedded",
    ]
    if r.random() < 0.5:
        lines += ["  tier: S1", f"  units: {r.choice([1, 2])}"]
    lines += ["fleet:", f"  devices: {devices}", f"  ramp_rate: {r.choice([300, 500, 1000])}"]
    lines += ["mqtt:", f"  keep_alive: {r.choice([30, 45, 60])}s"]
    lines += [
        "telemetry:",
        f"  messages: {duration * 2 // interval}",
        f"  interval: {interval}s",
        f"  qos: {1 if r.random() < 0.8 else 0}",
    ]
    cohorts = r.sample(SDKS, r.choice([1, 2, 3]))
    lines.append("cohorts:")
    share = round(1 / len(cohorts), 4)
    for i, sdk in enumerate(cohorts):
        s = round(1 - share * (len(cohorts) - 1), 4) if i == len(cohorts) - 1 else share
        retry = ""
        if r.random() < 0.3:
            base = r.choice(["200ms", "500ms", "1s"])
            policy = r.choice(["full-jitter", "fixed"])
            cap = ", cap: 20s" if policy == "full-jitter" else ""
            retry = f", retry: {{policy: {policy}, base: {base}{cap}}}"
        lines.append(f"  - {{name: {sdk.split('-')[1]}, share: {s}, sdk: {sdk}{retry}}}")
    lines.append("faults:")
    at = r.choice([5, 8, 10])
    for _ in range(r.choice([1, 2, 3])):
        lines.append(fault(r, at))
        at += r.choice([0, 3, 10, 15])  # overlaps, near and far gaps
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    first, count, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(outdir, exist_ok=True)
    for seed in range(first, first + count):
        path = os.path.join(outdir, f"generated-{seed}.yaml")
        with open(path, "w") as f:
            f.write(scenario(seed))
        print(path)


if __name__ == "__main__":
    main()
