public import Histogram

/// The layout every FleetStorm latency histogram uses: nanoseconds, 1 µs to 1 h, 3 significant digits.
/// All histograms share it, so snapshots from different loops, processes and runs merge without a layout check
/// failing (hdrhistogram-swift traps on mismatched layouts).
public enum LatencyLayout {
    public static let lowest: UInt64 = 1_000
    public static let highest: UInt64 = 3_600_000_000_000
    public static let digits: SignificantDigits = .three

    public static func make() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: lowest,
            highestTrackableValue: highest,
            numberOfSignificantValueDigits: digits
        )
    }

    /// True when `h` can be added to a histogram made by `make()`.
    public static func matches(_ h: Histogram<UInt64>) -> Bool {
        h.lowestDiscernibleValue == lowest && h.highestTrackableValue == highest
            && h.numberOfSignificantValueDigits == digits
    }

    /// Records a latency in nanoseconds, clamped into the trackable range (a negative one counts as 0).
    public static func record(_ nanoseconds: Int64, in h: inout Histogram<UInt64>) {
        let v = UInt64(max(0, min(Int64(highest), nanoseconds)))
        _ = h.record(v)
    }
}

/// Summary percentiles of one histogram, in its unit.
public struct PercentileSummary: Sendable, Hashable {
    public var count: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64

    public init(count: UInt64, p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64, max: UInt64) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
    }

    public init(_ h: Histogram<UInt64>) {
        if h.totalCount == 0 {
            self.init(count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0)
        } else {
            self.init(
                count: h.totalCount,
                p50: h.valueAtPercentile(50),
                p90: h.valueAtPercentile(90),
                p99: h.valueAtPercentile(99),
                p999: h.valueAtPercentile(99.9),
                max: h.max
            )
        }
    }
}
