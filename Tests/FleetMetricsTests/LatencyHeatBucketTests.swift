import FleetCore
import Foundation
import Testing

@testable import FleetMetrics

/// The heat maps' bucket of a latency is found by bisection over precomputed edges (no logarithm per recorded
/// latency); it must be exactly the bucket of its definition, ⌊log10(latency / 10 µs) × 6⌋ clamped to 0 … 41, at
/// every edge, on both sides of it, and for random latencies over the whole range.
@Suite("Latency heat buckets")
struct LatencyHeatBucketTests {
    @Test func edgesAgreeWithTheDefinition() {
        #expect(LatencyHeat.edges.count == LatencyHeat.buckets - 1)
        #expect(zip(LatencyHeat.edges, LatencyHeat.edges.dropFirst()).allSatisfy { $0 < $1 }, "edges rise")
        for edge in LatencyHeat.edges {
            for v in [edge - 1, edge, edge + 1] {
                #expect(LatencyHeat.bucket(v) == LatencyHeat.loggedBucket(v), "at \(v) ns")
            }
        }
        var rng = SplitMix64(seed: 77)
        for _ in 0..<200_000 {
            // Log-uniform from 1 ns to 1,000 s, and uniform up to 200 s.
            let logUniform = Int64(pow(10, Double(rng.next() % 1_200) / 100).rounded())
            let uniform = Int64(rng.next() % 200_000_000_000)
            for v in [logUniform, uniform] {
                #expect(LatencyHeat.bucket(v) == LatencyHeat.loggedBucket(v), "at \(v) ns")
            }
        }
        for v in [Int64.min, -1, 0, 1, 10_000, 10_001, Int64.max] {
            #expect(LatencyHeat.bucket(v) == LatencyHeat.loggedBucket(v), "at \(v) ns")
        }
    }

}
