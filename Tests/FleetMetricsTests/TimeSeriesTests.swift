import FleetCore
import Testing

@testable import FleetMetrics

@Suite("Time series")
struct TimeSeriesTests {
    static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    @Test func countersAndGauges() {
        var t = TimeSeries(bin: .milliseconds(100))
        t.add(.attempts, at: Self.at(0))
        t.add(.attempts, at: Self.at(99))
        t.add(.attempts, 3, at: Self.at(250))
        t.set(.connected, 5, at: Self.at(120))
        #expect(t.series(.attempts) == [2, 0, 3])
        #expect(t.series(.connected) == [0, 5, 5], "a gauge carries its value forward")
        #expect(t.series(.acked) == [0, 0, 0])
    }

    @Test func memoryIsBoundedByCoarsening() {
        var t = TimeSeries(bin: .milliseconds(100), maxBins: 8)
        for i in 0..<100 { t.add(.acked, at: Self.at(Int64(i) * 100)) }
        #expect(t.binCount <= 8)
        #expect(t.binNanoseconds == 1_600_000_000, "100 ms doubled four times")
        #expect(t.series(.acked).reduce(0, +) == 100, "coarsening loses no counts")
    }

    @Test func mergeAlignsBinsAndWidths() {
        var a = TimeSeries(bin: .milliseconds(100))
        var b = TimeSeries(bin: .milliseconds(100), maxBins: 4)
        a.add(.attempts, at: Self.at(50))
        a.set(.connected, 2, at: Self.at(50))
        for i in 0..<8 { b.add(.attempts, at: Self.at(Int64(i) * 100)) }
        b.set(.connected, 3, at: Self.at(0))
        a.merge(b)
        #expect(a.binNanoseconds == 200_000_000)
        #expect(a.series(.attempts) == [3, 2, 2, 2])
        #expect(a.series(.connected) == [5, 5, 5, 5])
    }
}
