import FleetCore
import FleetMetrics
import Foundation
import Histogram
import Testing

@testable import FleetReport

/// The pages' curves and axes against simple models: a sorted array for percentiles and shares, the definition of
/// a tick for the axes (inside the range, increasing, no label repeating its neighbour), over seeded random inputs.
@Suite("Charts and the comparison page")
struct ChartTests {
    static func histogram(_ name: String, _ values: [Int64], attempt: UInt32 = 0) -> Fleetstorm_Report_V1_Histogram {
        var full = LatencyLayout.make()
        for v in values { LatencyLayout.record(v, in: &full) }
        var h = Fleetstorm_Report_V1_Histogram()
        h.name = name
        h.attempt = attempt
        let s = PercentileSummary(full)
        (h.count, h.p50, h.p90, h.p99, h.p999, h.max) = (s.count, s.p50, s.p90, s.p99, s.p999, s.max)
        h.hdrV2 = Data(try! HdrV2.encode(full))
        return h
    }

    /// Latency-like samples: log-normal-ish, from 50 µs to minutes, with a heavy tail.
    static func samples(_ n: Int, _ rng: inout SplitMix64) -> [Int64] {
        (0..<n).map { _ in
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            let tail = Double(rng.next() % 100) == 0 ? 50.0 : 1.0
            return Int64(50_000 * pow(10, 3 * u) * tail)
        }
    }

    @Test("the percentile distribution reads the histogram: each point is the model's value at that percentile")
    func percentileCurveMatchesASortedArray() {
        var rng = SplitMix64(seed: 11)
        for round in 0..<20 {
            let n = [1, 7, 95, 1_000, 9_000, 120_000][round % 6]
            let values = Self.samples(n, &rng)
            let sorted = values.sorted()
            let h = Self.histogram("connect", values)
            let points = LatencyCurves.percentiles(h)
            let nines = LatencyCurves.nines(h)
            #expect(nines == min(5, max(1, Int(log10(Double(n)).rounded(.up)))), "one nine per decade of \(n)")
            #expect(points.first?.x == 0 && points.last?.x == Double(nines))
            #expect(points.last.map { UInt64($0.y) } == h.max, "the curve ends at the maximum")
            for (a, b) in zip(points, points.dropFirst()) {
                #expect(a.x < b.x && a.y <= b.y, "percentile and latency both grow along the curve")
            }
            for p in points.dropLast() {
                // The model: the sample of rank ceil(q·n) in sorted order, q = 1 − 10^−x (a rank either side where
                // q·n is a whole number and rounding may go either way), within the histogram's 3 digits.
                let q = 1 - pow(10, -p.x)
                let rank = Int((q * Double(n)).rounded(.up))
                let low = Double(sorted[min(n - 1, max(0, rank - 2))])
                let high = Double(sorted[min(n - 1, max(0, rank))])
                #expect(p.y >= low * 0.998 - 1_000 && p.y <= high * 1.002 + 1_000, "x \(p.x) of \(n): \(p.y)")
            }
        }
    }

    @Test("a report without hdr_v2 bytes still draws its five summary percentiles, ending at its maximum")
    func summaryFallback() {
        var h = Fleetstorm_Report_V1_Histogram()
        (h.count, h.p50, h.p90, h.p99, h.p999, h.max) = (5_000, 10, 20, 30, 40, 50)
        let points = LatencyCurves.percentiles(h)
        #expect(points.map(\.y) == [10, 20, 30, 40, 50])
        #expect(points.last?.x == 4)
        h.count = 50
        #expect(LatencyCurves.percentiles(h).map(\.y) == [10, 20, 50], "beyond the data's nines only the maximum")
    }

