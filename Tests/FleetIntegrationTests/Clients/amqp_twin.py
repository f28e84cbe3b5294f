#!/usr/bin/env python3
"""Device twin over AMQP, as the Azure SDKs do it (reference §11.2), from a client no FleetStorm code wrote: Qpid
Proton with a SAS token signed here, CBS put-token on $cbs, then a twin sender and a twin receiver both on
amqps://{hub}/devices/{id}/twin (link property com.microsoft:channel-correlation-id "twin:<uuid>"). Requests carry
the message annotation `operation` (and `resource`) and a correlation-id; answers carry the annotation `status`
(and `version`) and echo the correlation-id.

  amqp_twin.py URL HUB_HOST DEVICE_ID GROUP_KEY_B64
      -> prints one JSON line: {"cbs_status": S, "answers": [{"request": R, "status": N, "version": V, "body": B}]}
Requests: GET, PATCH /properties/reported {"temperature": 21.5}, GET, PUT /notifications/twin/properties/desired.
"""
import json
import sys
import uuid

from proton import Message, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container, LinkOption

# The CBS helpers of the device client next to this file.
from amqp_device import open_cbs, put_token


class ChannelCorrelation(LinkOption):
    def __init__(self, value):
        self.value = value

    def apply(self, link):
        link.properties = {symbol("com.microsoft:channel-correlation-id"): self.value}


REQUESTS = [
    ("get-1", {"operation": "GET"}, " "),
    ("patch-1", {"operation": "PATCH", "resource": "/properties/reported"}, b'{"temperature": 21.5}'),
    ("get-2", {"operation": "GET"}, " "),
    ("put-1", {"operation": "PUT", "resource": "/notifications/twin/properties/desired"}, " "),
]


class Twin(MessagingHandler):
    def __init__(self, url, hub_host, device_id, group_key):
        super().__init__(auto_accept=True)
        self.url, self.hub_host, self.device_id, self.group_key = url, hub_host, device_id, group_key
        self.result = {"cbs_status": None, "answers": []}
        self.request_id = str(uuid.uuid4())
        self.next = 0
        self.twin_sender = self.twin_receiver = None

    def on_start(self, event):
        open_cbs(self, event.container, self.url)

    def on_timer_task(self, event):
        self.finish()

    def on_sendable(self, event):
        if event.sender == self.cbs_sender and not getattr(self, "put", False):
            self.put = True
            put_token(event.sender, self.hub_host, self.device_id, self.group_key, self.request_id)
        elif event.sender == self.twin_sender and self.next == 0 and self.twin_receiver_open:
            self.send_next()

    def on_link_opened(self, event):
        if event.receiver and event.receiver == self.twin_receiver:
            self.twin_receiver_open = True
            if self.twin_sender.credit:
                self.send_next()

    def send_next(self):
        rid, annotations, body = REQUESTS[self.next]
        self.next += 1
        self.twin_sender.send(Message(correlation_id=rid, body=body,
                                      annotations={symbol(k): v for k, v in annotations.items()}))

    def on_message(self, event):
        if event.receiver == self.cbs_receiver:
            if event.message.correlation_id != self.request_id:
                return
            self.result["cbs_status"] = int(event.message.properties.get("status-code", 0))
            if self.result["cbs_status"] != 200:
                return self.finish()
            address = f"amqps://{self.hub_host}/devices/{self.device_id}/twin"
            channel = ChannelCorrelation(f"twin:{uuid.uuid4()}")
            self.twin_receiver_open = False
            self.twin_sender = event.container.create_sender(self.conn, address, name="twin-sender", options=channel)
            self.twin_receiver = event.container.create_receiver(self.conn, address, name="twin-receiver",
                                                                 options=channel)
        elif event.receiver == self.twin_receiver:
            annotations = {str(k): v for k, v in (event.message.annotations or {}).items()}
            body = event.message.body
            if isinstance(body, (bytes, memoryview)):
                body = bytes(body).decode()
            self.result["answers"].append({
                "request": str(event.message.correlation_id), "status": annotations.get("status"),
                "version": annotations.get("version"), "body": body})
            if self.next < len(REQUESTS):
                self.send_next()
            else:
                self.finish()

    def on_link_error(self, event):
        condition = event.link.remote_condition
        self.result["link_error"] = condition.name if condition else "closed"
        self.finish()

    def finish(self):
        self.deadline.cancel()
        self.conn.close()


def main():
    url, hub_host, device_id, group_key = sys.argv[1:5]
    twin = Twin(url, hub_host, device_id, group_key)
    Container(twin).run()
    print(json.dumps(twin.result))


if __name__ == "__main__":
    main()
