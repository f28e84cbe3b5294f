import FleetCore
import FleetMetrics
import Foundation
import Testing

@testable import FleetReport

/// The latency heat maps: buckets against their edges, the recorder's cells against independently counted series,
/// the report's compact form against the grid it encodes (and against damage), merges against the sum of inputs.
@Suite("Latency heat maps")
struct HeatTests {
    @Test("a latency lands in the bucket whose edges hold it; the outer buckets hold everything beyond")
    func bucketsMatchTheirEdges() {
        var rng = SplitMix64(seed: 21)
        for _ in 0..<20_000 {
            let v = Int64(pow(10, Double(rng.next() % 12_000) / 1_000))  // 1 ns … 1,000 s
            let k = LatencyHeat.bucket(v)
            #expect(k >= 0 && k < LatencyHeat.buckets)
            if k > 0 { #expect(Double(v) >= LatencyHeat.lowerEdge(k) * (1 - 1e-12), "\(v) in \(k)") }
            if k < LatencyHeat.buckets - 1 { #expect(Double(v) < LatencyHeat.lowerEdge(k + 1), "\(v) in \(k)") }
        }
        #expect(LatencyHeat.bucket(-5) == 0 && LatencyHeat.bucket(Int64.max) == LatencyHeat.buckets - 1)
        #expect(LatencyHeat.lowerEdge(LatencyHeat.buckets) == 100e9, "42 bands, 6 per decade, 10 µs … 100 s")
        #expect(LatencyHeat.parse("heat_publish_ack:17")! == ("publish_ack", 17))
        #expect(LatencyHeat.parse("heat_connect:42") == nil && LatencyHeat.parse("refused:5") == nil)
    }

    @Test("the recorder's heat holds every ack and CONNACK in the bin the series counted it in")
    func recorderHeatAgreesWithTheSeries() throws {
        var rng = SplitMix64(seed: 22)
        let recorder = Recorder()
        for _ in 0..<5_000 {
            let at = Instant(nanoseconds: Int64(rng.next() % 30_000_000_000))
            let latency = Duration.nanoseconds(Int64(rng.next() % 5_000_000_000))
            recorder.record(rng.next() % 4 == 0 ? .connected(latency: latency) : .acked(latency: latency), at: at)
        }
        let snapshot = recorder.capture()
        let report = ReportBuilder.build(facts: ReportTests.facts, snapshot: snapshot, hub: nil)
        #expect(!report.series.series.contains { LatencyHeat.parse($0.name) != nil }, "heat stays out of series")
        for (name, series) in [("publish_ack", "acked"), ("connect", "accepted")] {
            let heat = try #require(report.heat.first { $0.name == name })
            let grid = try HeatCodec.decode(heat)
            let counted = try #require(report.series.series.first { $0.name == series }).values
            let perBin = grid.counts.map { $0.reduce(0, +) }
            #expect(perBin == Array(counted.prefix(perBin.count)), "\(name) per bin")
            #expect(counted.dropFirst(perBin.count).allSatisfy { $0 == 0 })
            let histogram = try #require(report.histograms.first { $0.name == name })
            #expect(perBin.reduce(0, +) == histogram.count)
        }
    }

    static func randomGrid(_ rng: inout SplitMix64, name: String = "publish_ack") -> HeatCodec.Grid {
        let bins = Int(rng.next() % 300)
        var counts = [[UInt64]](repeating: [UInt64](repeating: 0, count: LatencyHeat.buckets), count: bins)
        for _ in 0..<Int(rng.next() % 400) where bins > 0 {
            counts[Int(rng.next() % UInt64(bins))][Int(rng.next() % UInt64(LatencyHeat.buckets))] += rng.next() % 1_000
        }
        // The encoder keeps bins up to the last non-empty one (trailing empty bins carry nothing).
        while let last = counts.last, last.allSatisfy({ $0 == 0 }) { counts.removeLast() }
        return HeatCodec.Grid(name: name, counts: counts)
    }

    @Test("the compact form decodes to the grid it encoded; damaged ones are refused with the field named")
    func codecRoundTripAndDamage() throws {
        var rng = SplitMix64(seed: 23)
        for _ in 0..<300 {
            let grid = Self.randomGrid(&rng)
            let heat = HeatCodec.encode(grid)
            #expect(heat.cells.count == grid.counts.flatMap { $0 }.filter { $0 > 0 }.count, "only non-empty cells")
            #expect(try HeatCodec.decode(heat) == grid)
            // Damage of every kind a file can hold: never a trap, always a named refusal or a grid.
            var damaged = heat
            switch rng.next() % 5 {
            case 0: damaged.counts.append(1)
            case 1: damaged.cells.append(UInt64.max)
            case 2: damaged.buckets = 40
            case 3: damaged.cells += damaged.cells.isEmpty ? [0, 0] : [0]  // a cell twice
            default: damaged.cells.append(UInt64(HeatCodec.maxBins * LatencyHeat.buckets))
            }
            while damaged.counts.count < damaged.cells.count { damaged.counts.append(1) }
            #expect(throws: HeatCodec.DamagedHeat.self) { try HeatCodec.decode(damaged) }
        }
        for _ in 0..<2_000 {
            var heat = HeatCodec.encode(Self.randomGrid(&rng))
            heat.cells = (0..<Int(rng.next() % 20)).map { _ in rng.next() % 4 == 0 ? rng.next() : rng.next() % 100 }
            heat.counts = (0..<Int(rng.next() % 20)).map { _ in rng.next() }
            _ = try? HeatCodec.decode(heat)
        }
    }

    @Test("merged shards' heat is the sum of theirs, shifted by their starts; the page draws the sum")
    func mergeAddsHeat() throws {
        var rng = SplitMix64(seed: 24)
        for _ in 0..<50 {
            let a = Self.randomGrid(&rng)
            let b = Self.randomGrid(&rng)
            let shift = Int(rng.next() % 3)
            var shards = [ShardMergeTests.shard(0, of: 2, devices: 500), ShardMergeTests.shard(1, of: 2, devices: 500)]
            for i in 0..<2 { shards[i].report.series.binNs = 100_000_000 }
            shards[1].report.run.startedUnixNs += Int64(shift) * 100_000_000
            shards[0].report.heat = [HeatCodec.encode(a)]
            shards[1].report.heat = [HeatCodec.encode(b)]
            let merged = try ReportMerge.merge(shards)
            var model = a.counts
            let empty = [UInt64](repeating: 0, count: LatencyHeat.buckets)
            while model.count < shift + b.counts.count { model.append(empty) }
            for (i, row) in b.counts.enumerated() { for (k, n) in row.enumerated() { model[shift + i][k] += n } }
            while let last = model.last, last == empty { model.removeLast() }
            let grid = try HeatCodec.decode(try #require(merged.heat.first))
            #expect(grid.counts == model)
            let page = HTMLReport.render(merged)
            let expected = HeatChart.render(
                HeatCodec.Grid(name: "publish_ack", counts: model),
                binSeconds: 0.1,
                bins: max(model.count, merged.series.series.map(\.values.count).max() ?? 0),
                spans: []
            )
            #expect(page.contains(expected) || model.isEmpty)
        }
    }
}
