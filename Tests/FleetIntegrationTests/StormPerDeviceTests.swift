import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMetrics
import FleetService
import Foundation
import Testing

extension IntegrationTests {
    /// Storms count devices, not connection losses (storm-metrics.md: "affected devices of a fault are the devices
    /// connected when it began that it disconnected"). Marked on the device loop at each fault group's start.
    @Suite("Storms per device")
    struct StormPerDeviceTests {
        static func run(_ yaml: String) async throws -> (RunResult, [StormRecord]) {
            let s = try ScenarioLoader().load(yaml: yaml, source: "storm-per-device")
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            let records = StormAnalysis.analyze(
                result.faults.map {
                    StormAnalysis.Fault(
                        label: $0.label,
                        startNanoseconds: $0.startNanoseconds,
                        endNanoseconds: $0.endNanoseconds,
                        group: $0.group
                    )
                },
                StormAnalysis.Input(
                    result.snapshot.series,
                    runEndNanoseconds: result.duration.nanoseconds,
                    groups: result.faults.map(\.group)
                )
            )
            return (result, records)
        }

        /// A flap drops the same fifth of the fleet three times: each device counts once, the losses three times.
        @Test func flapCountsEachDeviceOnce() async throws {
            let (result, records) = try await Self.run(
                """
                seed: 11
                duration: 8s
                fleet: {devices: 200, ramp_rate: 0}
                telemetry: {messages: 1000, interval: 100ms, stay_connected: true}
                retry: {policy: fixed, base: 100ms}
                faults: [{at: 1s, kind: flap, for: 2900ms, period: 1s, down: 200ms, fraction: 0.2}]
                """
            )
            let flap = try #require(records.first { $0.fault != "run" })
            let hubSide = try #require(result.faults.first)
            // The hub closed every selected connection at each of the three pulses.
            #expect(hubSide.affected >= 3 * flap.affected - 3, "hub saw \(hubSide.affected), devices \(flap.affected)")
            #expect(flap.affected > 20 && flap.affected < 70, "a fifth of 200 devices, got \(flap.affected)")
            #expect(flap.losses >= 3 * flap.affected - 3, "losses \(flap.losses) for \(flap.affected) devices")
            #expect(flap.recovered == flap.affected)
            #expect(flap.affected <= 200)
        }

        /// A throttled hub drops devices again after they reconnect: its daily message quota (IoT Hub's 403002) runs
        /// out shortly after the drop, and over MQTT 3.1.1 every send past it closes the connection. Each device
        /// still counts once as affected and once as recovered; the repeated losses only in `losses`.
        @Test func throttledHubDroppingReconnectedDevicesCountsEachOnce() async throws {
            // Through RunService: the embedded hub gets the scenario's tier and quota, and the report its storms.
            let scenario = try ScenarioLoader().load(
                yaml: """
                    seed: 13
                    duration: 4s
                    hub: {tier: S1, daily_messages: 1500}
                    fleet: {devices: 100, ramp_rate: 0}
                    telemetry: {messages: 1000, interval: 100ms, stay_connected: true}
                    retry: {policy: fixed, base: 100ms}
                    faults: [{at: 1s, kind: drop}]
                    """,
                source: "quota-storm"
            )
            let report = try await RunService(scenario: scenario, profile: "quota-storm", overrides: []).run().report
            let storm = try #require(report.storms.first { $0.fault != "run" })
            #expect(storm.affected == 100, "every device once: \(storm.affected)")
            #expect(storm.losses > 150, "devices were dropped again after reconnecting: \(storm.losses) losses")
            #expect(storm.recovered == 100)
        }

        /// A drop and an outage at the same instant act together: one record holding every device they
        /// disconnected, whichever hub-side bins their starts fell in.
        @Test func faultsActingTogetherShareOneRecord() async throws {
            let (result, records) = try await Self.run(
                """
                seed: 12
                duration: 10s
                bin: 10ms
                fleet: {devices: 300, ramp_rate: 0}
                telemetry: {messages: 1000, interval: 200ms, stay_connected: true}
                retry: {policy: full-jitter, base: 300ms, cap: 1s}
                faults: [{at: 1s, kind: outage, for: 1s}, {at: 1s, kind: drop}]
                """
            )
            #expect(result.faults.map(\.group) == [0, 0])
            let storms = records.filter { $0.fault != "run" }
            #expect(storms.count == 1, "one record for the pair: \(storms.map(\.fault))")
            let pair = try #require(storms.first)
            #expect(pair.fault.contains("+"))
            #expect(pair.affected == 300, "every connected device was disconnected once: \(pair.affected)")
            #expect(pair.recovered == 300)
            #expect(pair.t100 != nil)
            #expect(pair.attemptsPerDevice >= 1)
        }
    }
}
