#!/usr/bin/env python3
"""A device no FleetStorm code wrote: paho-mqtt with a SAS token computed here (hmac/hashlib), for the hub tests.

  iothub_client.py token  HUB_HOST DEVICE_ID GROUP_KEY_B64 EXPIRY        -> prints username and SAS token
  iothub_client.py paho   HOST PORT HUB_HOST DEVICE_ID GROUP_KEY_B64 N [CA_PEM]
  iothub_client.py paho-ws HOST PORT HUB_HOST DEVICE_ID GROUP_KEY_B64 N [CA_PEM]   (MQTT over WebSockets)
      -> publishes N QoS 1 messages (over TLS when CA_PEM is given), prints JSON
  iothub_client.py twin   HOST PORT HUB_HOST DEVICE_ID GROUP_KEY_B64 C2D_COUNT
      -> twin GET, reported PATCH, GET again; waits for C2D_COUNT cloud-to-device messages; prints JSON
  iothub_client.py twin-burst HOST PORT HUB_HOST DEVICE_ID GROUP_KEY_B64 GETS PATCHES SENDS
      -> GETS twin GETs and PATCHES reported PATCHes back to back, then SENDS QoS 1 messages; prints the twin
         answers' statuses, how many distinct requests were answered, and the messages acknowledged, as JSON
"""
import base64, hashlib, hmac, json, sys, time, urllib.parse


def device_key(group_key_b64, device_id):
    return base64.b64encode(hmac.new(base64.b64decode(group_key_b64), device_id.encode(), hashlib.sha256).digest()).decode()


def sas_token(resource_uri, key_b64, expiry):
    encoded = urllib.parse.quote(resource_uri, safe="")
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64), f"{encoded}\n{expiry}".encode(), hashlib.sha256).digest())
    return f"SharedAccessSignature sr={encoded}&sig={urllib.parse.quote(sig.decode(), safe='')}&se={expiry}"


def credentials(hub_host, device_id, group_key, expiry):
    username = f"{hub_host}/{device_id}/?api-version=2021-04-12&DeviceClientType=paho-test"
    return username, sas_token(f"{hub_host}/devices/{device_id}", device_key(group_key, device_id), expiry)


def start(client, host, port, result, seconds):
    """Connects, starts paho's loop and waits for the CONNACK (its code goes to result["connack"]); returns the
    deadline, `seconds` from now."""

    def on_connect(c, userdata, flags, reason_code, properties):
        result["connack"] = reason_code.value

    client.on_connect = on_connect
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    deadline = time.time() + seconds
    while result["connack"] is None and time.time() < deadline:
        time.sleep(0.01)
    return deadline


def paho(host, port, hub_host, device_id, group_key, count, ca=None, websockets=False):
    import paho.mqtt.client as mqtt

    result = {"connack": None, "acked": 0}
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=device_id,
        protocol=mqtt.MQTTv311,
        transport="websockets" if websockets else "tcp",
    )
    if websockets:
        # What the Azure Python SDK sets on paho for MQTT over WebSockets (subprotocol mqtt is paho's own).
        client.ws_set_options(path="/$iothub/websocket")
    username, token = credentials(hub_host, device_id, group_key, int(time.time()) + 3600)
    client.username_pw_set(username, token)
    if ca:
        client.tls_set(ca_certs=ca)

    start(client, host, port, result, 10)
    if result["connack"] == 0:
        infos = [client.publish(f"devices/{device_id}/messages/events/%24.mid={i + 1}", b"{}", qos=1) for i in range(count)]
        for info in infos:
            info.wait_for_publish(timeout=10)
            result["acked"] += 1 if info.is_published() else 0
        client.disconnect()
    client.loop_stop()
    print(json.dumps(result))


def twin(host, port, hub_host, device_id, group_key, c2d_count):
    import paho.mqtt.client as mqtt

    result = {"connack": None, "responses": [], "c2d": []}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    username, token = credentials(hub_host, device_id, group_key, int(time.time()) + 3600)
    client.username_pw_set(username, token)

    def on_message(c, userdata, msg):
        if msg.topic.startswith("$iothub/twin/res/"):
            result["responses"].append({"topic": msg.topic, "body": msg.payload.decode()})
        else:
            result["c2d"].append(msg.topic)

    client.on_message = on_message
    deadline = start(client, host, port, result, 10)
    if result["connack"] == 0:
        client.subscribe([("$iothub/twin/res/#", 0), (f"devices/{device_id}/messages/devicebound/#", 1)])
        time.sleep(0.2)
        client.publish("$iothub/twin/GET/?$rid=1", b"", qos=0)
        client.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", b'{"firmware":"2.1"}', qos=0)
        time.sleep(0.2)
        client.publish("$iothub/twin/GET/?$rid=3", b"", qos=0)
        while (len(result["responses"]) < 3 or len(result["c2d"]) < c2d_count) and time.time() < deadline:
            time.sleep(0.02)
        client.disconnect()
    client.loop_stop()
    print(json.dumps(result))


def twin_burst(host, port, hub_host, device_id, group_key, gets, patches, sends):
    import paho.mqtt.client as mqtt

    result = {"connack": None, "statuses": {}, "answered": 0, "acked": 0}
    answered = set()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    username, token = credentials(hub_host, device_id, group_key, int(time.time()) + 3600)
    client.username_pw_set(username, token)
    subscribed = []

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        subscribed.append(mid)

    def on_message(c, userdata, msg):
        # $iothub/twin/res/{status}/?$rid={rid}[&$version={v}]
        status, _, query = msg.topic[len("$iothub/twin/res/"):].partition("/?")
        rid = urllib.parse.parse_qs(query).get("$rid", [""])[0]
        result["statuses"][status] = result["statuses"].get(status, 0) + 1
        answered.add(rid)

    client.on_subscribe = on_subscribe
    client.on_message = on_message
    deadline = start(client, host, port, result, 20)
    if result["connack"] == 0:
        client.subscribe("$iothub/twin/res/#", 0)
        while not subscribed and time.time() < deadline:
            time.sleep(0.01)
        for i in range(gets):
            client.publish(f"$iothub/twin/GET/?$rid=g{i}", b"", qos=0)
        for i in range(patches):
            client.publish(f"$iothub/twin/PATCH/properties/reported/?$rid=p{i}", b'{"firmware":"2.1"}', qos=0)
        infos = [client.publish(f"devices/{device_id}/messages/events/%24.mid={i + 1}", b"{}", qos=1) for i in range(sends)]
        for info in infos:
            info.wait_for_publish(timeout=max(0.1, deadline - time.time()))
            result["acked"] += 1 if info.is_published() else 0
        while len(answered) < gets + patches and time.time() < deadline:
            time.sleep(0.02)
        result["answered"] = len(answered)
        client.disconnect()
    client.loop_stop()
    print(json.dumps(result))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "token":
        u, t = credentials(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        print(u)
        print(t)
    elif mode == "paho":
        paho(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]), *sys.argv[8:9])
    elif mode == "paho-ws":
        paho(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]), *sys.argv[8:9], websockets=True)
    elif mode == "twin":
        twin(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]))
    elif mode == "twin-burst":
        twin_burst(*sys.argv[2:7], *(int(v) for v in sys.argv[7:10]))
    else:
        sys.exit(f"unknown mode {mode}")
