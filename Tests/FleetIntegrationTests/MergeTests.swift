import FleetReport
import Foundation
import Testing

extension IntegrationTests {
    /// Shards merge losslessly: counts add, histograms add (from hdr_v2), series align, storms are recomputed.
    @Suite("fleetstorm merge")
    struct MergeTests {
        static func shard(_ prefix: String, bin: String = "100ms") throws -> String {
            let path = CLITests.temp("shard-\(prefix)-\(bin).pb")
            let r = try CLITests.run([
                "run", "profiles/hub-drop-storm.yaml", "--devices", "60", "--set", "fleet.id_prefix=\(prefix)-",
                "--set", "telemetry.messages=15", "--set", "telemetry.interval=200ms", "--set",
                "faults=[{at: 1s, kind: drop}]", "--bin", bin, "--quiet", "--output", path,
            ])
            guard r.status == 0 else { throw TestFailure("shard failed: \(r.stderr)") }
            return path
        }

        static let shards = Result { (try shard("a"), try shard("b")) }

        @Test func twoShardsAddUp() throws {
            let (a, b) = try Self.shards.get()
            let merged = CLITests.temp("merged.pb")
            defer { try? FileManager.default.removeItem(atPath: merged) }
            let r = try CLITests.run(["merge", a, b, "--output", merged])
            #expect(r.status == 0, "\(r.stderr)")
            let (ra, rb, m) = (try ReportFile.read(a), try ReportFile.read(b), try ReportFile.read(merged))
            #expect(m.run.kind == "merge" && m.run.devices == 120)
            #expect(m.accounting.generated == ra.accounting.generated + rb.accounting.generated)
            #expect(m.accounting.acked == ra.accounting.acked + rb.accounting.acked)
            #expect(m.hub.messagesReceived == ra.hub.messagesReceived + rb.hub.messagesReceived)
            for name in ["connect", "publish_ack", "reconnect"] {
                let count = { (r: Fleetstorm_Report_V1_Report) in r.histograms.first { $0.name == name }?.count ?? 0 }
                #expect(count(m) == count(ra) + count(rb), "\(name) histograms add up")
                let p99 = m.histograms.first { $0.name == name }?.p99 ?? 0
                let bounds = [ra, rb].compactMap { $0.histograms.first { $0.name == name }?.p99 }
                #expect(
                    p99 >= (bounds.min() ?? 0) && p99 <= (bounds.max() ?? 0),
                    "the merged p99 lies between the shards'"
                )
            }
            let attempts = { (r: Fleetstorm_Report_V1_Report) in
                r.series.series.first { $0.name == "attempts" }?.values.reduce(0, +) ?? 0
            }
            #expect(attempts(m) == attempts(ra) + attempts(rb))
            let storm = try #require(m.storms.first)
            #expect(storm.fault == "drop@1s" && storm.affected == 120, "one storm, recomputed over both shards")
            #expect(m.faults.count == 1 && m.faults[0].affected == 120)
            let text = try CLITests.run(["report", merged])
            #expect(text.stdout.contains("FleetStorm merged shards"))
        }

        @Test func mismatchedBinsAndForeignFilesAreClearErrors() throws {
            let (a, fine) = (try Self.shards.get().0, try Self.shard("d", bin: "50ms"))
            let junk = CLITests.temp("junk.pb")
            defer { for f in [fine, junk] { try? FileManager.default.removeItem(atPath: f) } }
            let bins = try CLITests.run(["merge", a, fine, "--output", CLITests.temp("never.pb")])
            #expect(bins.status != 0)
            #expect(bins.stderr.contains("bins") && bins.stderr.contains("--bin"), "\(bins.stderr)")
            try Data("not a report".utf8).write(to: URL(fileURLWithPath: junk))
            let foreign = try CLITests.run(["merge", a, junk, "--output", CLITests.temp("never.pb")])
            #expect(foreign.status != 0 && foreign.stderr.contains("not a FleetStorm report"), "\(foreign.stderr)")
            #expect(foreign.stderr.split(separator: "\n").count == 1, "one line")
        }
    }
}
