#!/usr/bin/env python3
"""An X.509 IoT Hub device no FleetStorm code wrote: Qpid Proton over AMQPS presenting a client certificate, with no
SASL layer and no CBS put-token (reference §11.1: with X.509 client certificates there is no CBS step); telemetry on
an unsettled sender link at amqps://{hub}/devices/{id}/messages/events.

  amqp_x509_device.py PORT HUB_HOST DEVICE_ID CERT_PEM KEY_PEM CA_PEM MESSAGES
      -> prints one JSON line: {"accepted": A, "link_error": "amqp:…" or null}
"""
import json
import sys

from proton import Message, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Device(MessagingHandler):
    def __init__(self, port, hub_host, device_id, cert, key, ca, messages):
        super().__init__(auto_accept=False)
        self.port, self.hub_host, self.device_id = port, hub_host, device_id
        self.cert, self.key, self.ca, self.messages = cert, key, ca, messages
        self.result = {"accepted": 0, "link_error": None}
        self.sent = 0

    def on_start(self, event):
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_credentials(self.cert, self.key, None)
        domain.set_trusted_ca_db(self.ca)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
        self.conn = event.container.connect(f"amqps://localhost:{self.port}", ssl_domain=domain, sasl_enabled=False)
        address = f"amqps://{self.hub_host}/devices/{self.device_id}/messages/events"
        self.telemetry = event.container.create_sender(self.conn, address, name="telemetry")
        self.deadline = event.container.schedule(15, self)

    def on_timer_task(self, event):
        self.finish()

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.messages:
            self.sent += 1
            body = json.dumps({"deviceId": self.device_id, "seq": self.sent}).encode()
            event.sender.send(Message(id=f"m-{self.sent}", body=body, content_type="application/json"))

    def on_accepted(self, event):
        self.result["accepted"] += 1
        if self.result["accepted"] == self.messages:
            self.finish()

    def on_link_error(self, event):
        condition = event.link.remote_condition
        self.result["link_error"] = condition.name if condition else "closed"
        self.finish()

    def on_transport_error(self, event):
        condition = event.transport.condition
        self.result["link_error"] = self.result["link_error"] or (condition.name if condition else "transport")
        self.finish()

    def finish(self):
        self.deadline.cancel()
        self.conn.close()


def main():
    port, hub_host, device_id, cert, key, ca, messages = sys.argv[1:8]
    device = Device(int(port), hub_host, device_id, cert, key, ca, int(messages))
    Container(device).run()
    print(json.dumps(device.result))


if __name__ == "__main__":
    main()
