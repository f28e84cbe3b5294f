import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMQTT
import FleetReport
import Foundation
import Testing

extension SecondLaneTests {
    /// X.509 devices (issue 23; reference §4.1: the username as with SAS, no password): certificates from our
    /// generator, presented by our devices to our hub (embedded and standalone) and to mosquitto with
    /// `require_certificate`; the hub refuses a missing certificate, another CA's and another device's with IoT Hub's
    /// refusal code and says why in one line.
    @Suite("X.509 devices")
    struct X509DeviceTests {
        static func certificate(
            _ cn: String?,
            verified: Bool,
            sha1: String = "AB",
            sha256: String = "CD"
        ) -> PeerCertificate {
            PeerCertificate(commonName: cn, sha1Thumbprint: sha1, sha256Thumbprint: sha256, chainVerified: verified)
        }

        @Test("the hub's rule: a registered thumbprint, or a trusted CA's certificate naming the device")
        func authenticatorRule() {
            let hub = HubAuthenticator(keys: .x509(thumbprints: ["self-signed": "ab:cd:ef"]), hostName: "hub.test")
            func check(_ id: String, _ certificate: PeerCertificate?, user: String? = nil) -> HubAuthenticator.Verdict {
                let connect = MQTTConnect(
                    version: .v311,
                    clientID: id,
                    username: user ?? "hub.test/\(id)/?api-version=2021-04-12"
                )
                return hub.check(connect, nowUnix: 0, certificate: certificate)
            }
            let accepted = HubAuthenticator.Verdict.accepted(tokenExpiry: nil)
            #expect(check("dev-1", Self.certificate("dev-1", verified: true)) == accepted)
            #expect(check("dev-1", nil) == .refused(.noCertificate))
            #expect(check("dev-1", Self.certificate("dev-1", verified: false)) == .refused(.untrustedCertificate))
            #expect(check("dev-1", Self.certificate("dev-2", verified: true)) == .refused(.certificateSubject))
            #expect(
                check("dev-1", Self.certificate("dev-1", verified: true), user: "other/dev-1/?")
                    == .refused(.badUsername)
            )
            // Self-signed, registered by thumbprint (either hash, any case and separators): the name does not matter.
            #expect(check("self-signed", Self.certificate("x", verified: false, sha1: "ABCDEF")) == accepted)
            #expect(check("self-signed", Self.certificate("x", verified: false, sha256: "ABCDEF")) == accepted)
            #expect(check("self-signed", Self.certificate("x", verified: false)) == .refused(.untrustedCertificate))
            for refusal in [HubAuthenticator.Refusal.noCertificate, .untrustedCertificate, .certificateSubject] {
                let line = hub.explain(refusal, MQTTConnect(version: .v311, clientID: "dev-1"))
                #expect(line.hasPrefix("device dev-1: ") && !line.contains("\n"), "\(line)")
            }
        }

        @Test("a refused certificate gets IoT Hub's refusal code: 5 (MQTT 3.1.1), 0x87 (MQTT 5)")
        func refusalCodes() {
            for (version, code) in [(MQTTVersion.v311, UInt8(5)), (.v5, 0x87)] {
                var session = HubSession(authenticator: HubAuthenticator(keys: .x509(thumbprints: [:])))
                var actions: [HubAction] = []
                session.packetReceived(.connect(MQTTConnect(version: version, clientID: "dev-1")), into: &actions)
                #expect(actions.first == .write(.connack(MQTTConnAck(code: code))))
                #expect(actions.contains(.record(.refused(code: code, reason: .noCertificate))))
            }
        }

