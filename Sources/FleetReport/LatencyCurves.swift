internal import FleetMetrics
internal import Foundation
internal import Histogram

/// The curves the HTML pages draw from a report's histograms.
enum LatencyCurves {
    typealias Points = [(x: Double, y: Double)]

    /// HdrHistogram's percentile distribution: latency (ns) against percentile, x = log10(1/(1−p)) from p0 to
    /// `nines(h)` nines, read from the full histogram; a report without one (written before hdr_v2) gives its five
    /// summary percentiles.
    static func percentiles(_ h: Fleetstorm_Report_V1_Histogram) -> Points {
        let end = Double(nines(h))
        guard let full = decode(h), full.totalCount > 0 else {
            let summary: Points = [
                (log10(2), Double(h.p50)), (1, Double(h.p90)), (2, Double(h.p99)), (3, Double(h.p999)),
            ]
            return summary.filter { $0.x < end } + [(end, Double(h.max))]
        }
        var out: Points = []
        let steps = Int(saturating: end * 40)
        for i in 0..<steps {
            let x = Double(i) / 40
            let p = (1 - pow(10, -x)) * 100
            out.append((x, Double(Swift.max(1, full.valueAtPercentile(p)))))
        }
        out.append((end, Double(Swift.max(1, full.max))))
        return out
    }

    /// How many nines the percentile axis shows for a histogram: one per decade of its count (a tail beyond one
    /// sample is the maximum), from 1 (90 %) to 5 (99.999 %).
    static func nines(_ h: Fleetstorm_Report_V1_Histogram) -> Int {
        Swift.min(5, Swift.max(1, Int(saturating: log10(Double(Swift.max(1, h.count))).rounded(.up))))
    }

    /// The cumulative share of a histogram's values at or below x (ns), from 0 just below its smallest value to 1
    /// at its largest: a point where the share has grown by at least 0.1 % (so a page stays small however many
    /// distinct values were recorded), and the last.
    static func cumulative(_ h: Fleetstorm_Report_V1_Histogram) -> Points {
        guard let full = decode(h), full.totalCount > 0 else { return [] }
        let total = Double(full.totalCount)
        var seen = 0.0
        var out: Points = []
        let values = full.recordedValues().filter { $0.count > 0 }
        for (i, v) in values.enumerated() {
            let x = Double(Swift.max(1, full.highestEquivalentForValue(v.value)))
            if out.isEmpty { out.append((Double(Swift.max(1, full.lowestEquivalentForValue(v.value))), 0)) }
            seen += Double(v.count)
            if seen / total - (out.last?.y ?? 0) >= 0.001 || i == values.count - 1 { out.append((x, seen / total)) }
        }
        return out
    }

    static func decode(_ h: Fleetstorm_Report_V1_Histogram) -> Histogram<UInt64>? {
        h.hdrV2.isEmpty ? nil : try? HdrV2.decode(Array(h.hdrV2))
    }

    /// One percentile-distribution chart: a line per histogram, latency on a log axis.
    static func percentileChart(
        id: String,
        title: String,
        lines: [(name: String, colour: String, histogram: Fleetstorm_Report_V1_Histogram)]
    ) -> String {
        let curves = lines.map { (line: $0, points: percentiles($0.histogram)) }
        let ys = curves.flatMap { $0.points.map(\.y) }.filter { $0 > 0 }
        let lo = SVGPlot.round125(Swift.max(1, ys.min() ?? 1_000) / 1.1, up: false)
        let hi = SVGPlot.round125(Swift.max(lo * 10, (ys.max() ?? 1_000_000) * 1.1), up: true)
        let nines = lines.map { Self.nines($0.histogram) }.max() ?? 3
        var plot = SVGPlot(
            id: id,
            title: title,
            x: .linear(0, Double(nines)),
            y: .log(lo, hi),
            xTicks: SVGPlot.percentileTicks(nines: nines),
            yTicks: SVGPlot.logTicks(lo, hi) { SVGPlot.duration($0) },
            xCaption: "percentile (log 1/(1−p) axis: each step right is one more nine)"
        )
        plot.lines = curves.map { SVGPlot.Line(name: $0.line.name, colour: $0.line.colour, points: $0.points) }
        return plot.render()
    }
}
