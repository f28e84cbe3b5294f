#!/usr/bin/env python3
"""Records the AMQP fixtures FleetAMQPTests reads: bytes written by Qpid Proton (Apache's AMQP 1.0 implementation),
not by us.

  python3 scripts/record-amqp-fixtures.py Tests/FleetAMQPTests/Fixtures

1. values.json: proton.Data's encoding of one value of each AMQP type, by name (the test knows the value each name
   stands for and decodes the hex into it).
2. session-client.bin / session-server.bin: both directions of a real session, a Proton client against Proton's
   example broker (Debian libqpid-proton11-dev-examples) through a recording proxy: SASL ANONYMOUS, open, begin,
   a sender link that sends two messages (one with a data body, message properties and application properties,
   one with an amqp-value body) and gets them accepted, a receiver link that takes both back and accepts them,
   then detach, end and close.
Needs python-qpid-proton (PyPI or Debian python3-qpid-proton) and the example broker's broker.py.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import proton
from proton import Data, Message, symbol, ulong, ubyte, ushort, uint, byte, short, int32, char, timestamp, float32
from proton import Array, Described, UNDESCRIBED, decimal32, decimal64, decimal128
from proton.handlers import MessagingHandler
from proton.reactor import Container

BROKER = os.environ.get("PROTON_BROKER", "/usr/share/proton/examples/python/broker.py")


def encoded(put):
    d = Data()
    put(d)
    return d.encode().hex()


def values():
    out = {}
    out["null"] = encoded(lambda d: d.put_null())
    out["true"] = encoded(lambda d: d.put_bool(True))
    out["false"] = encoded(lambda d: d.put_bool(False))
    out["ubyte-200"] = encoded(lambda d: d.put_ubyte(ubyte(200)))
    out["ushort-60000"] = encoded(lambda d: d.put_ushort(ushort(60000)))
    out["uint-0"] = encoded(lambda d: d.put_uint(uint(0)))
    out["uint-7"] = encoded(lambda d: d.put_uint(uint(7)))
    out["uint-70000"] = encoded(lambda d: d.put_uint(uint(70000)))
    out["ulong-0"] = encoded(lambda d: d.put_ulong(ulong(0)))
    out["ulong-9"] = encoded(lambda d: d.put_ulong(ulong(9)))
    out["ulong-big"] = encoded(lambda d: d.put_ulong(ulong(2**40 + 3)))
    out["byte--5"] = encoded(lambda d: d.put_byte(byte(-5)))
    out["short--300"] = encoded(lambda d: d.put_short(short(-300)))
    out["int--2"] = encoded(lambda d: d.put_int(int32(-2)))
    out["int-100000"] = encoded(lambda d: d.put_int(int32(100000)))
    out["long--3"] = encoded(lambda d: d.put_long(-3))
    out["long-big"] = encoded(lambda d: d.put_long(-(2**40)))
    out["float-1.5"] = encoded(lambda d: d.put_float(float32(1.5)))
    out["double-21.7"] = encoded(lambda d: d.put_double(21.7))
    out["char-euro"] = encoded(lambda d: d.put_char(char("\u20ac")))
    out["timestamp"] = encoded(lambda d: d.put_timestamp(timestamp(1796540400000)))
    out["uuid"] = encoded(lambda d: d.put_uuid(uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")))
    out["binary-short"] = encoded(lambda d: d.put_binary(b"\x00\x01\xff"))
    out["binary-300"] = encoded(lambda d: d.put_binary(bytes(range(256)) + bytes(44)))
    out["string-short"] = encoded(lambda d: d.put_string("dev-17 °C"))
    out["string-300"] = encoded(lambda d: d.put_string("x" * 300))
    out["symbol"] = encoded(lambda d: d.put_symbol(symbol("amqp:not-found")))
    out["decimal32"] = encoded(lambda d: d.put_decimal32(decimal32(0x01020304)))
    out["decimal64"] = encoded(lambda d: d.put_decimal64(decimal64(0x0102030405060708)))
    out["decimal128"] = encoded(lambda d: d.put_decimal128(decimal128(bytes(range(16)))))
    out["list-empty"] = encoded(lambda d: d.put_object([]))
    out["list-mixed"] = encoded(lambda d: d.put_object([uint(1), "two", symbol("three"), None, True]))
    out["map"] = encoded(lambda d: d.put_object({symbol("x-opt-lock-token"): uuid.UUID(int=1), "n": int32(3)}))
    out["array-symbols"] = encoded(lambda d: d.put_object(Array(UNDESCRIBED, Data.SYMBOL, symbol("ANONYMOUS"),
                                                                symbol("PLAIN"))))
    out["array-ints"] = encoded(lambda d: d.put_object(Array(UNDESCRIBED, Data.INT, int32(1), int32(-1),
                                                             int32(100000))))
    out["described-list"] = encoded(lambda d: d.put_object(Described(ulong(0x24), [])))
    out["described-symbolic"] = encoded(lambda d: d.put_object(Described(symbol("com.example:thing"), "v")))
    out["nested"] = encoded(lambda d: d.put_object({"a": [uint(1), {"b": [symbol("c")]}]}))
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def proxy(listen_port, upstream_port, client_log, server_log, done):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(1)
    conn, _ = srv.accept()
    up = socket.create_connection(("127.0.0.1", upstream_port))

    def pump(src, dst, log):
        while True:
            try:
                chunk = src.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            log.extend(chunk)
            dst.sendall(chunk)

    a = threading.Thread(target=pump, args=(conn, up, client_log))
    b = threading.Thread(target=pump, args=(up, conn, server_log))
    a.start()
    b.start()
    a.join()
    b.join()
    conn.close()
    up.close()
    srv.close()
    done.set()


class Client(MessagingHandler):
    def __init__(self, url):
        super().__init__()
        self.url = url
        self.accepted = 0
        self.received = 0

    def on_start(self, event):
        conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS", container_id="fixture-client")
        self.sender = event.container.create_sender(conn, "devices/dev-17/messages/events", name="telemetry")

    def on_sendable(self, event):
        if event.sender.credit and not getattr(self, "sent", False):
            self.sent = True
            first = Message(
                id="msg-1", correlation_id="corr-1", content_type="application/json", content_encoding="utf-8",
                properties={"temperature-alert": "true", "iothub-creation-time-utc": "2026-12-06T07:00:00Z"},
                body=b'{"deviceId":"dev-17","seq":42,"temperature":21.7}', inferred=True)
            second = Message(id=ulong(2), body="hello from proton")
            event.sender.send(first)
            event.sender.send(second)

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == 2:
            event.sender.close()
            self.receiver = event.container.create_receiver(event.connection, "devices/dev-17/messages/events",
                                                            name="c2d")

    def on_message(self, event):
        self.received += 1
        if self.received == 2:
            self.receiver.close()
            event.connection.close()


def session(out_dir):
    broker_port, proxy_port = free_port(), free_port()
    broker = subprocess.Popen([sys.executable, BROKER, "-a", f"127.0.0.1:{broker_port}"])
    try:
        wait_port(broker_port)
        client_log, server_log, done = bytearray(), bytearray(), threading.Event()
        t = threading.Thread(target=proxy, args=(proxy_port, broker_port, client_log, server_log, done))
        t.start()
        Container(Client(f"amqp://127.0.0.1:{proxy_port}")).run()
        done.wait(10)
        with open(os.path.join(out_dir, "session-client.bin"), "wb") as f:
            f.write(client_log)
        with open(os.path.join(out_dir, "session-server.bin"), "wb") as f:
            f.write(server_log)
        print(f"session: client {len(client_log)} bytes, server {len(server_log)} bytes, proton {proton.VERSION}")
    finally:
        broker.terminate()
        broker.wait()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "Tests/FleetAMQPTests/Fixtures"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "values.json"), "w") as f:
        json.dump({"proton": ".".join(map(str, proton.VERSION)), "values": values()}, f, indent=1, sort_keys=True)
        f.write("\n")
    session(out_dir)


if __name__ == "__main__":
    main()
