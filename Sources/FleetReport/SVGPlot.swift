internal import Foundation

/// A line plot with several series, drawn as SVG text (no scripts): linear or logarithmic axes, HdrHistogram's
/// percentile axis, dashed lines, shaded x ranges and a legend whose labels carry their lines' colours.
struct SVGPlot {
    /// How data values map onto an axis. `percentile` is HdrHistogram's: a percentile p sits at log10(1/(1−p)), so
    /// 90 %, 99 %, 99.9 % … are evenly spaced and the tail gets room; its data values are already in that unit.
    enum Scale {
        case linear(Double, Double)
        case log(Double, Double)

        func fraction(_ v: Double) -> Double {
            switch self {
            case .linear(let lo, let hi):
                return hi > lo ? (v - lo) / (hi - lo) : 0
            case .log(let lo, let hi):
                let a = Foundation.log10(Swift.max(lo, 1e-300))
                let b = Foundation.log10(Swift.max(hi, 1e-300))
                return b > a ? (Foundation.log10(Swift.max(v, 1e-300)) - a) / (b - a) : 0
            }
        }
    }

    struct Tick {
        var value: Double
        var label: String
    }

    struct Line {
        var name: String
        var colour: String
        var dashed = false
        /// False for a line that shares its name and colour with another (a run's prediction): one legend label.
        var legend = true
        var points: [(x: Double, y: Double)]
    }

    var id: String
    var title: String
    var x: Scale
    var y: Scale
    var xTicks: [Tick]
    var yTicks: [Tick]
    var xCaption = ""
    var spans: [SVGChart.Span] = []
    var lines: [Line] = []

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    static func colour(_ n: Int) -> String { palette[n % palette.count] }

