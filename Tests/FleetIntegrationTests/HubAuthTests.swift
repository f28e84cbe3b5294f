import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMQTT
import FleetMetrics
import FleetService
import Foundation
import NIOCore
import Testing

extension IntegrationTests {
    @Suite("Hub authentication like IoT Hub")
    struct HubAuthenticatorTests {
        static let fixtureKey = "Zml4dHVyZS1rZXktbm90LWEtc2VjcmV0LTEyMzQ1Njc="

        /// The official Python SDK's CONNECT from the capture: accepted for host localhost before 1795705916 with the
        /// fixture key, refused with any other key or after expiry (shared/fixtures/README.md).
        static func sdkConnect() throws -> MQTTConnect {
            let url = Env.repo.appendingPathComponent(
                "Tests/FleetMQTTTests/Fixtures/mqtt-captures/azure-python-sdk-tls/conn1.client.bin"
            )
            var buffer = ByteBuffer(bytes: Array(try Data(contentsOf: url)))
            var decoder = MQTTDecoder()
            guard case .connect(let c)? = try decoder.decode(buffer: &buffer) else { throw TestFailure("no CONNECT") }
            return c
        }

        @Test func theSDKsOwnConnect() throws {
            let c = try Self.sdkConnect()
            let hub = HubAuthenticator(keys: .registry(["dev-sdk-fixture": Self.fixtureKey]), hostName: "localhost")
            #expect(hub.check(c, nowUnix: 1_795_705_000) == .accepted(tokenExpiry: 1_795_705_916))
            #expect(hub.check(c, nowUnix: 1_795_705_916) == .refused(.expired))
            let otherKey = HubAuthenticator(keys: .registry(["dev-sdk-fixture": "c2hvcnQ="]), hostName: "localhost")
            #expect(otherKey.check(c, nowUnix: 1_795_705_000) == .refused(.badSignature))
            let otherHost = HubAuthenticator(keys: .registry(["dev-sdk-fixture": Self.fixtureKey]), hostName: "myhub")
            #expect(otherHost.check(c, nowUnix: 1_795_705_000) == .refused(.badUsername))
            let unknown = HubAuthenticator(keys: .registry([:]), hostName: "localhost")
            #expect(unknown.check(c, nowUnix: 1_795_705_000) == .refused(.unknownDevice))
            var disabled = HubAuthenticator(
                keys: .registry(["dev-sdk-fixture": Self.fixtureKey]),
                hostName: "localhost"
            )
            disabled.disabled = ["dev-sdk-fixture"]
            #expect(disabled.check(c, nowUnix: 1_795_705_000) == .refused(.disabled))
            #expect(HubAuthenticator().check(c, nowUnix: 0) == .accepted(tokenExpiry: nil))
            var noPassword = c
            noPassword.password = nil
            let hub2 = HubAuthenticator(keys: .registry(["dev-sdk-fixture": Self.fixtureKey]), hostName: "localhost")
            #expect(hub2.check(noPassword, nowUnix: 0) == .refused(.noToken))
        }

        @Test func refusalCodes() {
            var session = HubSession(authenticator: HubAuthenticator(keys: .registry([:])))
            var actions: [HubAction] = []
            session.packetReceived(.connect(MQTTConnect(version: .v5, clientID: "x")), into: &actions)
            #expect(actions.first == .write(.connack(MQTTConnAck(code: 0x87))))
            #expect(actions.contains(.record(.refused(code: 0x87, reason: .unknownDevice))))
            var v311 = HubSession(authenticator: HubAuthenticator(keys: .registry([:])))
            actions.removeAll()
            v311.packetReceived(.connect(MQTTConnect(version: .v311, clientID: "x")), into: &actions)
            #expect(actions.first == .write(.connack(MQTTConnAck(code: 5))))
        }
    }
}

extension IntegrationTests {
    @Suite("Devices against an authenticating hub", .serialized)
    struct AuthRunTests {
        static let groupKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

        static func scenario(policy: String, devices: Int = 20) throws -> Scenario {
            try ScenarioLoader().load(
                yaml: """
                    duration: 60s
                    fleet: {devices: \(devices), ramp_rate: 0, id_prefix: meter-}
                    telemetry: {messages: 3, interval: 20ms}
                    sdk: \(SDK(name: policy)?.name ?? "azure-dotnet")
                    retry: {policy: \(policy)}
                    auth: {mode: sas, hub_host: myhub.local, group_key: "\(groupKey)"}
                    """,
                source: "test"
            )
        }

        @Test func validTokensAreAccepted() async throws {
            let s = try Self.scenario(policy: "azure-dotnet")
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(matching: s.auth)
            let result = try await FleetRunner(
                scenario: s,
                hub: EmbeddedTestHub(hub: TestHub(configuration: configuration))
            )
            .run()
            #expect(result.snapshot.counters.acked == 60)
            let hub = try #require(result.hub)
            #expect(hub.connectionsAccepted == 20 && hub.connectionsRefused == 0)
        }

        /// Bad credentials: the .NET preset stops at the first refusal (no retry storm); the C preset keeps retrying
        /// (CONNACK 5 is recoverable in the C SDK) until the run ends.
        @Test("wrong keys: Bad_Credential", arguments: ["azure-dotnet", "azure-c"])
        func wrongKeys(policy: String) async throws {
            var s = try Self.scenario(policy: policy)
            s.duration = .milliseconds(2500)
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey("c2hvcnQ="), hostName: "myhub.local")
            let result = try await FleetRunner(
                scenario: s,
                hub: EmbeddedTestHub(hub: TestHub(configuration: configuration))
            )
            .run()
            let c = result.snapshot.counters
            let hub = try #require(result.hub)
            #expect(c.refusedByCode[5] == c.connectAttempts)
            #expect(hub.refusedByReason["bad_signature"] == c.connectAttempts)
            if policy == "azure-dotnet" {
                #expect(c.connectAttempts == 20, "one attempt per device: no retry storm")
                #expect(c.finalStatuses == [FinalStatus(status: "Disconnected", reason: "Bad_Credential"): 20])
            } else {
                #expect(c.connectAttempts >= 60, "C retries CONNACK 5: 0 s, 1 s, ... (saw \(c.connectAttempts))")
                #expect(
                    c.transitions[
                        StatusTransition(
                            from: "Disconnected_Retrying",
                            to: "Disconnected_Retrying",
                            reason: "Bad_Credential"
                        )
                    ] ?? 0 > 0
                )
            }
        }

        @Test func aSecondConnectionOfTheSameDeviceTakesOver() async throws {
            let hub = TestHub()
            let port = try await hub.start()[0].port
            let (first, firstHandler) = try await HubRobustnessTests.connect(port: port)
            try await HubRobustnessTests.send(first, try HubRobustnessTests.connectBytes("twin"))
            _ = try await firstHandler.bytes(count: 4, on: first.eventLoop).get()
            let (second, secondHandler) = try await HubRobustnessTests.connect(port: port)
            try await HubRobustnessTests.send(second, try HubRobustnessTests.connectBytes("twin"))
            _ = try await secondHandler.bytes(count: 4, on: second.eventLoop).get()
            try await firstHandler.closed.futureResult.get()
            #expect(second.isActive)
            let stats = await hub.stop()
            #expect(stats.takenOver == 1)
        }
    }
}
