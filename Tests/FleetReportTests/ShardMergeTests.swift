import Foundation
import Testing

@testable import FleetReport

/// Merging shards names every shard: the ones that died or whose report is missing, with the others' data kept;
/// reports of different splits, or one shard twice, are refused with both files named.
@Suite("Merging shards")
struct ShardMergeTests {
    static func shard(
        _ i: Int,
        of n: Int,
        devices: UInt64,
        cancelled: Bool = false,
        cohorts: [String] = ["all"]
    )
        -> (name: String, report: Fleetstorm_Report_V1_Report)
    {
        var r = Fleetstorm_Report_V1_Report()
        r.run.kind = "run"
        r.run.profileName = "p"
        r.run.devices = devices
        r.run.shardIndex = UInt32(i)
        r.run.shardCount = UInt32(n)
        r.run.fleetDevices = 1000
        r.run.firstDevice = UInt64(1000 * i / n)
        r.run.cancelled = cancelled
        r.run.startedUnixNs = 1_700_000_000_000_000_000
        r.run.durationNs = 5_000_000_000
        r.accounting.generated = devices * 3
        r.accounting.acked = devices * 3  // balanced, as every run writes it
        r.cohorts = cohorts.map { name in
            var c = Fleetstorm_Report_V1_Cohort()
            c.name = name
            c.devices = devices
            return c
        }
        return ("shard-\(i).pb", r)
    }

    @Test func aMissingShardIsNamedAndTheOthersAreKept() throws {
        let m = try ReportMerge.merge(
            [
                Self.shard(0, of: 4, devices: 250), Self.shard(2, of: 4, devices: 250),
                Self.shard(3, of: 4, devices: 250),
            ],
            failed: [1: ("killed by signal 9", ""), 3: ("exited 1", "boom")]
        )
        #expect(m.run.devices == 750 && m.accounting.generated == 2250)
        #expect(m.run.shards.map(\.status) == ["ok", "killed by signal 9", "ok", "exited 1"])
        #expect(m.run.shards[1].devices == 250 && m.run.shards[1].detail.contains("no report"))
        #expect(m.run.shards[3].detail == "boom", "a failed shard that wrote its report keeps its own line")
        #expect(m.run.shardCount == 0, "the merge is the whole fleet, not a shard")
        let text = TextSummary.render(m)
        #expect(text.contains("shards: 2 of 4 ok"))
        #expect(text.contains("SHARD 1 KILLED BY SIGNAL 9 (250 devices): no report"))
        let none = try ReportMerge.merge([Self.shard(0, of: 2, devices: 500)])
        #expect(none.run.shards.map(\.status) == ["ok", "missing"])
        #expect(none.run.shards[1].devices == 500, "a missing shard's share from the fleet's size")
    }

    @Test func cancelledShardsSayso() throws {
        let m = try ReportMerge.merge([
            Self.shard(0, of: 2, devices: 500, cancelled: true), Self.shard(1, of: 2, devices: 500),
        ])
        #expect(m.run.shards.map(\.status) == ["cancelled", "ok"] && m.run.cancelled)
    }

    @Test func differentSplitsAndDuplicatesAreRefused() {
        func refusal(_ reports: [(name: String, report: Fleetstorm_Report_V1_Report)]) -> String {
            do {
                _ = try ReportMerge.merge(reports)
                return "merged"
            } catch { return error.description }
        }
        var whole = Self.shard(0, of: 1, devices: 1000)
        whole.report.run.shardCount = 0
        whole.name = "whole.pb"
        let cases: [([(name: String, report: Fleetstorm_Report_V1_Report)], [String])] = [
            ([Self.shard(0, of: 2, devices: 500), Self.shard(1, of: 3, devices: 333)], ["shard-1.pb", "1/3", "0/2"]),
            ([Self.shard(1, of: 2, devices: 500), Self.shard(1, of: 2, devices: 500)], ["both shard 1/2"]),
            ([Self.shard(0, of: 2, devices: 500), whole], ["whole.pb is not a shard"]),
        ]
        for (reports, words) in cases {
            let text = refusal(reports)
            for w in words { #expect(text.contains(w), "\(text)") }
        }
    }

    @Test func cohortsOfEveryShardAreKept() throws {
        let m = try ReportMerge.merge([
            Self.shard(0, of: 2, devices: 500, cohorts: ["a"]),
            Self.shard(1, of: 2, devices: 500, cohorts: ["a", "b"]),
        ])
        #expect(m.cohorts.map(\.name) == ["a", "b"])
        #expect(m.cohorts.map(\.devices) == [1000, 500])
    }

    @Test func hubWorkerReportsMergeIntoOneHubReport() throws {
        func hub(_ accepted: UInt64) -> (name: String, report: Fleetstorm_Report_V1_Report) {
            var r = Fleetstorm_Report_V1_Report()
            r.run.kind = "hub"
            r.run.startedUnixNs = 1_700_000_000_000_000_000  // started with the shards, as hub workers do
            r.run.devices = accepted
            r.hub.connectionsAccepted = accepted
            return ("hub-\(accepted).pb", r)
        }
        let m = try ReportMerge.merge([hub(10), hub(20), hub(30)])
        #expect(m.run.kind == "hub" && m.run.hubWorkers == 3 && m.hub.connectionsAccepted == 60)
        let withRuns = try ReportMerge.merge([Self.shard(0, of: 1, devices: 1000), hub(600), hub(400)])
        #expect(withRuns.run.kind == "merge" && withRuns.run.devices == 1000, "a hub counts the shards' devices again")
        #expect(withRuns.hub.connectionsAccepted == 1000 && withRuns.run.hubWorkers == 2)
    }
}
