"""A client of the hub's HTTPS device API written with Python's standard library only (http.client, ssl, socket),
so nothing of ours is on the client side. Usage: https_client.py MODE PORT CA_FILE DEVICE TOKEN [OTHER_DEVICE OTHER_TOKEN]
Prints one line per check, `name value`, for the Swift test to read."""
import http.client
import json
import socket
import ssl
import sys
import time

mode, port, ca, device, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
API = "api-version=2021-04-12"
ctx = ssl.create_default_context(cafile=ca)


def connection():
    return http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)


def send(conn, method, path, body=b"", headers=None, auth=token):
    h = {"Authorization": auth} if auth is not None else {}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r, data


def error_code(data):
    try:
        return json.loads(data)["errorCode"]
    except Exception:
        return None


events = f"/devices/{device}/messages/events?{API}"
bound = f"/devices/{device}/messages/deviceBound"

if mode == "send":
    conn = connection()
    r, _ = send(conn, "POST", events, b'{"t":21}', {"iothub-app-site": "plant-7", "iothub-messageid": "1"})
    print("post", r.status)
    r, data = send(conn, "POST", events, b"{}", auth="SharedAccessSignature sr=x&sig=y&se=1")
    print("bad-token", r.status, error_code(data), r.getheader("iothub-errorcode"))

elif mode == "c2d":
    conn = connection()
    print("post", send(conn, "POST", events, b"{}")[0].status)
    time.sleep(float(sys.argv[6]) if len(sys.argv) > 6 else 0.6)
    r, body = send(conn, "GET", f"{bound}?{API}")
    etag = (r.getheader("ETag") or "").strip('"')
    print("get", r.status, "body", body.decode(errors="replace"), "mid", r.getheader("iothub-messageid"))
    print("complete", send(conn, "DELETE", f"{bound}/{etag}?{API}")[0].status)
    r, data = send(conn, "DELETE", f"{bound}/{etag}?{API}")
    print("complete-again", r.status, error_code(data))
    r, _ = send(conn, "GET", f"{bound}?{API}")
    etag2, mid2 = (r.getheader("ETag") or "").strip('"'), r.getheader("iothub-messageid")
    print("get2", r.status)
    print("abandon", send(conn, "POST", f"{bound}/{etag2}/abandon?{API}")[0].status)
    r, _ = send(conn, "GET", f"{bound}?{API}")
    etag3, mid3 = (r.getheader("ETag") or "").strip('"'), r.getheader("iothub-messageid")
    print("redelivered", r.status == 200 and mid3 == mid2)
    print("reject", send(conn, "DELETE", f"{bound}/{etag3}?{API}&reject")[0].status)

elif mode == "burst":
    # As fast as one keep-alive connection goes: the hub's tier shapes, then refuses.
    conn = connection()
    statuses, codes = {}, set()
    for i in range(int(sys.argv[6])):
        r, data = send(conn, "POST", events, b"{}", {"iothub-messageid": str(i + 1)})
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.status != 204:
            codes.add(error_code(data))
    print("statuses", json.dumps(statuses, sort_keys=True))
    print("codes", sorted(c for c in codes if c is not None))

elif mode == "bad":
    other, other_token = sys.argv[6], sys.argv[7]

    def raw(payload, wait=5.0):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
        s.settimeout(wait)
        s.sendall(payload)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            return "timeout"
        except (ConnectionResetError, ssl.SSLError):
            pass
        s.close()
        return data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed"

    print("not-http", raw(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n\r\n"))
    conn = connection()
    print("wrong-path", send(conn, "GET", f"/twins/{device}?{API}")[0].status)
    print("wrong-method", send(conn, "PUT", events, b"{}")[0].status)
    r, data = send(conn, "POST", f"/devices/{device}/messages/events", b"{}")
    print("no-api-version", r.status, error_code(data))
    conn = connection()
    r, data = send(conn, "POST", events, b"{}", auth=None)
    print("no-auth", r.status, error_code(data))
    conn = connection()
    r, data = send(conn, "POST", events, b"x" * (300 * 1024))
    print("too-large", r.status, error_code(data))
    conn = connection()
    print("first-device", send(conn, "POST", events, b"{}")[0].status)
    r, data = send(conn, "POST", f"/devices/{other}/messages/events?{API}", b"{}", auth=other_token)
    print("other-device", r.status, error_code(data))
    started = time.monotonic()
    print("slow-header", raw(b"POST " + events.encode() + b" HTTP/1.1\r\nHost: x\r\n", wait=10.0),
          round(time.monotonic() - started))
    conn = connection()
    print("good", send(conn, "POST", events, b"{}")[0].status)
