import FleetCore
import FleetEngine
import FleetHub
import FleetMetrics
import Foundation
import NIOCore
import NIOPosix
import Testing

extension SecondLaneTests {
    /// The devices' TLS (FleetTLS, the system's OpenSSL) against TLS servers nobody here wrote: mosquitto's TLS
    /// listener and `openssl s_server`, each with a certificate from our generator; a server that stalls in the
    /// handshake and one that dies without close_notify end the device's attempt with the reason its SDK reports.
    @Suite("Devices' TLS against real TLS servers")
    struct OpenSSLPeerTests {
        static let opensslAvailable = Env.which("openssl") != nil || Env.isCI
        static let mosquittoAvailable = Env.which("mosquitto") != nil || Env.isCI

        /// A fresh CA and a server certificate for localhost, written to a temporary directory.
        static func certificates() throws -> URL {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-tls-\(UUID())")
            try HubCertificates.write(HubCertificates.generate(host: "localhost"), to: dir.path)
            return dir
        }

        static func scenario(port: Int, ca: URL, _ extra: [String] = [], devices: Int = 1) throws -> Scenario {
            try ScenarioLoader().load(
                yaml: """
                    duration: 20s
                    seed: 5
                    hub: {url: "mqtts://127.0.0.1:\(port)", ca_file: "\(ca.path)", server_name: localhost}
                    fleet: {devices: \(devices), ramp_rate: 0}
                    telemetry: {messages: 3, interval: 100ms, qos: 1}
                    sdk: mqtt
                    retry: {policy: fixed, base: 300ms}
                    """,
                source: "tls-peers",
                overrides: extra
            )
        }

        /// One device of `server` (certificates in `ca`) that waits up to 10 s for its CONNACK, for 3 s.
        static func patientDevice(of server: SServer, ca: URL) throws -> Scenario {
            try scenario(
                port: server.port,
                ca: ca.appendingPathComponent("ca.pem"),
                ["mqtt.connack_timeout=10s", "duration=3s"]
            )
        }

        @Test(
            "mosquitto's TLS listener: 40 devices, every message acked, one handshake each",
            .enabled(if: OpenSSLPeerTests.mosquittoAvailable, "mosquitto not installed (CI installs it)")
        )
        func mosquittoTLSListener() async throws {
            let binary = try #require(Env.which("mosquitto"), "mosquitto not found on PATH; .ci/run installs it")
            let dir = try Self.certificates()
            defer { try? FileManager.default.removeItem(at: dir) }
            let broker = try Mosquitto(
                binary: binary,
                tls: (ca: "\(dir.path)/ca.pem", cert: "\(dir.path)/server.pem", key: "\(dir.path)/server-key.pem")
            )
            let s = try Self.scenario(port: broker.port, ca: dir.appendingPathComponent("ca.pem"), devices: 40)
            let result = try await FleetRunner(scenario: s, hub: nil).run()
            let c = result.snapshot.counters
            #expect(c.acked == 120 && c.failed == 0)
            #expect(c.outcomes == ["completed": 40])
            #expect(result.snapshot.histograms["tls_handshake"]?.totalCount == 40)
            #expect(c.connectionErrors.isEmpty, "\(c.connectionErrors)")
            withExtendedLifetime(broker) {}
        }

        @Test(
            "openssl s_server (TLS 1.2 and 1.3): the handshake completes and the device's CONNECT arrives as plaintext",
            .enabled(if: OpenSSLPeerTests.opensslAvailable, "openssl not installed"),
            arguments: ["-tls1_2", "-tls1_3"]
        )
        func opensslServer(version: String) async throws {
            let dir = try Self.certificates()
            defer { try? FileManager.default.removeItem(at: dir) }
            let server = try SServer(dir: dir, flags: [version])
            // s_server answers nothing: the device sends CONNECT, waits for CONNACK and gives up after 1 s.
            let s = try Self.scenario(
                port: server.port,
                ca: dir.appendingPathComponent("ca.pem"),
                ["mqtt.connack_timeout=1s", "duration=2500ms"]
            )
            let result = try await FleetRunner(scenario: s, hub: nil).run()
            let received = server.stop()
            #expect(received.contains("MQTT"), "s_server printed: \(received.prefix(300))")
            #expect((result.snapshot.histograms["tls_handshake"]?.totalCount ?? 0) >= 1)
            let errors = result.snapshot.counters.connectionErrors
            #expect(errors["tls"] == nil && errors["tls_untrusted"] == nil, "\(errors)")
        }

        @Test(
            "a server that dies after the handshake without close_notify: the attempt fails as a reset, not a TLS error",
            .enabled(if: OpenSSLPeerTests.opensslAvailable, "openssl not installed")
        )
        func serverDiesWithoutCloseNotify() async throws {
            let dir = try Self.certificates()
            defer { try? FileManager.default.removeItem(at: dir) }
            let server = try SServer(dir: dir, flags: [])
            let s = try Self.patientDevice(of: server, ca: dir)
            let run = Task { try await FleetRunner(scenario: s, hub: nil).run() }
            // Once the CONNECT is through (s_server prints it), the server dies: the kernel closes the socket.
            server.waitFor("MQTT")
            server.kill()
            let result = try await run.value
            let errors = result.snapshot.counters.connectionErrors
            #expect((errors["reset"] ?? 0) >= 1, "\(errors)")
            #expect(errors["tls"] == nil, "\(errors)")
        }

