import FleetCore
import FleetEngine
import FleetHub
import FleetMetrics
import Foundation
import Testing

/// Windowed hub faults and how devices of each SDK react to them.
@Suite("Hub faults over loopback TCP", .serialized)
struct FaultRunTests {
    static func run(_ overrides: [String], devices: Int = 30) async throws -> RunResult {
        let s = try ScenarioLoader().load(
            yaml: """
                duration: 30s
                fleet: {devices: \(devices), ramp_rate: 0}
                telemetry: {messages: 60, interval: 50ms}
                """,
            source: "faults",
            overrides: overrides
        )
        return try await FleetRunner(scenario: s, hub: HubAdapter(hub: TestHub())).run()
    }

    @Test func outageRefusesWithCONNACK3UntilTheWindowEnds() async throws {
        let result = try await Self.run([
            "retry.policy=fixed", "retry.base=100ms",
            "faults=[{at: 1s, kind: drop}, {at: 1s, kind: outage, for: 600ms}]",
        ])
        let c = result.snapshot.counters
        #expect((c.refusedByCode[3] ?? 0) >= 30, "every device met the outage at least once")
        #expect(c.outcomes == ["completed": 30], "CONNACK 3 is transient: everyone is back after the window")
        #expect(c.generated == c.acked + c.failed + c.pending && c.failed == 0)
    }

    @Test(
        "reject-auth window: .NET stops with Bad_Credential, C keeps retrying",
        arguments: ["azure-dotnet", "azure-c"]
    )
    func rejectAuth(policy: String) async throws {
        let result = try await Self.run([
            "retry.policy=\(policy)", "faults=[{at: 1s, kind: drop}, {at: 1s, kind: reject-auth, for: 1500ms}]",
        ])
        let c = result.snapshot.counters
        #expect((c.refusedByCode[5] ?? 0) >= 30)
        if policy == "azure-dotnet" {
            #expect(c.outcomes == ["refused": 30])
            #expect(c.finalStatuses == [FinalStatus(status: "Disconnected", reason: "Bad_Credential"): 30])
            #expect(c.failedByReason["abandoned"] ?? 0 > 0, "queued messages are abandoned, not lost silently")
        } else {
            #expect(c.outcomes == ["completed": 30], "CONNACK 5 is recoverable in the C SDK")
        }
        #expect(c.generated == c.acked + c.failed + c.pending)
    }

    /// Half-open links: the hub goes silent; only keep-alive notices. KA 1 s, paho-style (ping after 1 s of
    /// silence, wait 1 s): detection within about 2 s, then reconnect attempts time out until the hub answers again.
    @Test func blackholeIsDetectedByKeepAlive() async throws {
        let result = try await Self.run(
            [
                "retry.policy=fixed", "retry.base=200ms", "mqtt.keep_alive=1s", "mqtt.connack_timeout=300ms",
                "telemetry.messages=100", "telemetry.interval=50ms", "telemetry.max_inflight=1000",
                "faults=[{at: 1s, kind: blackhole, for: 3s}]",
            ],
            devices: 10
        )
        let c = result.snapshot.counters
        let retrying = StatusTransition(from: "Connected", to: "Disconnected_Retrying", reason: "Communication_Error")
        #expect(c.transitions[retrying] == 10, "every device noticed the silent link")
        #expect(c.reconnects == 10)
        #expect(c.outcomes == ["completed": 10])
        #expect(c.generated == c.acked + c.failed + c.pending && c.failed == 0)
        let detection = result.snapshot.summary(Snapshot.reconnect)
        #expect(detection.count == 10)
    }

    @Test func faultsNeedAWindow() {
        #expect(throws: ScenarioError.self) {
            try ScenarioLoader().load(yaml: "faults: [{at: 1s, kind: outage}]", source: "p.yaml")
        }
    }
}