        static func profile(_ extra: String) throws -> String {
            let path = CLITests.temp("x509-\(UUID()).yaml")
            try """
            name: x509
            seed: 3
            duration: 20s
            fleet: {devices: 30, ramp_rate: 0}
            telemetry: {messages: 2, interval: 200ms}
            retry: {policy: fixed, base: 500ms}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        @Test(
            "embedded hub: the run makes a fleet CA and 30 device certificates; every device connects by certificate, over mqtts://, wss://, HTTPS and AMQPS",
            arguments: [
                "hub: {tls: true}", "hub: {tls: true, websocket: true}", "hub: {tls: true, https: true}",
                "hub: {tls: true, amqp: true}",
                // One port for both: the certificate reaches whichever front the first byte picks.
                "hub: {tls: true}\ncohorts: [{name: m, devices: 15}, {name: a, devices: 15, transport: amqp}]",
            ]
        )
        func embeddedHub(hub: String) throws {
            let output = CLITests.temp("x509-embedded.pb")
            let r = try CLITests.run([
                "run", try Self.profile("\(hub)\nauth: {mode: x509, hub_host: hub.test}"), "--quiet",
                "--output", output,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let report = try ReportFile.read(output)
            #expect(report.accounting.generated == 60 && report.accounting.acked == 60)
            #expect(report.hub.connectionsAccepted == 30)
            #expect(report.hub.refusedByReason.isEmpty, "\(report.hub.refusedByReason)")
        }

        @Test(
            "mosquitto with require_certificate: devices with the fleet's certificates connect; without one the handshake fails",
            .enabled(if: OpenSSLPeerTests.mosquittoAvailable, "mosquitto not installed (CI installs it)")
        )
        func mosquittoRequiresCertificates() async throws {
            let binary = try #require(Env.which("mosquitto"), "mosquitto not found on PATH; .ci/run installs it")
            let dir = try OpenSSLPeerTests.certificates()
            defer { try? FileManager.default.removeItem(at: dir) }
            let ca = try DeviceCertificates.makeCA()
            var fleet = Scenario.Fleet()
            fleet.devices = 20
            let devices = try DeviceCertificates.issue((0..<20).map { fleet.deviceID($0) }, by: ca)
            try DeviceCertificates.write(ca, devices, to: dir.appendingPathComponent("devices").path)
            // One CA file for mosquitto: it verifies clients against it (the devices' CA) and sends its own chain.
            let both = dir.appendingPathComponent("both.pem")
            let serverCA = try String(contentsOf: dir.appendingPathComponent("ca.pem"), encoding: .utf8)
            try (serverCA + ca.certificatePEM).write(to: both, atomically: true, encoding: .utf8)
            let broker = try Mosquitto(
                binary: binary,
                tls: (ca: both.path, cert: "\(dir.path)/server.pem", key: "\(dir.path)/server-key.pem"),
                extra: "require_certificate true\nuse_identity_as_username true\n"
            )
            let ca509 = dir.appendingPathComponent("ca.pem")
            let withCerts = try OpenSSLPeerTests.scenario(
                port: broker.port,
                ca: ca509,
                ["auth.mode=x509", "auth.certificates=\(dir.path)/devices"],
                devices: 20
            )
            let result = try await FleetRunner(scenario: withCerts, hub: nil).run()
            #expect(result.snapshot.counters.acked == 60, "\(result.snapshot.counters.connectionErrors)")
            #expect(result.snapshot.counters.outcomes == ["completed": 20])
            let without = try OpenSSLPeerTests.scenario(port: broker.port, ca: ca509, ["duration=1500ms"], devices: 2)
            let refused = try await FleetRunner(scenario: without, hub: nil).run()
            #expect(refused.snapshot.counters.acked == 0)
            #expect(
                refused.snapshot.counters.connectionErrors.keys.allSatisfy { ["tls", "reset"].contains($0) }
                    && !refused.snapshot.counters.connectionErrors.isEmpty,
                "\(refused.snapshot.counters.connectionErrors)"
            )
            withExtendedLifetime(broker) {}
        }

        /// A standalone hub with TLS (`server`: a --generate-cert directory), host hub.test, and `args`; stderr read
        /// to the end on a thread.
        static func startHub(
            server: URL,
            _ args: [String]
        ) async throws -> (Process, Int, CLITests.OnThread<Data>) {
            let port = try Env.freePort()
            let hub = Process()
            hub.executableURL = URL(fileURLWithPath: CLITests.binary)
            hub.arguments =
                [
                    "hub", "--tls-listen", "127.0.0.1:\(port)", "--tls-cert",
                    server.appendingPathComponent("server.pem").path,
                    "--tls-key", server.appendingPathComponent("server-key.pem").path, "--host", "hub.test",
                    "--duration", "60s",
                ] + args
            let hubErr = Pipe()
            hub.standardError = hubErr
            hub.standardOutput = FileHandle.nullDevice
            try hub.run()
            let lines = CLITests.readAll(hubErr)
            try await KubernetesTests.waitForListener(port: port)
            return (hub, port, lines)
        }

        /// `fleetstorm run` of the X.509 profile against a standalone hub on `port`.
        static func run(
            port: Int,
            serverCA: String,
            certificates: String,
            output: String,
            _ extra: [String]
        ) throws -> CLITests.Output {
            let profile = try Self.profile(
                """
                hub: {url: "mqtts://127.0.0.1:\(port)", ca_file: "\(serverCA)", server_name: localhost}
                auth: {mode: x509, hub_host: hub.test, certificates: "\(certificates)"}
                """
            )
            return try CLITests.run(["run", profile, "--quiet", "--output", output] + extra)
        }

        @Test(
            "a self-signed device registered by the thumbprint openssl computes (SHA-256 and SHA-1) connects; unregistered, refused",
            .enabled(if: OpenSSLPeerTests.opensslAvailable, "openssl not installed")
        )
        func selfSignedByThumbprint() async throws {
            let openssl = try #require(Env.which("openssl"), "openssl not found; .ci/run installs it")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-x509-\(UUID())")
            defer { try? FileManager.default.removeItem(at: dir) }
            try HubCertificates.write(
                HubCertificates.generate(host: "localhost"),
                to: dir.appendingPathComponent("server").path
            )
            let devices = dir.appendingPathComponent("devices")
            try FileManager.default.createDirectory(at: devices, withIntermediateDirectories: true)
            var lines: [String] = []
            for (index, hash) in [(0, "-sha256"), (1, "-sha1"), (2, "")] {
                let id = String(format: "device-%05d", index)
                let made = try CLITests.run(
                    [
                        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                        "-subj", "/CN=self-signed-\(index)", "-keyout",
                        devices.appendingPathComponent("\(id)-key.pem").path,
                        "-out", devices.appendingPathComponent("\(id).pem").path,
                    ],
                    tool: openssl
                )
                #expect(made.status == 0, "\(made.stderr)")
                guard !hash.isEmpty else { continue }  // device 2: not registered
                let print = try CLITests.run(
                    ["x509", "-noout", "-fingerprint", hash, "-in", devices.appendingPathComponent("\(id).pem").path],
                    tool: openssl
                )
                // "sha256 Fingerprint=AB:CD:..." (colons kept: the hub takes them)
                let thumbprint = try #require(print.stdout.split(separator: "=").last).trimmingCharacters(
                    in: .whitespacesAndNewlines
                )
                lines.append("\(id) \(thumbprint.lowercased())")
            }
            let registered = dir.appendingPathComponent("thumbprints.txt")
            try (["# device thumbprint"] + lines).joined(separator: "\n").write(
                to: registered,
                atomically: true,
                encoding: .utf8
            )
            let (hub, port, hubLines) = try await Self.startHub(
                server: dir.appendingPathComponent("server"),
                ["--x509-thumbprints", registered.path]
            )
            defer { if hub.isRunning { kill(hub.processIdentifier, SIGKILL) } }
            let output = CLITests.temp("x509-self-signed.pb")
            let r = try Self.run(
                port: port,
                serverCA: "\(dir.path)/server/ca.pem",
                certificates: devices.path,
                output: output,
                ["--set", "duration=3s", "--devices", "3"]
            )
            #expect(r.status == 0, "\(r.stderr)")
            kill(hub.processIdentifier, SIGINT)
            hub.waitUntilExit()
            let report = try ReportFile.read(output)
            #expect(report.accounting.acked == 4, "devices 0 and 1 send their 2 messages each: \(report.accounting)")
            #expect((report.connections.refusedByCode[5] ?? 0) >= 1, "device 2 is refused")
            let text = String(decoding: hubLines.wait(), as: UTF8.self)
            #expect(text.contains("device device-00002: its certificate is not from a CA"), "\(text)")
        }

        @Test(
            "X.509 devices on pooled AMQP connections: one line before anything connects (one certificate per TLS connection)"
        )
        func x509OverPooledAMQPIsRefused() throws {
            let r = try CLITests.run([
                "run",
                try Self.profile(
                    "hub: {tls: true, amqp: true}\namqp: {devices_per_connection: 10}\nauth: {mode: x509, hub_host: hub.test}"
                ),
                "--quiet", "--output", CLITests.temp("x509-refused.pb"),
            ])
            #expect(r.status != 0 && r.stderr.contains("cannot share pooled AMQP connections"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }

        @Test("hub --profile with auth.mode x509 needs --x509-ca or --x509-thumbprints; a SAS profile refuses them")
        func hubProfileNeedsTheCA() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-x509-\(UUID())")
            defer { try? FileManager.default.removeItem(at: dir) }
            try HubCertificates.write(HubCertificates.generate(host: "localhost"), to: dir.path)
            let tls = [
                "--tls-listen", "127.0.0.1:0", "--tls-cert", "\(dir.path)/server.pem", "--tls-key",
                "\(dir.path)/server-key.pem", "--duration", "1s",
            ]
            let x509 = try Self.profile("hub: {tls: true}\nauth: {mode: x509, hub_host: hub.test}")
            let missing = try CLITests.run(["hub", "--profile", x509] + tls)
            #expect(missing.status == 1 && missing.stderr.contains("--x509-ca"), "\(missing.stderr)")
            #expect(missing.stderr.split(separator: "\n").count == 1, "one line: \(missing.stderr)")
            let served = try CLITests.run(["hub", "--profile", x509, "--x509-ca", "\(dir.path)/ca.pem"] + tls)
            #expect(served.status == 0, "\(served.stderr)")
            let sas = try Self.profile("auth: {mode: sas, group_key: \"\(RealClientTests.groupKey)\"}")
            let extra = try CLITests.run(["hub", "--profile", sas, "--x509-ca", "\(dir.path)/ca.pem"] + tls)
            #expect(extra.status == 1 && extra.stderr.contains("does not use auth.mode x509"), "\(extra.stderr)")
        }

        @Test(
            "standalone hub with --x509-ca: devices from the generator's files connect; another CA's are refused (CONNACK 5)"
        )
        func standaloneHub() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-x509-\(UUID())")
            defer { try? FileManager.default.removeItem(at: dir) }
            for (name, args) in [
                ("server", ["--generate-cert", dir.appendingPathComponent("server").path, "--host", "localhost"]),
                ("fleet", ["--generate-device-certs", dir.appendingPathComponent("fleet").path, "--devices", "30"]),
                ("other", ["--generate-device-certs", dir.appendingPathComponent("other").path, "--devices", "30"]),
            ] {
                let g = try CLITests.run(["hub"] + args)
                #expect(g.status == 0, "\(name): \(g.stderr)")
            }
            let key = try String(contentsOf: dir.appendingPathComponent("fleet/device-00000-key.pem"), encoding: .utf8)
            #expect(key.contains("PRIVATE KEY"))
            let attributes = try FileManager.default.attributesOfItem(
                atPath: dir.appendingPathComponent("fleet/device-00000-key.pem").path
            )
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "device keys are private")
            let (hub, port, hubLines) = try await Self.startHub(
                server: dir.appendingPathComponent("server"),
                ["--x509-ca", dir.appendingPathComponent("fleet/ca.pem").path]
            )
            defer { if hub.isRunning { kill(hub.processIdentifier, SIGKILL) } }
            var outcomes: [String: Fleetstorm_Report_V1_Report] = [:]
            for fleet in ["fleet", "other"] {
                let output = CLITests.temp("x509-\(fleet).pb")
                let r = try Self.run(
                    port: port,
                    serverCA: "\(dir.path)/server/ca.pem",
                    certificates: "\(dir.path)/\(fleet)",
                    output: output,
                    ["--set", "duration=4s"]
                )
                if fleet == "fleet" {
                    #expect(r.status == 0, "\(r.stderr)")
                } else {
                    #expect(r.status == 1 && r.stderr.contains("--x509-ca"), "one line with the fix: \(r.stderr)")
                }
                outcomes[fleet] = try ReportFile.read(output)
            }
            kill(hub.processIdentifier, SIGINT)
            hub.waitUntilExit()
            let good = try #require(outcomes["fleet"])
            #expect(good.accounting.acked == 60, "\(good.accounting)")
            let bad = try #require(outcomes["other"])
            #expect(bad.accounting.acked == 0)
            #expect((bad.connections.refusedByCode[5] ?? 0) >= 30, "\(bad.connections.refusedByCode)")
            let lines = String(decoding: hubLines.wait(), as: UTF8.self)
            #expect(lines.contains("not from a CA this hub trusts"), "\(lines)")
            #expect(!lines.contains("PRIVATE KEY"))
        }
    }
}
