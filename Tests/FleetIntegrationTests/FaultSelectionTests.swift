import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMetrics
import FleetService
import Foundation
import Testing

extension IntegrationTests {
    /// Faults for a selection of devices, the kinds added for issue 4, and the fault proxy in front of mosquitto.
    @Suite("Selected faults, fault records and the fault proxy", .serialized)
    struct FaultSelectionTests {
        static func scenario(_ overrides: [String], devices: Int = 20) throws -> Scenario {
            try ScenarioLoader().load(
                yaml: """
                    duration: 30s
                    seed: 11
                    fleet: {devices: \(devices), ramp_rate: 0}
                    telemetry: {messages: 60, interval: 50ms}
                    sdk: mqtt                        # a plain MQTT client: notices a silent link by keep-alive
                    retry: {policy: fixed, base: 200ms}
                    """,
                source: "faults",
                overrides: overrides
            )
        }

        static func run(_ s: Scenario, hub: TestHub = TestHub()) async throws -> RunResult {
            try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: hub)).run()
        }

        /// Connections from 127.0.0.2 silently die; the devices notice by keep-alive and come back (from the other
        /// address: the swarm rotates source addresses per connection).
        @Test func networkSwitchSilencesOneSourceAddress() async throws {
            let s = try Self.scenario([
                "fleet.source_addresses=[127.0.0.1, 127.0.0.2]", "mqtt.keep_alive=1s", "mqtt.connack_timeout=500ms",
                "telemetry.messages=80", "faults=[{at: 1s, kind: network-switch, source: 127.0.0.2}]",
            ])
            let result = try await Self.run(s)
            let c = result.snapshot.counters
            let record = try #require(result.faults.first)
            #expect(record.kind == "network-switch" && record.affected == 10, "half the fleet was on 127.0.0.2")
            #expect(record.startNanoseconds >= 1_000_000_000 && record.startNanoseconds == record.endNanoseconds)
            let lost = StatusTransition(from: "Connected", to: "Disconnected_Retrying", reason: "Communication_Error")
            #expect(c.transitions[lost] == 10, "exactly the switched devices noticed a dead link")
            #expect(c.outcomes == ["completed": 20])
            #expect(c.generated == c.acked + c.failed + c.pending && c.failed == 0)
            let hub = try #require(result.hub)
            let moved = hub.sourceAddressesByDevice.values.filter { $0 == ["127.0.0.1", "127.0.0.2"] }.count
            #expect(moved == 10, "the switched devices reconnected from the other address")
        }

        /// MQTT 5 devices of a disabled half are refused with 0x8A, which .NET reports as Device_Disabled and stops on.
        @Test func disableAFractionOfDevices() async throws {
            let s = try Self.scenario([
                "mqtt.version=5", "retry.policy=azure-dotnet",
                "faults=[{at: 1s, kind: disable, for: 2s, fraction: 0.5}]",
            ])
            let fault = try #require(s.faults.first)
            let ids = (0..<20).map { String(format: "\(s.fleet.idPrefix)%05d", $0) }
            let selected = ids.filter { FaultTarget.selects($0, fraction: 0.5, salt: fault.target.salt) }.count
            #expect(selected > 0 && selected < 20)
            let result = try await Self.run(s)
            let c = result.snapshot.counters
            #expect(c.finalStatuses[FinalStatus(status: "Disconnected", reason: "Device_Disabled")] == UInt64(selected))
            #expect(c.outcomes["completed"] == UInt64(20 - selected))
            #expect(c.refusedByCode[0x8A] == UInt64(selected))
            let record = try #require(result.faults.first)
            #expect(record.affected == UInt64(2 * selected), "dropped at the start, then refused once each")
            #expect(result.hub?.refusedByReason["disabled"] == UInt64(selected))
            #expect(c.generated == c.acked + c.failed + c.pending)
        }

        @Test func throttleFaultShapesReconnects() async throws {
            let s = try Self.scenario([
                "faults=[{at: 1s, kind: throttle, for: 5s, connect_rate: 10}, {at: 1s, kind: drop}]"
            ])
            let result = try await Self.run(s)
            let hub = try #require(result.hub)
            #expect(hub.shapedConnects >= 15, "20 reconnects at 10/s: all but the first wait")
            let throttle = try #require(result.faults.first { $0.kind == "throttle" })
            #expect(throttle.affected == hub.shapedConnects + hub.throttledConnects)
            #expect(result.snapshot.counters.outcomes == ["completed": 20])
        }

        @Test func expireTokensClosesAuthenticatedConnections() async throws {
            let key = Data((0..<32).map { UInt8($0) }).base64EncodedString()
            var s = try Self.scenario(["faults=[{at: 1s, kind: expire-tokens, devices: \"*\"}]"])
            s.auth = DeviceAuth(hubHost: "fleetstorm.local", keys: .groupKey(key))
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(matching: s.auth)
            let result = try await Self.run(s, hub: TestHub(configuration: configuration))
            let hub = try #require(result.hub)
            #expect(hub.tokenExpiredDrops == 20)
            #expect(result.faults.first?.affected == 20)
            #expect(hub.connectionsAccepted == 40, "every device came back with a fresh token")
            #expect(result.snapshot.counters.outcomes == ["completed": 20])
        }

        @Test func flapAndResetOutage() async throws {
            let s = try Self.scenario([
                "telemetry.messages=80",
                "faults=[{at: 1s, kind: flap, for: 2500ms, period: 1s, down: 300ms}, {at: 3600ms, kind: outage, for: 400ms, refuse: reset}, {at: 3600ms, kind: drop}]",
            ])
            let result = try await Self.run(s)
            let c = result.snapshot.counters
            let hub = try #require(result.hub)
            let flap = try #require(result.faults.first { $0.kind == "flap" })
            #expect(flap.affected >= 60, "three drops of 20 connections (plus refusals in the down phases)")
            #expect(flap.endNanoseconds - flap.startNanoseconds >= 2_400_000_000)
            #expect((hub.refusedByReason["reset"] ?? 0) >= 20, "the reset outage refused every device at least once")
            #expect(c.outcomes == ["completed": 20])
            #expect(c.generated == c.acked + c.failed + c.pending && c.failed == 0)
            let series = hub.series
            #expect(series.series(.hubAccepted).reduce(0, +) == hub.connectionsAccepted)
            #expect(series.series(.hubReceived).reduce(0, +) == hub.messagesReceived)
        }

        @Test(
            "fault proxy in front of mosquitto: drop, reset outage, blackhole",
            .enabled(if: Env.which("mosquitto") != nil || Env.isCI, "mosquitto not installed (CI installs it)")
        )
        func faultProxyBeforeMosquitto() async throws {
            let binary = try #require(Env.which("mosquitto"), "mosquitto not found on PATH; .ci/run installs it")
            let broker = try Mosquitto(binary: binary)
            let s = try Self.scenario([
                "hub.url=mqtt://127.0.0.1:\(broker.port)", "hub.fault_proxy=true", "mqtt.keep_alive=1s",
                "mqtt.connack_timeout=500ms", "telemetry.messages=100",
                "faults=[{at: 1s, kind: drop}, {at: 1s, kind: outage, for: 500ms, refuse: reset}, {at: 2500ms, kind: blackhole, for: 2s}]",
            ])
            let result = try await FleetRunner(scenario: s, hub: nil).run()
            let c = result.snapshot.counters
            #expect(result.hub == nil, "a proxy has no hub statistics")
            #expect(result.faults.map(\.kind) == ["drop", "outage", "blackhole"])
            #expect(result.faults[0].affected == 20)
            #expect(result.faults[1].affected >= 20, "every device met the reset")
            #expect(result.faults[2].affected == 20)
            #expect(c.reconnects >= 40, "back after the drop and after the blackhole")
            #expect(c.outcomes == ["completed": 20])
            #expect(c.generated == c.acked + c.failed + c.pending && c.failed == 0)
            withExtendedLifetime(broker) {}
        }

        /// The daily message quota (403002): past it, MQTT 5 sends get PUBACK 0x97 and are not counted as received.
        @Test func dailyQuotaRefusesSendsPastIt() async throws {
            let s = try Self.scenario(
                [
                    "mqtt.version=5", "hub.tier=S1", "hub.daily_messages=50", "telemetry.messages=10",
                    "retry.policy=azure-dotnet",
                ],
                devices: 10
            )
            var configuration = HubConfiguration()
            configuration.quotas = HubQuotas(s.quota)
            let result = try await Self.run(s, hub: TestHub(configuration: configuration))
            let hub = try #require(result.hub)
            #expect(hub.messagesReceived == 50)
            #expect(hub.quotaExceeded == 50)
            let c = result.snapshot.counters
            #expect(c.acked == 50)
            #expect(c.generated == c.acked + c.failed + c.pending)
        }
    }
}
