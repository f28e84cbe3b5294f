import FleetCore
import FleetMetrics
import FleetReport
import Testing

/// Per message kind (a profile's mix): the recorder counts each kind apart from the totals, the report carries the
/// counts and a publish_ack histogram per kind, merged shards add them up, the text names them.
@Suite("Message kinds in reports")
struct MessageKindReportTests {
    /// A recorder fed seeded events of two kinds; returns it with the counts the test kept itself.
    static func recorded(seed: UInt64) -> (Recorder, generated: [UInt64], acked: [UInt64]) {
        let recorder = Recorder(kinds: ["reading", "blob"])
        var rng = SplitMix64(seed: seed)
        var generated: [UInt64] = [0, 0]
        var acked: [UInt64] = [0, 0]
        for i in 0..<2_000 {
            let kind = UInt8(rng.next() % 10 == 0 ? 1 : 0)
            let at = Instant(nanoseconds: Int64(i) * 1_000_000)
            recorder.record(.generated(qos: kind == 0 ? .atLeastOnce : .atMostOnce, kind: kind), at: at)
            generated[Int(kind)] += 1
            if kind == 0 && rng.next() % 5 != 0 {
                recorder.record(.acked(latency: .microseconds(Int64(100 + rng.next() % 5_000)), kind: kind), at: at)
                acked[0] += 1
            }
        }
        // A kind index no mix has (from a bug elsewhere) is counted in the totals only, never out of bounds.
        recorder.record(.generated(qos: .atLeastOnce, kind: 7), at: .zero)
        return (recorder, generated, acked)
    }

    @Test("recorded per kind, reported, merged and shown")
    func perKind() throws {
        let (ra, ga, aa) = Self.recorded(seed: 1)
        let (rb, gb, ab) = Self.recorded(seed: 2)
        let a = ReportBuilder.build(facts: ReportTests.facts, snapshot: ra.capture(), hub: nil)
        let b = ReportBuilder.build(facts: ReportTests.facts, snapshot: rb.capture(), hub: nil)
        #expect(a.accounting.generatedByKind == ["reading": ga[0], "blob": ga[1]])
        #expect(a.accounting.ackedByKind == ["reading": aa[0], "blob": 0])
        #expect(a.accounting.generated == ga[0] + ga[1] + 1, "the stray kind is in the total")
        let readings = try #require(a.histograms.first { $0.name == "publish_ack" && $0.kind == "reading" })
        #expect(readings.count == aa[0])
        #expect(!a.histograms.contains { $0.kind == "blob" }, "no acknowledged blob, no histogram")
        let total = try #require(a.histograms.first { $0.name == "publish_ack" && $0.kind.isEmpty })
        #expect(total.count == aa[0])

        var shards = [ShardMergeTests.shard(0, of: 2, devices: 500), ShardMergeTests.shard(1, of: 2, devices: 500)]
        shards[0].report.accounting = a.accounting
        shards[0].report.histograms = a.histograms
        shards[1].report.accounting = b.accounting
        shards[1].report.histograms = b.histograms
        let merged = try ReportMerge.merge(shards)
        #expect(merged.accounting.generatedByKind == ["reading": ga[0] + gb[0], "blob": ga[1] + gb[1]])
        #expect(merged.accounting.ackedByKind["reading"] == aa[0] + ab[0])
        let mergedReadings = try #require(merged.histograms.first { $0.name == "publish_ack" && $0.kind == "reading" })
        #expect(mergedReadings.count == aa[0] + ab[0])
        let text = TextSummary.render(a)
        #expect(
            text.contains(
                "messages by kind: blob \(ga[1]) generated, 0 acked; reading \(ga[0]) generated, \(aa[0]) acked"
            )
        )
        #expect(text.contains("publish_ack [reading]"))
        let page = HTMLReport.render(a)
        #expect(page.contains("<h2>Message kinds</h2>"))
        #expect(page.contains("<tr><td>blob</td><td>\(ga[1])</td><td>0</td><td>—</td><td>—</td><td>—</td></tr>"))
        #expect(page.contains("<tr><td>reading</td><td>\(ga[0])</td><td>\(aa[0])</td>"))
    }
}
