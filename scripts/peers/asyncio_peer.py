#!/usr/bin/env python3
"""A minimal MQTT 3.1.1 load client on Python's asyncio: the "Python asyncio peer" that scripts/bench-peers.sh
compares FleetStorm with. One event loop, one coroutine per device, the standard library only.

  asyncio_peer.py storm HOST PORT N WINDOW     N devices connect, at most WINDOW CONNECTs unanswered at once;
                                                prints {"connected": n, "seconds": time until the last CONNACK}
  asyncio_peer.py qos1 HOST PORT N SECONDS     N devices, each with one QoS 1 PUBLISH of 256 B in flight (closed
                                                loop) for SECONDS; prints {"acked": n, "seconds": s, "cpu": user+sys, "user": ...}
  asyncio_peer.py idle HOST PORT N SECONDS     N devices connect and stay idle for SECONDS; prints {"connected": n,
                                                "rss_kib_before": ..., "rss_kib_connected": ...}
"""
import asyncio
import json
import os
import resource
import struct
import sys
import time


def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id, keep_alive=60):
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02" + struct.pack(">H", keep_alive) + struct.pack(">H", len(cid)) + cid
    return b"\x10" + remaining_length(len(body)) + body


def publish_packet(topic, packet_id, payload):
    t = topic.encode()
    body = struct.pack(">H", len(t)) + t + struct.pack(">H", packet_id) + payload
    return b"\x32" + remaining_length(len(body)) + body


async def read_packet(reader):
    """(type nibble, body) of the next packet."""
    first = await reader.readexactly(1)
    length, shift = 0, 0
    while True:
        b = (await reader.readexactly(1))[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first[0] >> 4, await reader.readexactly(length)


async def open_device(host, port, i):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(connect_packet(f"py-{i:05d}"))
    kind, body = await read_packet(reader)
    if kind != 2 or body[1] != 0:
        raise ConnectionError(f"CONNACK {body.hex()}")
    return reader, writer


def rss_kib():
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def storm(host, port, n, window):
    gate = asyncio.Semaphore(window)
    links = []
    last = 0.0
    start = time.monotonic()

    async def one(i):
        nonlocal last
        async with gate:
            try:
                links.append(await open_device(host, port, i))
                last = time.monotonic()
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                pass

    await asyncio.gather(*(one(i) for i in range(n)))
    print(json.dumps({"connected": len(links), "seconds": round(last - start, 3)}))
    for _, w in links:
        w.close()


async def qos1(host, port, n, seconds):
    links = await asyncio.gather(*(open_device(host, port, i) for i in range(n)))
    payload = b"x" * 256
    acked = 0
    deadline = time.monotonic() + seconds
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()

    async def loop(i, reader, writer):
        nonlocal acked
        packet_id, seq = 1, 0
        while time.monotonic() < deadline:
            seq += 1
            writer.write(publish_packet(f"devices/py-{i:05d}/messages/events/%24.mid={seq}", packet_id, payload))
            while True:
                kind, _ = await read_packet(reader)
                if kind == 4:
                    break
            acked += 1
            packet_id = packet_id % 65535 + 1

    await asyncio.gather(*(loop(i, r, w) for i, (r, w) in enumerate(links)))
    elapsed = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    user = cpu1.ru_utime - cpu0.ru_utime
    cpu = user + (cpu1.ru_stime - cpu0.ru_stime)
    print(json.dumps({"acked": acked, "seconds": round(elapsed, 3), "cpu": round(cpu, 3), "user": round(user, 3)}))


async def idle(host, port, n, seconds):
    before = rss_kib()
    gate = asyncio.Semaphore(100)
    links = []

    async def one(i):
        async with gate:
            links.append(await open_device(host, port, i))

    await asyncio.gather(*(one(i) for i in range(n)))
    await asyncio.sleep(seconds)
    print(json.dumps({"connected": len(links), "rss_kib_before": before, "rss_kib_connected": rss_kib()}))


def main():
    mode, host, port, n, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = {"storm": lambda: storm(host, port, n, int(extra)), "qos1": lambda: qos1(host, port, n, extra),
            "idle": lambda: idle(host, port, n, extra)}[mode]
    asyncio.run(work())


main()
