import FleetCore
import FleetEngine
import Foundation
import Testing

/// Qpid Proton's example broker (Apache's AMQP 1.0 implementation; Debian libqpid-proton11-dev-examples), started on
/// a free loopback port; stopped (by PID) when the test ends.
final class ProtonBroker {
    static let script = "/usr/share/proton/examples/python/broker.py"
    let process = Process()
    let port: Int

    static var available: Bool {
        FileManager.default.fileExists(atPath: script)
            && (try? IntegrationTests.RealClientTests.run("/usr/bin/env", ["python3", "-c", "import proton"]).status) == 0
    }

    init() throws {
        port = try Env.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "-a", "127.0.0.1:\(port)"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        for _ in 0..<500 {
            guard process.isRunning else { throw TestFailure("broker.py exited with \(process.terminationStatus)") }
            if (try? IntegrationTests.RealClientTests.run("/usr/bin/env", ["python3", "-c", Self.probe(port)]).status) == 0 { return }
            usleep(20_000)
        }
        throw TestFailure("broker.py did not listen on \(port) within 10 s")
    }

    private static func probe(_ port: Int) -> String {
        "import socket; socket.create_connection(('127.0.0.1', \(port)), timeout=0.2).close()"
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

extension IntegrationTests {
    @Suite("Devices over AMQP 1.0 against a real AMQP peer", .serialized)
    struct AMQPDeviceTests {
        static let drain = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/amqp_drain.py").path

        @Test(
            "200 devices × 3 QoS 1 messages to Proton's broker: every one acknowledged, and the broker holds each once",
            .enabled(if: ProtonBroker.available || Env.isCI, "python-qpid-proton and its example broker needed")
        )
        func protonBroker() async throws {
            try #require(ProtonBroker.available, ".ci/run installs python-qpid-proton and libqpid-proton11-dev-examples")
            let broker = try ProtonBroker()
            let scenario = try ScenarioLoader().load(
                yaml: """
                    name: amqp-it
                    duration: 60s
                    hub: {url: "amqp://127.0.0.1:\(broker.port)"}
                    fleet: {devices: 200, ramp_rate: 0, max_in_flight: 100, id_prefix: amqp-}
                    mqtt: {keep_alive: 30s}
                    telemetry: {messages: 3, interval: 20ms, payload_bytes: 32, qos: 1, properties: {site: plant-7}}
                    sdk: azure-java
                    """,
                source: "amqp.yaml"
            )
            let result = try await FleetRunner(scenario: scenario, hub: nil).run()
            let c = result.snapshot.counters
            #expect(c.connected == 200)
            #expect(c.generated == 600)
            #expect(c.acked == 600)
            #expect(c.outcomes == ["completed": 200])
            // The broker's own count, read by a Proton client: each device's queue, drained.
            let addresses = (0..<200).map { "amqps://127.0.0.1/devices/\(scenario.fleet.deviceID($0))/messages/events" }
            let drained = try IntegrationTests.RealClientTests.run(
                "/usr/bin/env", ["python3", Self.drain, "amqp://127.0.0.1:\(broker.port)"] + addresses)
            #expect(drained.status == 0, "\(drained.err)")
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(drained.out.utf8)) as? [String: Any], "\(drained.out)")
            #expect(json["messages"] as? Int == 600)
            #expect(json["unique_ids"] as? Int == 600, "each message once, by its device and message id")
            #expect((json["per_address"] as? [String: Int])?.values.allSatisfy { $0 == 3 } == true)
            #expect((json["properties"] as? [String: String])?["site"] == "plant-7")
            withExtendedLifetime(broker) {}
        }
    }
}
