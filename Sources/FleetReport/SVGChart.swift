internal import Foundation

/// Small SVG charts for the HTML report, drawn as text: no scripts, no external resources.
enum SVGChart {
    static let width = 920.0
    static let height = 240.0
    static let left = 64.0
    static let right = 16.0
    static let top = 28.0
    static let bottom = 36.0

    /// A shaded span on a time chart (a fault's window), in seconds.
    struct Span {
        var start: Double
        var end: Double
        var label: String
    }

    /// Values per time bin: bars (counts per bin) or a line (a gauge), with fault windows shaded.
    static func timeChart(
        id: String,
        title: String,
        values: [UInt64],
        binSeconds: Double,
        spans: [Span],
        line: Bool,
        colour: String
    ) -> String {
        let plotW = width - left - right
        let plotH = height - top - bottom
        let seconds = max(binSeconds, Double(values.count) * binSeconds)
        let peak = niceMax(Double(max(1, values.max() ?? 1)), steps: 4)
        func x(_ s: Double) -> Double { left + s / seconds * plotW }
        func y(_ v: Double) -> Double { top + plotH - v / peak * plotH }
        var svg = header(id: id, title: title)
        svg += shade(spans, x: x, top: top, height: plotH)
        if line {
            var points: [String] = []
            for (i, v) in values.enumerated() {
                points.append("\(f(x(Double(i) * binSeconds))),\(f(y(Double(v))))")
                points.append("\(f(x(Double(i + 1) * binSeconds))),\(f(y(Double(v))))")
            }
            svg +=
                "<polyline class=\"series\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>"
        } else {
            let barW = max(0.5, plotW / Double(max(1, values.count)))
            svg += "<g class=\"series\" fill=\"\(colour)\">"
            for (i, v) in values.enumerated() where v > 0 {
                let y0 = y(Double(v))
                svg +=
                    "<rect x=\"\(f(x(Double(i) * binSeconds)))\" y=\"\(f(y0))\" width=\"\(f(barW))\" height=\"\(f(top + plotH - y0))\"/>"
            }
            svg += "</g>"
        }
        svg += axes(xMax: seconds, xUnit: "s", yMax: peak, yLog: false)
        return svg + "</svg>"
    }

    /// A distribution as bars over logarithmic buckets (e.g. the retry delays of one attempt).
    static func distributionChart(id: String, title: String, buckets: [(upper: UInt64, count: UInt64)]) -> String {
        let plotW = width - left - right
        let plotH = height - top - bottom
        let peak = niceMax(Double(max(1, buckets.map(\.count).max() ?? 1)), steps: 4)
        let barW = plotW / Double(max(1, buckets.count))
        var svg = header(id: id, title: title)
        svg += "<g class=\"series\" fill=\"#4c72b0\">"
        for (i, b) in buckets.enumerated() where b.count > 0 {
            let h = Double(b.count) / peak * plotH
            svg +=
                "<rect x=\"\(f(left + Double(i) * barW))\" y=\"\(f(top + plotH - h))\" width=\"\(f(max(1, barW - 1)))\" height=\"\(f(h))\">"
            svg += "<title>≤ \(TextSummary.formatNanoseconds(b.upper)): \(b.count)</title></rect>"
        }
        svg += "</g>"
        // About eight labels under the bars, none repeating its neighbour (fine buckets print alike: 1.00s 1.00s).
        var previous = ""
        for (i, b) in buckets.enumerated() where i % max(1, buckets.count / 8) == 0 {
            let label = TextSummary.formatNanoseconds(b.upper)
            guard label != previous else { continue }
            previous = label
            svg +=
                "<text class=\"tick\" x=\"\(f(left + (Double(i) + 0.5) * barW))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(label)</text>"
        }
        svg += axes(xMax: nil, xUnit: "", yMax: peak, yLog: false)
        return svg + "</svg>"
    }

    /// Fault windows as shaded bands over a plot (`x` maps seconds to pixels), each with its label; the labels
    /// stack downwards so faults that start together stay readable.
    static func shade(_ spans: [Span], x: (Double) -> Double, top: Double, height plotH: Double) -> String {
        var svg = ""
        for (n, s) in spans.enumerated() {
            let x0 = x(s.start)
            let x1 = max(x0 + 2, x(s.end))
            svg +=
                "<rect class=\"fault\" x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(x1 - x0))\" height=\"\(f(plotH))\">"
            svg += "<title>\(escape(s.label))</title></rect>"
            svg +=
                "<text class=\"fault-label\" x=\"\(f(x0 + 3))\" y=\"\(f(top + 12 + Double(n % 6) * 12))\">\(escape(s.label))</text>"
        }
        return svg
    }

    static func header(id: String, title: String) -> String {
        "<svg id=\"\(escape(id))\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" "
            + "width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
            + "<text class=\"chart-title\" x=\"\(f(left))\" y=\"16\">\(escape(title))</text>"
    }

    static func axes(xMax: Double?, xUnit: String, yMax: Double, yLog: Bool) -> String {
        let plotW = width - left - right
        let plotH = height - top - bottom
        var svg =
            "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH))\"/>"
        svg += "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\"/>"
        // Ticks at round values (the axis' end is one too: callers pass a `niceMax`).
        for t in SVGPlot.linearTicks(0, yMax, steps: 4) {
            let yy = top + plotH - t.value / yMax * plotH
            svg += "<text class=\"tick\" x=\"\(f(left - 4))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(t.label)</text>"
        }
        if let xMax {
            for t in SVGPlot.linearTicks(0, xMax, steps: 8, unit: xUnit) {
                let xx = left + t.value / xMax * plotW
                svg +=
                    "<text class=\"tick\" x=\"\(f(xx))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(t.label)</text>"
            }
        }
        return svg
    }

    /// The labels of `steps + 1` evenly spaced ticks from 0 to `max`, with as many decimals as the step needs for
    /// neighbours to differ by at least one unit of the last decimal, so no two read the same (0.0625 s steps:
    /// 0.06, 0.13, ...; 250 steps: 0, 250, 500, ...).
    static func tickLabels(max: Double, steps: Int, unit: String) -> [String] {
        let n = Swift.max(1, steps)
        let step = max / Double(n)
        let decimals = step >= 1 || !(step > 0) ? 0 : Swift.min(6, Int(saturating: (-log10(step)).rounded(.up)))
        return (0...n).map { TextSummary.fixed(max * Double($0) / Double(n), decimals) + unit }
    }

    /// The smallest axis end at or above `raw` whose `steps` ticks fall on round numbers (1, 1.2, 1.5, 2, 2.5, 3,
    /// 4, 5, 6 or 8 × a power of ten).
    static func niceMax(_ raw: Double, steps: Int) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let step = raw / Double(max(1, steps))
        let magnitude = pow(10, (log10(step)).rounded(.down))
        let nice =
            [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map { $0 * magnitude }.first { $0 >= step * (1 - 1e-9) } ?? 10
            * magnitude
        return nice * Double(max(1, steps))
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
