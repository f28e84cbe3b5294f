import FleetCore
import FleetMetrics
import Histogram
import Testing

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
        #expect(abs(s.peakAttemptRate1s - 20) < 1e-9, "a window shorter than 1 s: all of it over its length")
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
