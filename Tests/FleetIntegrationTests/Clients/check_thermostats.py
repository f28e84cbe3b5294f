#!/usr/bin/env python3
"""Reads what a thermostat fleet (profiles/thermostat-fleet.yaml) sent, with Python's own json, and checks every
variable of its templates: the device id and sequence against the topic, the time's format, the ranges of the random
values, the random walk's steps, the diagnostic blobs' size and counter, and each device's message ids in order.

  check_thermostats.py sample FILE      a `--sample` file of fleetstorm's hub (JSON lines)
  check_thermostats.py mosquitto FILE   `mosquitto_sub -v` output (one "TOPIC PAYLOAD" per line)

Prints one JSON line of counts; exits 1 with the first problem found.
"""
import datetime
import json
import sys
import urllib.parse


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def records(mode, path):
    """(device, mid, properties, body text, first-sample?) per message."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if mode == "sample":
                m = json.loads(line)
                yield m["device"], m["mid"], m["properties"], m["body"], m["sample"] == "first", n
            else:
                topic, _, payload = line.partition(" ")
                parts = topic.split("/")
                if len(parts) < 5 or parts[0] != "devices" or parts[2:4] != ["messages", "events"]:
                    fail(f"line {n}: not a telemetry topic: {topic[:80]}")
                bag = dict(urllib.parse.parse_qsl("/".join(parts[4:]), keep_blank_values=True))
                yield parts[1], int(bag["$.mid"]), bag, payload, True, n


def main():
    mode, path = sys.argv[1], sys.argv[2]
    counts = {"reading": 0, "diagnostics": 0}
    sequences = {}
    last_temperature = {}
    largest_step = 0.0
    for device, mid, properties, text, first, n in records(mode, path):
        body = json.loads(text)
        where = f"line {n} ({device} #{mid})"
        if properties.get("$.ct") != "application/json" or properties.get("$.ce") != "utf-8":
            fail(f"{where}: content type/encoding {properties}")
        if body["deviceId"] != device or body["seq"] != mid:
            fail(f"{where}: body says {body['deviceId']} #{body['seq']}")
        stamp = datetime.datetime.strptime(body["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        if stamp.year < 1970:
            fail(f"{where}: ts {body['ts']}")
        if body.get("kind") == "diagnostics":
            counts["diagnostics"] += 1
            if body["uptime_s"] != 3600 + 2 * (mid - 1):
                fail(f"{where}: uptime_s {body['uptime_s']}")
            if len(body["log"]) != 65000 or not body["log"].isalpha():
                fail(f"{where}: log of {len(body['log'])} characters")
        else:
            counts["reading"] += 1
            t = body["temperature"]
            if not (16 <= t <= 28) or round(t, 1) != t:
                fail(f"{where}: temperature {t}")
            if not (30 <= body["humidity"] <= 60) or not isinstance(body["humidity"], int):
                fail(f"{where}: humidity {body['humidity']}")
            if body["setpoint"] not in (20, 21, 22) or body["mode"] not in ("heat", "cool", "auto"):
                fail(f"{where}: setpoint {body['setpoint']} mode {body['mode']}")
            if first:
                previous = last_temperature.get(device)
                if previous is not None and previous[0] == mid - 1:
                    largest_step = max(largest_step, abs(t - previous[1]))
                last_temperature[device] = (mid, t)
        if first:
            sequences.setdefault(device, []).append(mid)
    for device, seqs in sequences.items():
        # The hub's sample keeps arrival order; a subscriber's broker may interleave QoS 0 and QoS 1 deliveries.
        if (seqs if mode == "sample" else sorted(seqs)) != list(range(1, len(seqs) + 1)):
            fail(f"{device}: message ids out of order or missing: {seqs[:20]}")
    print(json.dumps({"devices": len(sequences), "largest_step": round(largest_step, 2), **counts}))


main()