    @Test("the cumulative curve is the share of samples at or below each value")
    func cumulativeMatchesTheModel() {
        var rng = SplitMix64(seed: 12)
        for n in [1, 3, 50, 2_000, 30_000] {
            let values = Self.samples(n, &rng)
            let h = Self.histogram("retry_delay", values, attempt: 1)
            let full = try! HdrV2.decode(Array(h.hdrV2))
            let curve = LatencyCurves.cumulative(h)
            #expect(curve.first?.y == 0 && curve.last?.y == 1)
            for (a, b) in zip(curve, curve.dropFirst()) { #expect(a.x <= b.x && a.y <= b.y) }
            // At each point the share is the model's count of samples in the same or a lower histogram bucket.
            let buckets = values.map { full.highestEquivalentForValue(UInt64($0)) }.sorted()
            #expect(curve.count <= 1_002, "a point per 0.1 % at most")
            for p in curve.dropFirst() {
                let atOrBelow = buckets.partitioningIndex { $0 > UInt64(p.x) }
                #expect(abs(p.y - Double(atOrBelow) / Double(n)) < 1e-9, "\(n) samples at \(p.x)")
            }
        }
    }

    @Test("axis ticks lie inside the range, grow, and never print like their neighbour")
    func ticksOverRandomRanges() {
        var rng = SplitMix64(seed: 13)
        for _ in 0..<2_000 {
            let lo = pow(10, 3 + Double(rng.next() % 8_000) / 1_000)
            let ratio = pow(10, Double(rng.next() % 6_000) / 1_000) * 1.5
            let log = SVGPlot.logTicks(lo, lo * ratio) { SVGPlot.duration($0) }
            #expect(log.count >= 2, "\(lo) × \(ratio): \(log.map(\.label))")
            check(log, lo, lo * ratio)
            let a = (Double(rng.next() % 20_001) - 10_000) / Double(1 + rng.next() % 1_000)
            let b = a + Double(1 + rng.next() % 100_000) / Double(1 + rng.next() % 10_000)
            let linear = SVGPlot.linearTicks(a, b, unit: "s")
            #expect(linear.count >= 3 && linear.count <= 9, "\(a)…\(b): \(linear.map(\.label))")
            check(linear, a, b)
        }
        func check(_ ticks: [SVGPlot.Tick], _ lo: Double, _ hi: Double) {
            let slack = (hi - lo) * 1e-9
            #expect(ticks.allSatisfy { $0.value >= lo - slack && $0.value <= hi + slack }, "\(lo)…\(hi)")
            for (t, u) in zip(ticks, ticks.dropFirst()) {
                #expect(t.value < u.value && t.label != u.label, "\(lo)…\(hi): \(t.label) then \(u.label)")
            }
        }
        for v in [1.0, 1.5, 3, 7, 9.99, 10, 123, 0.04] {
            let (down, up) = (SVGPlot.round125(v, up: false), SVGPlot.round125(v, up: true))
            #expect(down <= v && v <= up && up / down <= 2.5 + 1e-9, "\(v): \(down)…\(up)")
        }
        #expect(SVGPlot.round125(3, up: true) == 5 && SVGPlot.round125(3, up: false) == 2)
        #expect(SVGPlot.percentileTicks(nines: 5).map(\.label) == ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
        #expect(TextSummary.fixed(-0.5, 1) == "-0.5" && TextSummary.fixed(-1.25, 2) == "-1.25")
        #expect(
            [1e6, 2.5e6, 1e5, 1e10, 1.5e9, 500].map(SVGPlot.duration) == [
                "1ms", "2.5ms", "100µs", "10s", "1.5s", "500ns",
            ]
        )
    }
}

extension ChartTests {
    /// A run whose storm starts at `faultAt` s: attempts spike in that second, the fleet is down for two seconds.
    static func run(faultAt seconds: Int, policy: String, seed: UInt64) -> Fleetstorm_Report_V1_Report {
        var rng = SplitMix64(seed: seed)
        var r = Fleetstorm_Report_V1_Report()
        r.run.profileName = "storm"
        r.run.devices = 100
        r.run.seed = seed
        r.series.binNs = 1_000_000_000
        var attempts = Fleetstorm_Report_V1_Series()
        attempts.name = "attempts"
        attempts.values = (0..<12).map { $0 == seconds ? 100 : $0 == seconds + 1 ? 30 : 0 }
        var connected = Fleetstorm_Report_V1_Series()
        connected.name = "connected"
        connected.values = (0..<12).map { $0 == seconds || $0 == seconds + 1 ? 0 : 100 }
        r.series.series = [attempts, connected]
        var fault = Fleetstorm_Report_V1_Fault()
        fault.label = "drop@\(seconds)s"
        fault.startNs = Int64(seconds) * 1_000_000_000
        fault.endNs = fault.startNs
        r.faults = [fault]
        var storm = Fleetstorm_Report_V1_Storm()
        storm.fault = fault.label
        storm.startNs = fault.startNs
        storm.affected = 100
        storm.recovered = 100
        r.storms = [storm]
        r.histograms = ["connect", "publish_ack", "reconnect"].map { histogram($0, samples(500, &rng)) }
        r.histograms.append(histogram("retry_delay", samples(100, &rng), attempt: 1))
        r.histograms.append(histogram("predicted_retry_delay", samples(1_000, &rng), attempt: 1))
        var cohort = Fleetstorm_Report_V1_Cohort()
        cohort.sdk = "azure-dotnet"
        cohort.policy = policy
        r.cohorts = [cohort]
        return r
    }

