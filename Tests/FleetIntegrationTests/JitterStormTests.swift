import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMetrics
import FleetService
import Testing

extension IntegrationTests {
    /// The question FleetStorm answers: does jitter spread a reconnect storm? Same fleet, same drop and outage,
    /// full jitter versus none; the storm records (computed from the series) must tell them apart.
    @Suite("Jitter versus no jitter")
    struct JitterStormTests {
        static func storm(_ policy: String) async throws -> StormRecord {
            let s = try ScenarioLoader().load(
                yaml: """
                    seed: 4
                    fleet: {devices: 300, ramp_rate: 0}
                    telemetry: {messages: 25, interval: 200ms}
                    retry: {policy: \(policy), base: 2s, cap: 4s}
                    faults: [{at: 1s, kind: drop}, {at: 1s, kind: outage, for: 1200ms}]
                    """,
                source: "jitter"
            )
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            #expect(result.snapshot.counters.outcomes == ["completed": 300])
            let records = StormAnalysis.analyze(
                result.faults.map {
                    StormAnalysis.Fault(
                        label: $0.label,
                        startNanoseconds: $0.startNanoseconds,
                        endNanoseconds: $0.endNanoseconds
                    )
                },
                StormAnalysis.Input(result.snapshot.series, runEndNanoseconds: result.duration.nanoseconds)
            )
            return try #require(records.first)
        }

        @Test func noJitterStormIsPeakierAndSynchronised() async throws {
            let jitter = try await Self.storm("full-jitter")
            let none = try await Self.storm("exponential")
            #expect(jitter.affected == 300 && none.affected == 300)
            #expect(none.peakToMean > 1.5 * jitter.peakToMean, "PMR \(none.peakToMean) vs \(jitter.peakToMean)")
            #expect(none.syncIndex > 2 * jitter.syncIndex, "sync \(none.syncIndex) vs \(jitter.syncIndex)")
            #expect(none.cv > jitter.cv)
        }
    }
}
