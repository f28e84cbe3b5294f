#!/usr/bin/env python3
"""Drains what an AMQP broker holds for FleetStorm devices: one Qpid Proton receiver per address, every message
taken and accepted; stops once no message has come for a second. Prints one JSON line:
{"messages": N, "unique_ids": U (distinct address and message id pairs), "per_address": {ADDRESS: n, ...}, "properties": {NAME: VALUE, ...}}
(the application properties of the first message, to check they travel).

  amqp_drain.py amqp://127.0.0.1:PORT ADDRESS [ADDRESS ...]
"""
import json
import sys
import time

from proton.handlers import MessagingHandler
from proton.reactor import Container


class Drain(MessagingHandler):
    def __init__(self, url, addresses):
        super().__init__(prefetch=500)
        self.url = url
        self.addresses = addresses
        self.count = 0
        self.ids = set()
        self.per_address = {}
        self.properties = None
        self.last = time.time()

    def on_start(self, event):
        conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS")
        for address in self.addresses:
            event.container.create_receiver(conn, address)
        self.timer = event.container.schedule(0.25, self)

    def on_timer_task(self, event):
        if time.time() - self.last > 1.0:
            event.container.stop()
        else:
            event.container.schedule(0.25, self)

    def on_message(self, event):
        self.last = time.time()
        self.count += 1
        address = event.link.source.address
        if event.message.id is not None:
            self.ids.add((address, str(event.message.id)))
        self.per_address[address] = self.per_address.get(address, 0) + 1
        if self.properties is None and event.message.properties:
            self.properties = {str(k): str(v) for k, v in event.message.properties.items()}


def main():
    drain = Drain(sys.argv[1], sys.argv[2:])
    Container(drain).run()
    print(json.dumps({"messages": drain.count, "unique_ids": len(drain.ids), "per_address": drain.per_address,
                      "properties": drain.properties or {}}))


if __name__ == "__main__":
    main()
