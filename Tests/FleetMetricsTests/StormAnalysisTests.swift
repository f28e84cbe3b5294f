import FleetCore
import Histogram
import Testing

@testable import FleetMetrics

@Suite("Storm metrics from the series (storm-metrics.md)")
struct StormAnalysisTests {
    /// 100 ms bins; a drop at 1.05 s loses 10 devices in bin 10; they come back 4 in bin 12, 4 in bin 13, 2 in bin 15.
    static func input() -> StormAnalysis.Input {
        var attempts = [UInt64](repeating: 0, count: 20)
        var accepted = attempts
        var lost = attempts
        var back = attempts
        attempts[0] = 10
        accepted[0] = 10
        lost[10] = 10
        attempts[12] = 6  // 2 refused
        accepted[12] = 4
        back[12] = 4
        attempts[13] = 4
        accepted[13] = 4
        back[13] = 4
        attempts[15] = 2
        accepted[15] = 2
        back[15] = 2
        let named = ["attempts": attempts, "accepted": accepted, "lost": lost, "reconnected": back]
        return StormAnalysis.Input(
            binNanoseconds: 100_000_000,
            series: { named[$0] ?? [] },
            runEndNanoseconds: 2_000_000_000
        )
    }

    @Test func stormRecordFollowsTheDefinitions() throws {
        let drop = StormAnalysis.Fault(
            label: "drop@1.05s",
            startNanoseconds: 1_050_000_000,
            endNanoseconds: 1_050_000_000
        )
        let records = StormAnalysis.analyze([drop], Self.input())
        #expect(records.map(\.fault) == ["drop@1.05s", "run"])
        let s = records[0]
        #expect(s.affected == 10 && s.recovered == 10 && s.neverRecovered == 0)
        #expect(s.endNanoseconds == 1_600_000_000, "the end of the bin the last device came back in")
        // Window: bins 10...15 (6 bins, 0.6 s), 12 attempts.
        #expect(s.attempts == 12)
        #expect(abs(s.peakAttemptRate - 60) < 1e-9, "6 attempts in a 100 ms bin")
        #expect(abs(s.meanAttemptRate - 20) < 1e-9, "12 attempts over 0.6 s")
        #expect(abs(s.peakToMean - 3) < 1e-9)
        // storm-metrics.md: "peak attempt rate: ... over a 1 s sliding window". The storm lasts 0.6 s, so its busiest
        // second holds all 12 attempts: 12/s, never more than the attempts made (it was 20/s, the mean over 0.6 s).
        #expect(abs(s.peakAttemptRate1s - 12) < 1e-9, "a storm shorter than 1 s: all its attempts in one second")
        #expect(s.peakAttemptRate1s <= Double(s.attempts))
        #expect(s.t50 == Int64(350_000_000), "5 of 10 back by the end of bin 13 (1.4 s)")
        #expect(s.t90 == Int64(550_000_000))
        #expect(s.t100 == s.t99 && s.t100 == Int64(550_000_000))
        #expect(abs(s.attemptsPerDevice - 1.2) < 1e-9)
        #expect(abs(s.wastedFraction - 2.0 / 12.0) < 1e-9)
        // Per-bin attempts 0,0,6,4,0,2: mean 2, population stddev sqrt((4+4+16+4+4+0)/6).
        #expect(abs(s.cv - (32.0 / 6.0).squareRoot() / 2) < 1e-9)
        #expect(abs(s.syncIndex - 0.5) < 1e-9, "the busiest 1 % of 6 bins is one bin: 6 of 12 attempts")
        let run = records[1]
        #expect(run.affected == 10 && run.attempts == 22 && run.startNanoseconds == 0)
    }

    @Test func devicesThatNeverCameBackLeaveTheStormOpen() {
        var input = Self.input()
        input.reconnected[15] = 0
        let s = StormAnalysis.analyze(
            [StormAnalysis.Fault(label: "drop", startNanoseconds: 1_000_000_000, endNanoseconds: 1_000_000_000)],
            input
        )[0]
        #expect(s.recovered == 8 && s.neverRecovered == 2)
        #expect(s.t100 == nil && s.t99 == nil && s.t90 == nil && s.t50 != nil)
        #expect(s.endNanoseconds == 1_400_000_000, "ends when the last device that recovered was back")
    }

    @Test func faultWithoutLossesSpansItsWindow() {
        let outage = StormAnalysis.Fault(label: "outage", startNanoseconds: 300_000_000, endNanoseconds: 800_000_000)
        let drop = StormAnalysis.Fault(label: "drop", startNanoseconds: 1_050_000_000, endNanoseconds: 1_050_000_000)
        let records = StormAnalysis.analyze([drop, outage], Self.input())
        #expect(records.map(\.fault) == ["outage", "drop", "run"], "in start order")
        let s = records[0]
        #expect(s.affected == 0 && s.t50 == nil && s.endNanoseconds == 800_000_000)
        #expect(records[1].affected == 10, "the drop's losses are the drop's")
    }

    @Test func ksDistance() {
        var h = LatencyLayout.make()
        for v in stride(from: 1_000_000, through: 100_000_000, by: 1_000_000) { LatencyLayout.record(Int64(v), in: &h) }
        let same = (1...100).map { Int64($0) * 1_000_000 }
        #expect(Dispersion.ksDistance(observed: h, predicted: same) < 0.02)
        let shifted = same.map { $0 + 50_000_000 }
        #expect(abs(Dispersion.ksDistance(observed: h, predicted: shifted) - 0.5) < 0.02)
        #expect(Dispersion.ksDistance(observed: h, predicted: []) == 0)
    }
}

