import FleetCore
import FleetHub
import FleetHubCore
import Foundation
import Testing

extension IntegrationTests {
    /// Clients nobody here wrote against the hub: mosquitto_pub and paho-mqtt, with SAS tokens computed in Python.
    @Suite(
        "Real MQTT clients against the hub",
        .serialized,
        .enabled(
            if: Env.which("mosquitto_pub") != nil || Env.isCI,
            "mosquitto-clients not installed (CI installs them)"
        )
    )
    struct RealClientTests {
        static let groupKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        static let script = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/iothub_client.py").path

        static func run(_ tool: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let errData = CLITests.readAll(err)
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (
                p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.wait(), as: UTF8.self)
            )
        }

        static func hub() async throws -> (TestHub, Int) {
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey(groupKey), hostName: "myhub.local")
            let hub = TestHub(configuration: configuration)
            return (hub, try await hub.start()[0].port)
        }

        static func credentials(_ device: String, key: String = groupKey) throws -> (String, String) {
            let python = try #require(Env.which("python3"))
            let r = try run(
                python,
                [script, "token", "myhub.local", device, key, String(Int(Date().timeIntervalSince1970) + 3600)]
            )
            let lines = r.out.split(separator: "\n").map(String.init)
            guard lines.count == 2 else { throw TestFailure("token helper failed: \(r.err)") }
            return (lines[0], lines[1])
        }

        @Test("mosquitto_pub publishes with a SAS token", arguments: ["mqttv311", "mqttv5"])
        func mosquittoPub(version: String) async throws {
            let pub = try #require(
                Env.which("mosquitto_pub"),
                "mosquitto_pub not found; .ci/run installs mosquitto-clients"
            )
            let (hub, port) = try await Self.hub()
            let (username, token) = try Self.credentials("pub-1")
            let r = try Self.run(
                pub,
                [
                    "-h", "127.0.0.1", "-p", String(port), "-V", version, "-i", "pub-1", "-u", username, "-P", token,
                    "-q",
                    "1",
                    "-t", "devices/pub-1/messages/events/%24.mid=1", "-m", "{\"t\":21}",
                ]
            )
            #expect(r.status == 0, "\(r.err)")
            let (_, badToken) = try Self.credentials("pub-1", key: "c2hvcnQ=")
            let refused = try Self.run(
                pub,
                [
                    "-h", "127.0.0.1", "-p", String(port), "-V", version, "-i", "pub-1", "-u", username, "-P", badToken,
                    "-q", "1",
                    "-t", "devices/pub-1/messages/events/", "-m", "x",
                ]
            )
            #expect(refused.status != 0)
            #expect(refused.err.lowercased().contains("not auth"), "\(refused.err)")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == 1)
            #expect(stats.connectionsAccepted == 1 && stats.connectionsRefused == 1)
            #expect(stats.refusedByReason["bad_signature"] == 1)
        }

        @Test(
            .enabled(
                if: (try? RealClientTests.run("/usr/bin/env", ["python3", "-c", "import paho.mqtt"]).status) == 0
                    || Env.isCI
            )
        )
        func pahoPublishesTenMessages() async throws {
            let python = try #require(Env.which("python3"))
            let (hub, port) = try await Self.hub()
            let r = try Self.run(
                python,
                [Self.script, "paho", "127.0.0.1", String(port), "myhub.local", "paho-1", Self.groupKey, "10"]
            )
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out.contains("\"connack\": 0") && r.out.contains("\"acked\": 10"), "\(r.out) \(r.err)")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == 10)
            #expect(stats.duplicates == 0 && stats.outOfOrder == 0)
        }
    }
}
