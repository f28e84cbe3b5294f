import FleetCore
import FleetHub
import FleetHubCore
import FleetReport
import Foundation
import Testing

extension SecondLaneTests {
    /// MQTT over WebSockets (reference §10.1): paho-mqtt (`transport="websockets"`, the Azure Python SDK's path) as
    /// a client of our hub over ws:// and wss://, our devices against amqtt (a broker nobody here wrote), storms
    /// over WebSockets, and a hub that refuses bad upgrades and bad frames without falling over.
    @Suite(
        "MQTT over WebSockets",
        .serialized,
        .enabled(
            if: (Env.which("python3") != nil && Env.which("amqtt") != nil) || Env.isCI,
            "python3 + PyPI paho-mqtt and amqtt needed (.ci/run installs them)"
        )
    )
    struct WebSocketTests {
        static let groupKey = RealClientTests.groupKey

        static func hub(tls: Bool, anonymous: Bool = false) async throws -> (TestHub, Int, String?) {
            var configuration = HubConfiguration()
            if !anonymous {
                configuration.auth = HubAuthenticator(keys: .groupKey(groupKey), hostName: "myhub.local")
            }
            configuration.listen = []
            var caFile: String?
            if tls {
                let bundle = try HubCertificates.generate(host: "localhost")
                configuration.tls = try HubTLS(certificatePEM: bundle.serverPEM, keyPEM: bundle.serverKeyPEM)
                configuration.wssListen = [("127.0.0.1", 0)]
                caFile = CLITests.temp("ws-ca.pem")
                try bundle.caPEM.write(toFile: caFile!, atomically: true, encoding: .utf8)
            } else {
                configuration.wsListen = [("127.0.0.1", 0)]
            }
            let hub = TestHub(configuration: configuration)
            return (hub, try await hub.start()[0].port, caFile)
        }

