#!/usr/bin/env python3
"""An IoT Hub device no FleetStorm code wrote: Qpid Proton (Apache's AMQP 1.0 implementation) with a SAS token signed
here (hmac/hashlib), as the Azure SDKs do over AMQP (reference §11): SASL ANONYMOUS, CBS put-token on $cbs, telemetry
on an unsettled sender link, C2D on a receiver link settled `accepted`.

  amqp_device.py URL HUB_HOST DEVICE_ID GROUP_KEY_B64 MESSAGES C2D_COUNT [CA_PEM]
      (amqps:// URLs verify the hub's certificate against CA_PEM and its name)
      -> prints one JSON line: {"cbs_status": S, "accepted": A, "rejected": R, "c2d": C, "c2d_properties": {...}}
A refused put-token (S != 200) ends the connection there.
"""
import json
import sys
import time
import uuid

from proton import Message, SSLDomain, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container

# The SAS token helpers of the MQTT test client next to this file (the same independent HMAC implementation).
from iothub_client import device_key, sas_token


def open_cbs(handler, container, url, ssl_domain=None):
    """Connects with SASL ANONYMOUS and attaches the CBS sender and receiver on $cbs (as the Azure SDKs do)."""
    handler.conn = container.connect(url, allowed_mechs="ANONYMOUS", ssl_domain=ssl_domain)
    handler.cbs_sender = container.create_sender(handler.conn, "$cbs", name="$cbs-sender")
    handler.cbs_receiver = container.create_receiver(handler.conn, "$cbs", name="$cbs-receiver")
    handler.deadline = container.schedule(20, handler)


def put_token(sender, hub_host, device_id, group_key, request_id):
    """The CBS put-token request with a SAS token signed here for the device (valid for an hour)."""
    audience = f"{hub_host}/devices/{device_id}"
    token = sas_token(audience, device_key(group_key, device_id), int(time.time()) + 3600)
    sender.send(Message(id=request_id, address="$cbs", reply_to="cbs", body=token, properties={
        "operation": "put-token", "type": "servicebus.windows.net:sastoken", "name": audience}))


class Device(MessagingHandler):
    def __init__(self, url, hub_host, device_id, group_key, messages, c2d, ca=None):
        super().__init__(auto_accept=False, prefetch=10)
        self.ca = ca
        self.url, self.hub_host, self.device_id = url, hub_host, device_id
        self.group_key, self.messages, self.c2d_wanted = group_key, messages, c2d
        self.result = {"cbs_status": None, "accepted": 0, "rejected": 0, "c2d": 0, "c2d_properties": {}}
        self.sent = 0
        self.request_id = str(uuid.uuid4())
        self.telemetry = None

    def on_start(self, event):
        domain = None
        if self.ca:
            domain = SSLDomain(SSLDomain.MODE_CLIENT)
            domain.set_trusted_ca_db(self.ca)
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
        open_cbs(self, event.container, self.url, domain)

    def on_timer_task(self, event):
        self.finish()

    def on_sendable(self, event):
        if event.sender == self.cbs_sender and self.result["cbs_status"] is None and not getattr(self, "put", False):
            self.put = True
            put_token(event.sender, self.hub_host, self.device_id, self.group_key, self.request_id)
        elif event.sender == self.telemetry:
            while event.sender.credit and self.sent < self.messages:
                self.sent += 1
                body = json.dumps({"deviceId": self.device_id, "seq": self.sent}).encode()
                event.sender.send(Message(id=f"m-{self.sent}", body=body, content_type="application/json",
                                          properties={"site": "plant-7"}, inferred=True))

    def on_message(self, event):
        if event.receiver == self.cbs_receiver:
            self.accept(event.delivery)
            if event.message.correlation_id != self.request_id:
                return
            self.result["cbs_status"] = int(event.message.properties.get("status-code", 0))
            if self.result["cbs_status"] != 200:
                return self.finish()
            base = f"amqps://{self.hub_host}/devices/{self.device_id}"
            self.telemetry = event.container.create_sender(self.conn, base + "/messages/events", name="telemetry")
            if self.c2d_wanted:
                event.container.create_receiver(self.conn, base + "/messages/devicebound", name="c2d")
        else:
            self.result["c2d"] += 1
            self.result["c2d_properties"] = {str(k): str(v) for k, v in (event.message.properties or {}).items()}
            self.accept(event.delivery)
            self.maybe_done()

    def on_accepted(self, event):
        if event.link == self.telemetry:  # not the put-token's own disposition
            self.result["accepted"] += 1
            self.maybe_done()

    def on_rejected(self, event):
        if event.link == self.telemetry:
            self.result["rejected"] += 1
            self.maybe_done()

    def maybe_done(self):
        if self.result["accepted"] + self.result["rejected"] >= self.messages and self.result["c2d"] >= self.c2d_wanted:
            self.finish()

    def finish(self):
        self.deadline.cancel()
        self.conn.close()


def main():
    url, hub_host, device_id, group_key, messages, c2d = sys.argv[1:7]
    ca = sys.argv[7] if len(sys.argv) > 7 else None
    device = Device(url, hub_host, device_id, group_key, int(messages), int(c2d), ca)
    Container(device).run()
    print(json.dumps(device.result))


if __name__ == "__main__":
    main()
