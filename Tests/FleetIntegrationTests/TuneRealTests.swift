import FleetCore
import FleetReport
import FleetService
import Foundation
import Testing

extension IntegrationTests {
    @Suite("tune over real runs")
    struct TuneRealTests {
        /// `--real`: each point runs over sockets against the embedded hub, one after another, and ranks the same way.
        /// (Every device is still sending at the drop: 12 messages half a second apart, the drop at 2 s.)
        @Test("a real sweep runs each point over sockets and ranks it")
        func realSweep() async throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tune-real-\(UUID()).yaml").path
            try """
            name: tune-real
            seed: 3
            duration: 20s
            fleet: {devices: 60, ramp_rate: 0}
            telemetry: {messages: 12, interval: 500ms}
            faults:
              - {at: 2s, kind: drop}
              - {at: 2s, kind: outage, for: 1s}
            """.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            var service = TuneService(
                profile: path,
                overrides: [],
                axes: [try .parse("retry.policy=fixed,full-jitter")]
            )
            service.mode = .real
            service.repeats = 1
            let report = try await service.run()
            #expect(report.tune.mode == "real")
            #expect(report.run.target == "embedded")
            #expect(report.tune.points.count == 2)
            for p in report.tune.points {
                let storm = try #require(p.storms.first)
                #expect(storm.affected == 60 && storm.recovered == 60, "\(p.values)")
                #expect(TuneRanking.mean(p, "t99_s").isFinite)
            }
            #expect(report.tune.recommendation.hasPrefix("recommended: retry.policy="))
        }
    }
}