        @Test("paho-mqtt over WebSockets publishes to the hub", arguments: [false, true])
        func pahoOverWebSockets(tls: Bool) async throws {
            let python = try #require(Env.which("python3"))
            let (hub, port, ca) = try await Self.hub(tls: tls)
            let host = tls ? "localhost" : "127.0.0.1"
            let r = try RealClientTests.run(
                python,
                [RealClientTests.script, "paho-ws", host, String(port), "myhub.local", "ws-1", Self.groupKey, "10"]
                    + (ca.map { [$0] } ?? [])
            )
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out.contains("\"connack\": 0") && r.out.contains("\"acked\": 10"), "\(r.out) \(r.err)")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == 10 && stats.connectionsAccepted == 1)
        }

        /// Our devices against amqtt's WebSocket listener (a broker nobody here wrote).
        @Test func devicesOverWebSocketsToAmqtt() async throws {
            let amqtt = try #require(Env.which("amqtt"), "amqtt not installed (.ci/run: pip install amqtt)")
            let port = try Env.freePort()
            let config = CLITests.temp("amqtt.yaml")
            try """
            listeners:
              default:
                type: ws
                bind: 127.0.0.1:\(port)
                max_connections: 1000
            plugins:
              amqtt.plugins.authentication.AnonymousAuthPlugin:
                allow_anonymous: true
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let broker = Process()
            broker.executableURL = URL(fileURLWithPath: amqtt)
            broker.arguments = ["-c", config]
            broker.standardOutput = FileHandle.nullDevice
            broker.standardError = FileHandle.nullDevice
            try broker.run()
            // SIGKILL: a child spawned from a Swift concurrency thread may block SIGTERM (see Support.swift).
            defer { kill(broker.processIdentifier, SIGKILL) }
            try await KubernetesTests.waitForListener(port: port)
            let output = CLITests.temp("amqtt.pb")
            let r = try CLITests.run([
                "run", "profiles/quickstart.yaml", "--devices", "50", "--hub", "ws://127.0.0.1:\(port)/",
                "--set", "telemetry.messages=4", "--set", "telemetry.interval=50ms", "--quiet", "--output", output,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let report = try ReportFile.read(output)
            #expect(report.connections.accepted == 50 && report.accounting.acked == 200, "\(r.stdout)")
            #expect(report.run.target.hasPrefix("ws://127.0.0.1:\(port)/"))
        }

        /// The same storm over the five transports (MQTT, MQTT over TLS, over WebSockets, over WebSockets with TLS,
        /// and the HTTPS device API), compared: a hub-wide drop and everyone back, every message acked, and
        /// `compare` reads the reports side by side.
        @Test func aStormOverEveryTransportIsComparable() throws {
            var reports: [String] = []
            for (name, sets) in [
                ("mqtt", [String]()), ("mqtts", ["hub.tls=true"]), ("ws", ["hub.websocket=true"]),
                ("wss", ["hub.websocket=true", "hub.tls=true"]), ("https", ["hub.https=true"]),
            ] {
                let output = CLITests.temp("storm-\(name).pb")
                let r = try CLITests.run(
                    [
                        "run", "profiles/hub-drop-storm.yaml", "--devices", "200", "--set", "telemetry.messages=10",
                        "--set", "faults=[{at: 1s, kind: drop}]", "--quiet", "--output", output,
                    ] + sets.flatMap { ["--set", $0] }
                )
                #expect(r.status == 0, "\(name): \(r.stderr)")
                let report = try ReportFile.read(output)
                let storm = try #require(report.storms.first { $0.fault == "drop@1s" }, "\(name)")
                // How many of the 200 were connected at 1 s, and how many messages a busy machine sent before the
                // run's end, vary; what must hold is counted apart: everyone dropped came back, the device's books
                // balance, and every acknowledged message reached the hub.
                #expect(storm.affected > 0 && storm.recovered == storm.affected, "\(name): \(storm)")
                let a = report.accounting
                #expect(a.acked > 0 && a.generated == a.acked + a.sent + a.failed + a.pending, "\(name): \(a)")
                #expect(report.hub.messagesReceived - report.hub.duplicates >= a.acked, "\(name): \(report.hub)")
                #expect(report.run.target.contains("\(name)://"), "\(name): \(report.run.target)")
                reports.append(output)
            }
            let compare = try CLITests.run(["compare"] + reports)
            #expect(compare.status == 0, "\(compare.stderr)")
        }

        /// Faults behave the same over WebSockets: the same fleet, seed and fault plan over mqtt:// and ws:// give
        /// the same affected and recovered devices per fault, and every device ends the same way.
        @Test func faultsActTheSameOverWebSockets() throws {
            let profile = CLITests.temp("ws-faults.yaml")
            try """
            name: ws-faults
            seed: 12
            duration: 40s
            sdk: azure-python
            fleet: {devices: 100, ramp_rate: 500}
            mqtt: {keep_alive: 4s, connack_timeout: 3s}
            telemetry: {messages: 40, interval: 500ms}
            retry: {policy: full-jitter, base: 200ms, cap: 1s}
            faults:
              - {at: 2s, kind: outage, for: 2s}
              - {at: 2s, kind: drop}
              - {at: 6s, kind: blackhole, for: 3s}
              - {at: 12s, kind: flap, for: 3s, period: 1s, down: 500ms, fraction: 0.3}
              - {at: 17s, kind: network-switch, fraction: 0.2}
            """.write(toFile: profile, atomically: true, encoding: .utf8)
            // The two runs side by side (each with its own embedded hub): they wait on the same 40 s of fault windows.
            let transports = [("mqtt", [String]()), ("ws", ["--set", "hub.websocket=true"])]
            let outputs = transports.map { CLITests.temp("ws-faults-\($0.0).pb") }
            let runs = try CLITests.runTogether(
                zip(transports, outputs).map { ["run", profile, "--quiet", "--output", $1] + $0.1 }
            )
            var byTransport: [String: Fleetstorm_Report_V1_Report] = [:]
            for ((name, _), (r, output)) in zip(transports, zip(runs, outputs)) {
                #expect(r.status == 0, "\(name): \(r.stderr)")
                byTransport[name] = try ReportFile.read(output)
            }
            let (plain, ws) = (try #require(byTransport["mqtt"]), try #require(byTransport["ws"]))
            for fault in ["outage@2s+2s", "drop@2s", "blackhole@6s+3s", "flap@12s+3s", "network-switch@17s"] {
                let a = plain.storms.first { $0.fault.contains(fault) }
                let b = ws.storms.first { $0.fault.contains(fault) }
                #expect(a != nil && b != nil, "\(fault) has a storm record over both")
                #expect(
                    a?.affected == b?.affected && a?.recovered == b?.recovered,
                    "\(fault): \(String(describing: a)) vs \(String(describing: b))"
                )
            }
            #expect(plain.outcomes == ws.outcomes, "devices end the same way")
            #expect(plain.accounting.generated == ws.accounting.generated)
        }

        /// Bad upgrades and bad frames: each gets an HTTP error or a close frame, the connection ends, and the
        /// hub still serves a good client afterwards.
        @Test func badUpgradesAndFramesAreRefusedCleanly() async throws {
            let (hub, port, _) = try await Self.hub(tls: false, anonymous: true)
            let probe = CLITests.temp("ws_probe.py")
            try Self.probeScript.write(toFile: probe, atomically: true, encoding: .utf8)
            let python = try #require(Env.which("python3"))
            let r = try RealClientTests.run(python, [probe, String(port)])
            #expect(r.status == 0, "\(r.out)\(r.err)")
            for line in [
                "wrong-path 404", "no-subprotocol 400", "not-http 400", "text-frame close 1003",
                "unmasked close 1002", "oversized close 1009", "garbage-after-upgrade closed", "good connack 0",
            ] {
                #expect(r.out.contains(line), "missing \(line): \(r.out)")
            }
            let stats = await hub.stop()
            #expect(stats.connectionsAccepted == 1, "only the good client got an MQTT session")
        }

        /// Raw sockets, so nothing smooths over what goes on the wire.
        static let probeScript = #"""
            import os, socket, struct, sys
            port = int(sys.argv[1])
            def upgrade(path="/$iothub/websocket", proto=True):
                s = socket.create_connection(("127.0.0.1", port)); s.settimeout(20)
                req = f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                req += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                if proto: req += "Sec-WebSocket-Protocol: mqtt\r\n"
                s.sendall((req + "\r\n").encode()); return s
            def status(s):
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk: break
                    data += chunk
                return data.split(b" ")[1].decode() if data else "none"
            def frame(opcode, payload, mask=True):
                head = bytes([0x80 | opcode])
                n = len(payload)
                if n < 126: head += bytes([(0x80 if mask else 0) | n])
                elif n < 65536: head += bytes([(0x80 if mask else 0) | 126]) + struct.pack(">H", n)
                else: head += bytes([(0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
                if not mask: return head + payload
                key = os.urandom(4)
                return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            def close_code(s):
                data = b""
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk: break
                        data += chunk
                except socket.timeout:
                    return "timeout"
                except ConnectionResetError:
                    pass
                i = data.find(b"\x88")
                return str(struct.unpack(">H", data[i + 2:i + 4])[0]) if i >= 0 and len(data) >= i + 4 else "closed"
            s = upgrade(path="/other"); print("wrong-path", status(s))
            s = upgrade(proto=False); print("no-subprotocol", status(s))
            s = socket.create_connection(("127.0.0.1", port)); s.settimeout(20); s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n\r\n"); print("not-http", status(s))
            s = upgrade(); status(s); s.sendall(frame(0x1, b"hello")); print("text-frame close", close_code(s))
            s = upgrade(); status(s); s.sendall(frame(0x2, b"\x10\x00", mask=False)); print("unmasked close", close_code(s))
            # An oversized frame is refused from its header: send the header and a little of the payload only.
            s = upgrade(); status(s); s.sendall(frame(0x2, b"\x00" * 400000)[:2000]); print("oversized close", close_code(s))
            s = upgrade(); status(s); s.sendall(os.urandom(2000))
            print("garbage-after-upgrade", "closed" if close_code(s) != "timeout" else "still open")
            s = upgrade(); status(s)
            cid = b"anon"; var = b"\x00\x04MQTT\x04\x02\x00\x3c"; body = var + struct.pack(">H", len(cid)) + cid
            s.sendall(frame(0x2, bytes([0x10, len(body)]) + body))
            data = s.recv(64)
            print("good connack", data[-1] if len(data) >= 4 and data[2] == 0x20 else repr(data))
            """#
    }
}