    /// The polylines of one chart on a page: stroke colour, dashed or not, and points in pixels.
    static func lines(_ page: String, chart id: String) -> [(colour: String, dashed: Bool, points: [(Double, Double)])]
    {
        guard
            let svg = page.components(separatedBy: "<svg id=\"\(id)\"").dropFirst().first?
                .components(separatedBy: "</svg>").first
        else { return [] }
        return svg.components(separatedBy: "<polyline ").dropFirst().map { line in
            func attribute(_ name: String) -> String {
                line.components(separatedBy: " \(name)=\"").dropFirst().first?.components(separatedBy: "\"").first ?? ""
            }
            let points = attribute("points").split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").compactMap { Double($0) }
                return (xy.first ?? .nan, xy.last ?? .nan)
            }
            return (attribute("stroke"), line.contains("stroke-dasharray"), points)
        }
    }

    static func legends(_ page: String, chart id: String) -> [String: String] {
        let svg =
            page.components(separatedBy: "<svg id=\"\(id)\"").dropFirst().first?
            .components(separatedBy: "</svg>").first ?? ""
        var out: [String: String] = [:]
        for label in svg.components(separatedBy: "<text class=\"legend\"").dropFirst() {
            let fill = label.components(separatedBy: "fill=\"").dropFirst().first?.components(separatedBy: "\"").first
            let text = label.components(separatedBy: ">").dropFirst().first?.components(separatedBy: "<").first
            if let fill, let text { out[text] = fill }
        }
        return out
    }

    @Test("the comparison page: one colour per run in every chart and its legend, time aligned at each storm's start")
    func comparePage() {
        let reports = [
            Self.run(faultAt: 3, policy: "full-jitter", seed: 1), Self.run(faultAt: 5, policy: "exponential", seed: 2),
            Self.run(faultAt: 4, policy: "equal-jitter", seed: 3),
        ]
        let names = ["jitter.pb", "nojitter.pb", "equal.pb"]
        let page = ComparePage.render(reports, names: names)
        #expect(page.hasPrefix("<!DOCTYPE html>") && !page.contains("<script"))
        #expect(page.components(separatedBy: "<tr class=\"run\">").count - 1 == 3)
        #expect(page.contains("<td>affected devices</td>") && page.contains("full-jitter"))
        let colours = names.indices.map(SVGPlot.colour)
        #expect(Set(colours).count == 3)
        for id in ["cmp-attempts", "cmp-connected", "cmp-connect", "cmp-publish_ack", "cmp-reconnect", "cmp-retry-1"] {
            #expect(Self.legends(page, chart: id) == Dictionary(uniqueKeysWithValues: zip(names, colours)), "\(id)")
            let solid = Self.lines(page, chart: id).filter { !$0.dashed }
            #expect(solid.map(\.colour) == colours, "\(id): one solid line per run in its colour")
        }
        let predicted = Self.lines(page, chart: "cmp-retry-1").filter(\.dashed)
        #expect(predicted.map(\.colour) == colours, "each policy's prediction dashed in its run's colour")
        // Aligned: every run's attempt peak (the bin its fault started in) begins at the same x, though the faults
        // came at 3, 5 and 4 s.
        let peaks = Self.lines(page, chart: "cmp-attempts").map { line in
            line.points.min { $0.1 < $1.1 }?.0 ?? .nan
        }
        #expect(peaks.count == 3 && peaks.allSatisfy { abs($0 - peaks[0]) < 0.11 }, "\(peaks)")
        // A copy of one run compared with itself draws the same curves twice.
        let twice = ComparePage.render([reports[0], reports[0]], names: ["a", "b"])
        let a = Self.lines(twice, chart: "cmp-connect")
        #expect(a.count == 2 && a[0].points.elementsEqual(a[1].points) { $0 == $1 })
    }
}

extension Array where Element: Comparable {
    /// The index of the first element for which `isAbove` holds, in a sorted array (binary search).
    func partitioningIndex(where isAbove: (Element) -> Bool) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isAbove(self[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
