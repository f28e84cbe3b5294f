import FleetCore
import FleetReport
import FleetService
import Foundation
import Testing

@Suite("fleetstorm tune")
struct TuneTests {
    static var capacityProfile: String { SimTest.root.appendingPathComponent("profiles/storm-capacity.yaml").path }

    @Test("--vary parses values, keeps bracketed commas, and refuses what cannot be swept")
    func axes() throws {
        let a = try TuneService.Axis.parse("retry.policy=full-jitter, equal-jitter")
        #expect(a.key == "retry.policy" && a.values == ["full-jitter", "equal-jitter"])
        let b = try TuneService.Axis.parse("retry.delays=[1s,2s],[5s]")
        #expect(b.values == ["[1s,2s]", "[5s]"])
        for bad in ["retry.base", "=1s", "retry.base=1s,,2s", "retry.base=1s,1s", "auth.group_key=abc,def"] {
            #expect(throws: TuneError.self, "\(bad)") { try TuneService.Axis.parse(bad) }
        }
    }

    @Test("a bad key or value is one error naming it, before anything runs")
    func planErrors() throws {
        func plan(_ axes: [String]) throws -> [TuneService.Point] {
            try TuneService(
                profile: Self.capacityProfile,
                overrides: ["fleet.devices=100"],
                axes: axes.map(TuneService.Axis.parse)
            )
            .plan()
        }
        let unknown = #expect(throws: TuneError.self) { try plan(["retry.bogus=1,2"]) }
        #expect(unknown?.description.contains("retry.bogus") == true)
        let value = #expect(throws: TuneError.self) { try plan(["retry.policy=full-jitter,no-such-policy"]) }
        #expect(value?.description.contains("no-such-policy") == true)
        #expect(throws: TuneError.self) { try plan(["seed=1,2"]) }
        #expect(throws: TuneError.self) { try plan(["retry.base=1s,2s", "retry.base=3s"]) }
        #expect(throws: TuneError.self) { try plan([]) }
        #expect(try plan(["retry.policy=full-jitter,equal-jitter", "retry.base=100ms,1s,2s"]).count == 6)
    }

    @Test("a sweep ranks, marks the Pareto front, and writes one report that reads back and renders")
    func sweep() async throws {
        var service = TuneService(
            profile: Self.capacityProfile,
            overrides: ["fleet.devices=600", "duration=60s"],
            axes: [
                try .parse("retry.policy=azure-dotnet,full-jitter"), try .parse("retry.base=100ms,2s"),
            ]
        )
        service.repeats = 2
        service.maxConnectRate = 400
        let report = try await service.run()
        let t = report.tune
        #expect(report.run.kind == "tune")
        #expect(t.objective == "recovery")
        #expect(t.points.count == 4)
        #expect(Set(t.points.map(\.rank)) == [1, 2, 3, 4])
        #expect(t.points.allSatisfy { $0.seeds.count == 2 && $0.storms.count == 2 })
        #expect(t.points.contains { $0.pareto })
        // Ranked as the objective says: points within the limit first, by t99.
        let ordered = t.points.sorted { $0.rank < $1.rank }
        let firstOver = ordered.firstIndex { !$0.withinLimit } ?? ordered.count
        #expect(ordered[firstOver...].allSatisfy { !$0.withinLimit })
        let within = ordered[..<firstOver].map { TuneRanking.mean($0, "t99_s") }
        #expect(within == within.sorted())
        // Round trip through the file format, and both renderings.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tune-\(UUID()).pb").path
        try ReportFile.write(report, to: path)
        let back = try ReportFile.read(path)
        #expect(back == report)
        let text = TextSummary.render(back)
        #expect(text.contains("FleetStorm tune"))
        #expect(text.contains(t.recommendation))
        let html = HTMLReport.render(back)
        #expect(html.contains("id=\"pareto\""))
        #expect(html.contains("class=\"heat\""))
        #expect(throws: MergeError.self) { try ReportMerge.merge([("a.pb", back), ("b.pb", back)]) }
    }

    @Test("ranking, front and limit on hand-made points")
    func rankingRules() {
        func point(_ name: String, peak: Double, t99: Double, attempts: Double) -> TunePointRuns {
            var storm = Fleetstorm_Report_V1_Storm()
            storm.peakAttemptRate1S = peak
            storm.t99Ns = t99 < 0 ? -1 : Int64(t99 * 1e9)
            storm.t90Ns = storm.t99Ns
            storm.attemptsPerDevice = attempts
            return TunePointRuns(values: [name], runs: [.init(seed: 1, storm: storm, lost: 0)])
        }
        let points = [
            point("fast-loud", peak: 900, t99: 10, attempts: 5),
            point("slow-quiet", peak: 200, t99: 40, attempts: 2),
            point("balanced", peak: 400, t99: 20, attempts: 3),
            point("dominated", peak: 500, t99: 30, attempts: 4),
            point("never", peak: 100, t99: -1, attempts: 9),
        ]
        let setup = TuneRanking.Setup(
            keys: ["retry.policy"],
            objective: .recovery,
            limit: 450,
            limitSource: "test",
            mode: "simulate",
            repeats: 1,
            devices: 10
        )
        let t = TuneRanking.build(setup, points: points)
        func rank(_ n: String) -> UInt32 { t.points.first { $0.values == [n] }!.rank }
        func front(_ n: String) -> Bool { t.points.first { $0.values == [n] }!.pareto }
        #expect(rank("balanced") == 1)  // fastest within 450/s
        #expect(rank("slow-quiet") == 2)
        #expect(rank("never") == 3)  // within the limit, but never recovered
        #expect(rank("dominated") == 4)  // over the limit: by how far over
        #expect(rank("fast-loud") == 5)
        #expect(front("fast-loud") && front("balanced") && front("slow-quiet"))
        #expect(!front("dominated"))
        #expect(t.recommendation.hasPrefix("recommended: retry.policy=balanced"))
        var strict = setup
        strict.limit = 50
        #expect(TuneRanking.build(strict, points: points).recommendation.hasPrefix("no setting kept"))
    }
}