    func render() -> String {
        let e = SVGChart.escape
        let f = SVGChart.f
        let width = SVGChart.width
        let height = SVGChart.height + (xCaption.isEmpty ? 0 : 14)
        let left = SVGChart.left
        let right = SVGChart.right + 28  // room for the last x label, centred on the axis' end
        // The legend: labels left to right after the title, wrapping onto more rows when they do not fit.
        var legend: [(text: String, colour: String, x: Double, row: Int)] = []
        var cursor = left + Double(title.count) * 7.8 + 20
        var row = 0
        for l in lines where l.legend {
            let w = Double(l.name.count) * 6.6 + 18
            if cursor + w > width - right && cursor > left {
                row += 1
                cursor = left
            }
            legend.append((l.name, l.colour, cursor, row))
            cursor += w
        }
        let top = SVGChart.top + Double(row) * 14
        let bottom = SVGChart.bottom + (xCaption.isEmpty ? 0 : 14)
        let plotW = width - left - right
        let plotH = height - top - bottom
        func px(_ v: Double) -> Double { left + min(1, max(0, x.fraction(v))) * plotW }
        func py(_ v: Double) -> Double { top + plotH - min(1, max(0, y.fraction(v))) * plotH }
        var svg =
            "<svg id=\"\(e(id))\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(f(width)) \(f(height))\" "
            + "width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\" aria-label=\"\(e(title))\">"
            + "<text class=\"chart-title\" x=\"\(f(left))\" y=\"16\">\(e(title))</text>"
        for l in legend {
            svg += "<text class=\"legend\" x=\"\(f(l.x))\" y=\"\(f(16 + Double(l.row) * 14))\" fill=\"\(l.colour)\">"
            svg += "\(e(l.text))</text>"
        }
        svg += SVGChart.shade(spans, x: px, top: top, height: plotH)
        for t in yTicks {
            let yy = py(t.value)
            svg += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(yy))\" y2=\"\(f(yy))\"/>"
            svg +=
                "<text class=\"tick\" x=\"\(f(left - 4))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(e(t.label))</text>"
        }
        for t in xTicks {
            let xx = px(t.value)
            svg += "<line class=\"grid\" x1=\"\(f(xx))\" x2=\"\(f(xx))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\"/>"
            svg +=
                "<text class=\"tick\" x=\"\(f(xx))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(e(t.label))</text>"
        }
        if !xCaption.isEmpty {
            svg +=
                "<text class=\"caption\" x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(e(xCaption))</text>"
        }
        for l in lines where !l.points.isEmpty {
            let points = l.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            let dash = l.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<polyline class=\"series\" fill=\"none\" stroke=\"\(l.colour)\" stroke-width=\"1.8\"\(dash) "
            svg += "points=\"\(points)\"><title>\(e(l.name))</title></polyline>"
        }
        svg +=
            "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH))\"/>"
        svg += "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\"/>"
        return svg + "</svg>"
    }

    /// Ticks for a logarithmic axis over [lo, hi]: the decades, or 1-2-5 steps when fewer than three decades fall
    /// inside, or every integer multiple when even those are too few, or the range's ends. Neighbours never print
    /// alike.
    static func logTicks(_ lo: Double, _ hi: Double, label: (Double) -> String) -> [Tick] {
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return [] }
        func candidates(_ multiples: [Double]) -> [Double] {
            var out: [Double] = []
            var decade = pow(10, Foundation.log10(lo).rounded(.down))
            while decade <= hi {
                for m in multiples where decade * m >= lo * (1 - 1e-9) && decade * m <= hi * (1 + 1e-9) {
                    out.append(decade * m)
                }
                decade *= 10
            }
            return out
        }
        var values = candidates([1])
        if values.count < 3 { values = candidates([1, 2, 5]) }
        if values.count < 3 { values = candidates([1, 2, 3, 4, 5, 6, 7, 8, 9]) }
        if values.count < 2 { values = [lo, hi] }  // a narrow range: its ends
        return distinct(values.map { Tick(value: $0, label: label($0)) })
    }

    /// At most `steps` + 1 ticks on a linear axis over [lo, hi] at round values, printed with as many decimals as
    /// the step needs and `unit` after each.
    static func linearTicks(_ lo: Double, _ hi: Double, steps: Int = 8, unit: String = "") -> [Tick] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [] }
        // A step of 1, 2 or 5 × a power of ten, the smallest that makes at most `steps` intervals.
        let raw = (hi - lo) / Double(max(1, steps))
        let magnitude = pow(10, Foundation.log10(raw).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-9) } ?? 10 * magnitude
        let decimals = min(6, max(0, Int(saturating: -Foundation.log10(step).rounded(.down))))
        var k = (lo / step).rounded(.up)
        var out: [Tick] = []
        while k * step <= hi + step * 1e-9 && out.count < 4 * steps {
            let v = k * step
            out.append(Tick(value: v, label: TextSummary.fixed(v, decimals) + unit))
            k += 1
        }
        return distinct(out)
    }

    /// The percentile axis' ticks from 0 % to `nines` nines (0 %, 90 %, 99 %, 99.9 % …).
    static func percentileTicks(nines: Int) -> [Tick] {
        (0...max(1, nines)).map { k in
            switch k {
            case 0: return Tick(value: 0, label: "0%")
            case 1: return Tick(value: 1, label: "90%")
            case 2: return Tick(value: 2, label: "99%")
            default: return Tick(value: Double(k), label: "99." + String(repeating: "9", count: k - 2) + "%")
            }
        }
    }

    /// The nearest value of 1, 2 or 5 × a power of ten at or above `v` (`up`) or at or below it: a log axis' end
    /// that carries a tick.
    static func round125(_ v: Double, up: Bool) -> Double {
        guard v > 0, v.isFinite else { return 1 }
        let magnitude = pow(10, Foundation.log10(v).rounded(.down))
        let steps = [1.0, 2, 5, 10].map { $0 * magnitude }
        return up
            ? steps.first { $0 >= v * (1 - 1e-12) } ?? 10 * magnitude
            : steps.last { $0 <= v * (1 + 1e-12) } ?? magnitude
    }

    /// A round duration as an axis prints it: 1ms, 2.5ms, 100µs, 10s (no trailing zeros).
    static func duration(_ nanoseconds: Double) -> String {
        let text = TextSummary.formatNanoseconds(UInt64(saturating: nanoseconds))
        let unit = text.drop { $0 == "." || $0.isNumber }
        var number = String(text.dropLast(unit.count))
        if number.contains(".") {
            while number.hasSuffix("0") { number.removeLast() }
            if number.hasSuffix(".") { number.removeLast() }
        }
        return number + unit
    }

    /// Drops a tick whose label repeats its neighbour's.
    static func distinct(_ ticks: [Tick]) -> [Tick] {
        var out: [Tick] = []
        for t in ticks where out.last?.label != t.label { out.append(t) }
        return out
    }
}