@Suite("HdrHistogram V2 encoding")
struct HdrV2Tests {
    @Test func roundTripKeepsEveryCount() throws {
        var rng = SplitMix64(seed: 5)
        var h = LatencyLayout.make()
        for _ in 0..<20_000 { LatencyLayout.record(Int64(1_000 + rng.next() % 50_000_000_000), in: &h) }
        LatencyLayout.record(1_000, in: &h)
        LatencyLayout.record(3_600_000_000_000, in: &h)
        let bytes = try HdrV2.encode(h)
        #expect(Array(bytes.prefix(4)) == [0x1c, 0x84, 0x93, 0x14], "the compressed V2 cookie")
        let back = try HdrV2.decode(bytes)
        #expect(back.totalCount == h.totalCount)
        for p in [10.0, 50, 90, 99, 99.9] { #expect(back.valueAtPercentile(p) == h.valueAtPercentile(p)) }
        // The encoding keeps buckets, not the exact extremes: min and max come back as their bucket's values.
        func sameBucket(_ a: UInt64, _ b: UInt64) -> Bool {
            Double(max(a, b) - min(a, b)) <= Double(max(a, b)) / 1000 + 512
        }
        #expect(sameBucket(back.min, h.min) && sameBucket(back.max, h.max))
    }

    @Test func damagedBytesAreErrorsNotCrashes() throws {
        var h = LatencyLayout.make()
        LatencyLayout.record(5_000_000, in: &h)
        let good = try HdrV2.encode(h)
        #expect(throws: HdrV2.Failure.self) { try HdrV2.decode([1, 2, 3]) }
        #expect(throws: HdrV2.Failure.self) { try HdrV2.decode(Array(good.dropLast(3))) }
        var rng = SplitMix64(seed: 8)
        for _ in 0..<500 {
            var bad = good
            bad[8 + Int(rng.next() % UInt64(good.count - 8))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            _ = try? HdrV2.decode(bad)  // must not trap
        }
    }
}

/// Crafted V2 encodings that killed `report` and `merge` before the decoder bounded every run, index and count by the
/// layout (each one trapped: arithmetic overflow, or an allocation of hundreds of gigabytes).
@Suite("HdrHistogram V2: crafted encodings are errors")
struct HdrV2CraftedTests {
    /// FleetStorm's layout header and `payload` (ZigZag LEB128 counts), compressed as a report stores it.
    static func encoding(_ payload: [UInt8]) throws -> [UInt8] {
        var raw: [UInt8] = []
        HdrV2.put32(HdrV2.encodingCookie, into: &raw)
        HdrV2.put32(UInt32(payload.count), into: &raw)
        HdrV2.put32(0, into: &raw)
        HdrV2.put32(3, into: &raw)
        HdrV2.put64(LatencyLayout.lowest, into: &raw)
        HdrV2.put64(LatencyLayout.highest, into: &raw)
        HdrV2.put64((1.0 as Double).bitPattern, into: &raw)
        return try HdrV2.compress(raw + payload)
    }

    static func zigZag(_ values: [Int64]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values { HdrV2.putZigZag(v, into: &out) }
        return out
    }

    @Test func aValidCraftedEncodingReads() throws {
        let h = try HdrV2.decode(Self.encoding(Self.zigZag([-5, 3, 2])))
        #expect(h.totalCount == 5)
    }

    @Test(
        arguments: [
            [Int64.min],  // a run of 2^63 empty slots: its negation overflowed
            [-(1 << 62), -(1 << 62), 1],  // runs whose sum overflowed the slot index
            [-1_000_000, 1],  // a count past the last slot
            [Int64.max, Int64.max],  // counts whose sum overflows
            [1 << 62, 1],  // past the 2^62 total a report may hold
        ] as [[Int64]]
    )
    func craftedCountsThrow(values: [Int64]) throws {
        let bytes = try Self.encoding(Self.zigZag(values))
        #expect(throws: HdrV2.Failure.self) { try HdrV2.decode(bytes) }
    }

    @Test func aLengthThatInflatesBeyondTheLayoutIsRefusedWithoutAllocatingForIt() throws {
        // 64 MiB of zeros compress to 64 KiB: the old decoder grew its buffer to hold them all.
        let bytes = try HdrV2.compress([UInt8](repeating: 0, count: 64 << 20))
        #expect(throws: HdrV2.Failure.self) { try HdrV2.decode(bytes) }
    }
}

@Suite("Storms of faults that start together")
struct StormGroupingTests {
    @Test func faultsInOneBinShareARecord() {
        let faults = [
            StormAnalysis.Fault(label: "outage@1s+3s", startNanoseconds: 1_000_000_000, endNanoseconds: 4_000_000_000),
            StormAnalysis.Fault(label: "drop@1s", startNanoseconds: 1_000_000_001, endNanoseconds: 1_000_000_001),
        ]
        let records = StormAnalysis.analyze(faults, StormAnalysisTests.input())
        #expect(records.map(\.fault) == ["outage@1s+3s + drop@1s", "run"])
        #expect(records[0].affected == 10, "the losses are counted once")
    }
}