        /// RFC 8446 §4.6.3: s_server sends a KeyUpdate asking the device to update too; the device answers with its
        /// own and rolls its keys (our record layer: OpenSSL's connection object is gone by then). The CONNACK comes
        /// under the server's new keys, the device's PUBLISH under its new ones, and s_server reads it.
        @Test(
            "openssl s_server asks for a key update after the handshake: the device reads and writes on new keys",
            .enabled(if: OpenSSLPeerTests.opensslAvailable, "openssl not installed")
        )
        func keyUpdateFromServer() async throws {
            let dir = try Self.certificates()
            defer { try? FileManager.default.removeItem(at: dir) }
            // -msg: s_server prints every TLS message it sends (>>>) and receives (<<<).
            let server = try SServer(dir: dir, flags: ["-tls1_3", "-msg"])
            let s = try Self.patientDevice(of: server, ca: dir)
            let run = Task { try await FleetRunner(scenario: s, hub: nil).run() }
            server.waitFor("MQTT")
            server.send(Array("K\n".utf8))
            server.waitFor("<<< TLS 1.3, Handshake [length 0005], KeyUpdate")
            // CONNACK, accepted.
            server.send([0x20, 0x02, 0x00, 0x00])
            server.waitFor("messages/events")
            let result = try await run.value
            let printed = server.stop()
            #expect(printed.contains(">>> TLS 1.3, Handshake [length 0005], KeyUpdate"), "s_server asked")
            #expect(
                printed.contains("<<< TLS 1.3, Handshake [length 0005], KeyUpdate"),
                "the device answered with its own: \(printed.suffix(1500))"
            )
            #expect(printed.contains("messages/events"), "the device's PUBLISH, read on new keys")
            let c = result.snapshot.counters
            #expect(c.connected == 1)
            #expect(c.connectionErrors["tls"] == nil, "\(c.connectionErrors)")
        }

        @Test("a server that accepts and never answers the ClientHello: the attempt times out and is retried")
        func stallingServer() async throws {
            let dir = try Self.certificates()
            defer { try? FileManager.default.removeItem(at: dir) }
            let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: 0).get()
            let port = try #require(silent.localAddress?.port)
            let s = try Self.scenario(
                port: port,
                ca: dir.appendingPathComponent("ca.pem"),
                ["mqtt.connack_timeout=500ms", "duration=2s"]
            )
            let result = try await FleetRunner(scenario: s, hub: nil).run()
            try await silent.close()
            let c = result.snapshot.counters
            #expect(c.connected == 0)
            #expect(c.connectAttempts >= 2, "the device retried after the stalled handshake: \(c.connectAttempts)")
            #expect(c.connectionErrors["tls"] == nil && c.connectionErrors["tls_untrusted"] == nil)
            #expect(result.snapshot.histograms["tls_handshake"] == nil, "no handshake completed")
        }
    }
}

/// `openssl s_server` on a free port with a certificate of ours (one connection at a time, until stopped: the run's
/// reachability probe comes first); what it prints (the plaintext it received) is read as it comes.
final class SServer: @unchecked Sendable {  // `text` is behind `lock`
    let process = Process()
    let port: Int
    private let output = Pipe()
    private let input = Pipe()
    private let lock = NSLock()
    private var text = ""

    init(dir: URL, flags: [String]) throws {
        let binary = try #require(Env.which("openssl"), "openssl not found on PATH; .ci/run installs it")
        port = try Env.freePort()
        // Through stdbuf: s_server prints what it receives through stdio, which holds it back on a pipe.
        let stdbuf = Env.which("stdbuf")
        process.executableURL = URL(fileURLWithPath: stdbuf ?? binary)
        process.arguments =
            (stdbuf == nil ? [] : ["-o0", binary])
            + [
                "s_server", "-accept", "127.0.0.1:\(port)", "-cert", "\(dir.path)/server.pem", "-key",
                "\(dir.path)/server-key.pem",
            ] + flags
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardInput = input
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.withLock { self?.text += chunk }
        }
        try process.run()
        waitFor("ACCEPT")
    }

    var printed: String { lock.withLock { text } }

    /// Types `bytes` into s_server: a line `K` asks for a TLS 1.3 key update (the peer asked to update too), other
    /// bytes are sent to the client as they are.
    func send(_ bytes: [UInt8]) {
        input.fileHandleForWriting.write(Data(bytes))
    }

    /// Waits (bounded: 10 s) until s_server has printed `marker`.
    func waitFor(_ marker: String) {
        for _ in 0..<500 where !printed.contains(marker) { usleep(20_000) }
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Ends it; returns what it printed.
    func stop() -> String {
        kill()
        output.fileHandleForReading.readabilityHandler = nil
        return printed
    }

    deinit { kill() }
}
