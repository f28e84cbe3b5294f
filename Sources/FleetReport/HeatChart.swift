internal import FleetMetrics
internal import Foundation

/// Latency over time as a heat map: a column per time bin, a row per latency band (6 per decade), each cell's
/// colour the number of latencies that ended in that bin and band (log scale), fault windows outlined.
enum HeatChart {
    /// At most this many columns: longer runs add neighbouring bins together.
    static let maxColumns = 240

    static func section(_ r: Fleetstorm_Report_V1_Report) -> String {
        guard !r.heat.isEmpty else { return "" }
        var out = "<h2>Latency over time</h2><p class=\"note\">A column per time bin, a row per latency band (6 per "
        out += "decade); the darker a cell, the more latencies ended in that bin and band (log scale). Outlined: fault "
        out += "windows.</p>"
        let binSeconds = Double(max(1, r.series.binNs)) / 1e9
        let seriesBins = r.series.series.map(\.values.count).max() ?? 0
        for heat in r.heat {
            do {
                let grid = try HeatCodec.decode(heat)
                out += render(
                    grid,
                    binSeconds: binSeconds,
                    bins: max(seriesBins, grid.counts.count),
                    spans: HTMLReport.spans(r)
                )
            } catch {
                out += "<p class=\"limited\">\(SVGChart.escape(error.description)): not drawn</p>"
            }
        }
        return out
    }

    static func render(_ grid: HeatCodec.Grid, binSeconds: Double, bins: Int, spans: [SVGChart.Span]) -> String {
        let e = SVGChart.escape
        let f = SVGChart.f
        let group = max(1, (bins + maxColumns - 1) / maxColumns)
        let columns = max(1, (bins + group - 1) / group)
        var cells = [[UInt64]](repeating: [UInt64](repeating: 0, count: LatencyHeat.buckets), count: columns)
        for (bin, row) in grid.counts.enumerated() where bin / group < columns {
            for (k, n) in row.enumerated() where k < LatencyHeat.buckets { cells[bin / group][k] += n }
        }
        let used = (0..<LatencyHeat.buckets).filter { k in cells.contains { $0[k] > 0 } }
        guard let firstBand = used.first, let lastBand = used.last else { return "" }
        let lowBand = max(0, firstBand - 1)
        let highBand = min(LatencyHeat.buckets - 1, lastBand + 1)
        let peak = cells.flatMap { $0 }.max() ?? 1
        let (width, height) = (SVGChart.width, SVGChart.height + 60)
        let (left, right, top, bottom) = (SVGChart.left, SVGChart.right + 28, SVGChart.top, SVGChart.bottom + 14)
        let plotW = width - left - right
        let plotH = height - top - bottom
        let seconds = Double(columns * group) * binSeconds
        let cellW = plotW / Double(columns)
        let cellH = plotH / Double(highBand - lowBand + 1)
        func y(band k: Int) -> Double { top + plotH - Double(k - lowBand + 1) * cellH }
        func x(_ s: Double) -> Double { left + min(1, max(0, s / seconds)) * plotW }
        let title = "\(grid.name) latency over time"
        var svg =
            "<svg id=\"heat-\(e(grid.name))\" class=\"chart heat-map\" xmlns=\"http://www.w3.org/2000/svg\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" "
            + "aria-label=\"\(e(title))\"><text class=\"chart-title\" x=\"\(f(left))\" y=\"16\">\(e(title))</text>"
        svg += "<text class=\"scale\" x=\"\(f(width - right))\" y=\"16\" text-anchor=\"end\">"
        svg += "darkest: \(peak) in one cell</text>"
        svg += "<g class=\"cells\">"
        for (c, column) in cells.enumerated() {
            for k in lowBand...highBand where column[k] > 0 {
                svg += "<rect x=\"\(f(left + Double(c) * cellW))\" y=\"\(f(y(band: k)))\" width=\"\(f(cellW + 0.3))\" "
                svg += "height=\"\(f(cellH + 0.3))\" fill=\"\(colour(column[k], peak: peak))\"/>"
            }
        }
        svg += "</g>"
        for s in spans {
            let x0 = x(s.start)
            svg += "<rect class=\"fault-outline\" x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(max(2, x(s.end) - x0)))\" "
            svg += "height=\"\(f(plotH))\"><title>\(e(s.label))</title></rect>"
        }
        // Band edges as ticks: the decades, or every half decade when fewer than two decades show.
        let edges = (lowBand...highBand + 1).filter { $0 % LatencyHeat.perDecade == 0 }
        let step = edges.count >= 2 ? LatencyHeat.perDecade : LatencyHeat.perDecade / 2
        let ticks = (lowBand...highBand + 1).filter { $0 % step == 0 }.map {
            SVGPlot.Tick(value: Double($0), label: SVGPlot.duration(LatencyHeat.lowerEdge($0)))
        }
        for t in SVGPlot.distinct(ticks) {
            let yy = top + plotH - (t.value - Double(lowBand)) * cellH
            svg += "<text class=\"tick\" x=\"\(f(left - 4))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(t.label)</text>"
        }
        for t in SVGPlot.linearTicks(0, seconds, unit: "s") {
            svg += "<text class=\"tick\" x=\"\(f(x(t.value)))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">"
            svg += "\(t.label)</text>"
        }
        svg += "<text class=\"caption\" x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">"
        svg +=
            "seconds from the run's start (bins of \(TextSummary.formatNanoseconds(UInt64(saturating: binSeconds * Double(group) * 1e9))))"
        svg += "</text>"
        svg +=
            "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH))\"/>"
        svg += "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\"/>"
        return svg + "</svg>"
    }

    /// A count's colour: light yellow for one, through orange and red, to dark red for `peak` (log scale).
    static func colour(_ n: UInt64, peak: UInt64) -> String {
        let ramp: [(Double, Double, Double)] = [
            (255, 237, 160), (254, 178, 76), (253, 141, 60), (227, 26, 28), (128, 0, 38),
        ]
        let t = peak > 1 ? log(Double(max(1, n))) / log(Double(peak)) : 1
        let position = min(1, max(0, t)) * Double(ramp.count - 1)
        let i = min(ramp.count - 2, Int(saturating: position))
        let u = position - Double(i)
        let (a, b) = (ramp[i], ramp[i + 1])
        let rgb = [a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u, a.2 + (b.2 - a.2) * u]
        return "#" + rgb.map { String(format: "%02x", Int(saturating: $0.rounded())) }.joined()
    }
}
