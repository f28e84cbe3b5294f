internal import Foundation

/// Latency over time for heat maps: each recorded latency also counts in its time bin and one of 42 log-spaced
/// buckets (6 per decade from 10 µs to 100 s; the first also holds everything faster, the last everything slower).
/// The counts live in the run's `TimeSeries` as one labelled series per bucket (`heat_publish_ack:17`), so they
/// share its bins, its coarsening of long runs and its merge across loops; the report stores them compactly.
public enum LatencyHeat {
    public static let lowestNanoseconds: UInt64 = 10_000
    public static let perDecade = 6
    public static let buckets = 42
    /// The latencies drawn as heat maps, in the order reports list them.
    public static let names = ["connect", "publish_ack"]
    static let prefix = "heat_"

    /// The bucket of a latency: the number of bucket edges at or below it (no logarithm per recorded latency; a
    /// test checks every edge against `loggedBucket`).
    public static func bucket(_ nanoseconds: Int64) -> Int {
        guard nanoseconds > lowest else { return 0 }
        // Binary search for the last edge ≤ nanoseconds (edges[0] is bucket 1's).
        var low = 0
        var high = edges.count
        while low < high {
            let mid = (low + high) / 2
            if edges[mid] <= nanoseconds { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// `lowestNanoseconds` as the latencies' type (a constant: no conversion per recorded latency).
    static let lowest: Int64 = 10_000

    /// The bucket by its definition: ⌊log10(latency / 10 µs) × 6⌋, clamped to 0 … 41.
    static func loggedBucket(_ nanoseconds: Int64) -> Int {
        let ratio = Double(nanoseconds) / Double(lowestNanoseconds)
        guard ratio > 1 else { return 0 }
        return min(buckets - 1, Int(saturating: log10(ratio) * Double(perDecade)))
    }

    /// The smallest latency (ns) of buckets 1 … 41 by `loggedBucket`, found by bisection once.
    static let edges: [Int64] = (1..<buckets).map { k in
        var low = lowest
        var high = lowest * 10_000_000  // 100 s: past the last edge
        while low < high {
            let mid = low + (high - low) / 2
            if loggedBucket(mid) >= k { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// The lower edge of bucket `k` in nanoseconds.
    public static func lowerEdge(_ k: Int) -> Double {
        Double(lowestNanoseconds) * pow(10, Double(k) / Double(perDecade))
    }

    /// The series key of bucket `k` of the heat named `name`.
    public static func key(_ name: String, bucket k: Int) -> String { "\(prefix)\(name):\(k)" }

    /// The heat name and bucket of a series key, or nil for any other series.
    public static func parse(_ key: String) -> (name: String, bucket: Int)? {
        guard key.hasPrefix(prefix), let colon = key.lastIndex(of: ":"),
            let k = Int(key[key.index(after: colon)...]), k >= 0, k < buckets
        else { return nil }
        return (String(key[key.index(key.startIndex, offsetBy: prefix.count)..<colon]), k)
    }
}
