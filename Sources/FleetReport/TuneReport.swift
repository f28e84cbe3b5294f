internal import FleetCore
internal import Foundation

/// What a parameter sweep ranks by.
public enum TuneObjective: String, Sendable, CaseIterable {
    /// Fastest recovery of 99 % of the affected devices.
    case t99
    /// Lowest peak attempt rate (the busiest second).
    case peak
    /// Fewest connect attempts per recovered device.
    case attempts
    /// Fastest t99 among the settings whose peak attempt rate stays within the hub's connect limit; the others
    /// after them, by how far they go over it.
    case recovery
}

/// One grid point of a sweep: its values (one per key) and each repeat's seed, storm record and lost messages.
public struct TunePointRuns: Sendable {
    public struct Run: Sendable {
        public var seed: UInt64
        public var storm: Fleetstorm_Report_V1_Storm
        public var lost: UInt64

        public init(seed: UInt64, storm: Fleetstorm_Report_V1_Storm, lost: UInt64) {
            self.seed = seed
            self.storm = storm
            self.lost = lost
        }
    }

    public var values: [String]
    public var runs: [Run]

    public init(values: [String], runs: [Run] = []) {
        self.values = values
        self.runs = runs
    }
}

/// Turns a sweep's runs into the report's `Tune` message: metrics per point (mean, spread, range), the ranking,
/// the Pareto front on (peak attempt rate, t99) and one recommendation. Pure.
public enum TuneRanking {
    public static let metricNames = [
        "peak_attempt_rate_1s", "t90_s", "t99_s", "attempts_per_device", "wasted_fraction", "messages_lost",
    ]

    /// The storm a sweep compares: the first fault group's (the profile's main storm), else the whole run's.
    public static func mainStorm(_ report: Fleetstorm_Report_V1_Report) -> Fleetstorm_Report_V1_Storm? {
        report.storms.first { $0.fault != "run" } ?? report.storms.first
    }

    public struct Setup: Sendable {
        public var keys: [String]
        public var objective: TuneObjective
        /// New connections per second the hub admits (nil: no limit), and where the number came from.
        public var limit: Double?
        public var limitSource: String
        public var mode: String
        public var repeats: Int
        public var devices: Int

        public init(
            keys: [String],
            objective: TuneObjective,
            limit: Double?,
            limitSource: String,
            mode: String,
            repeats: Int,
            devices: Int
        ) {
            self.keys = keys
            self.objective = objective
            self.limit = limit
            self.limitSource = limitSource
            self.mode = mode
            self.repeats = repeats
            self.devices = devices
        }
    }

    public static func build(_ setup: Setup, points: [TunePointRuns]) -> Fleetstorm_Report_V1_Tune {
        var tune = Fleetstorm_Report_V1_Tune()
        tune.objective = setup.objective.rawValue
        tune.maxConnectRate = setup.limit ?? 0
        tune.limitSource = setup.limitSource
        tune.mode = setup.mode
        tune.repeats = UInt32(setup.repeats)
        tune.devices = UInt64(setup.devices)
        tune.keys = setup.keys
        var built: [Fleetstorm_Report_V1_TunePoint] = points.map { p in
            var point = Fleetstorm_Report_V1_TunePoint()
            point.values = p.values
            point.seeds = p.runs.map(\.seed)
            point.storms = p.runs.map(\.storm)
            let columns: [[Double]] = [
                p.runs.map(\.storm.peakAttemptRate1S),
                p.runs.map { seconds($0.storm.t90Ns) },
                p.runs.map { seconds($0.storm.t99Ns) },
                p.runs.map(\.storm.attemptsPerDevice),
                p.runs.map(\.storm.wastedFraction),
                p.runs.map { Double($0.lost) },
            ]
            point.metrics = zip(metricNames, columns).map { summary($0, $1) }
            point.withinLimit = setup.limit.map { mean(point, "peak_attempt_rate_1s") <= $0 } ?? true
            return point
        }
        for i in built.indices {
            let (p1, t1) = (mean(built[i], "peak_attempt_rate_1s"), mean(built[i], "t99_s"))
            built[i].pareto = !built.indices.contains { j in
                let (p2, t2) = (mean(built[j], "peak_attempt_rate_1s"), mean(built[j], "t99_s"))
                return j != i && p2 <= p1 && t2 <= t1 && (p2 < p1 || t2 < t1)
            }
        }
        let order = built.indices.sorted { a, b in
            let (ka, kb) = (key(built[a], setup.objective), key(built[b], setup.objective))
            return ka.lexicographicallyPrecedes(kb) || (ka == kb && a < b)
        }
        for (rank, index) in order.enumerated() { built[index].rank = UInt32(rank + 1) }
        tune.points = built
        tune.recommendation = recommendation(setup, best: order.first.map { built[$0] }, all: built)
        return tune
    }

    /// The sort key of a point: smaller is better.
    static func key(_ p: Fleetstorm_Report_V1_TunePoint, _ objective: TuneObjective) -> [Double] {
        let (peak, t99, attempts) = (
            mean(p, "peak_attempt_rate_1s"), mean(p, "t99_s"), mean(p, "attempts_per_device")
        )
        switch objective {
        case .t99: return [t99, attempts]
        case .peak: return [peak, t99]
        case .attempts: return [attempts, t99]
        case .recovery: return p.withinLimit ? [0, t99, attempts] : [1, peak, t99]
        }
    }

    static func recommendation(
        _ setup: Setup,
        best: Fleetstorm_Report_V1_TunePoint?,
        all: [Fleetstorm_Report_V1_TunePoint]
    ) -> String {
        guard let best else { return "no grid point ran" }
        let setting = zip(setup.keys, best.values).map { "\($0)=\($1)" }.joined(separator: " ")
        if setup.objective == .recovery, let limit = setup.limit, !best.withinLimit {
            return "no setting kept the peak attempt rate within \(Int(limit))/s (\(setup.limitSource)); the lowest "
                + "peak was \(setting) at \(Int(saturating: mean(best, "peak_attempt_rate_1s").rounded()))/s: add hub units, "
                + "or spread retries further (a larger retry.base or cap, more jitter), then tune again"
        }
        var line = "recommended: \(setting) — t99 \(describe(best, "t99_s", unit: " s"))"
        line += ", peak \(describe(best, "peak_attempt_rate_1s", unit: "/s", digits: 0))"
        if let limit = setup.limit { line += " (limit \(Int(limit))/s, \(setup.limitSource))" }
        line += ", \(describe(best, "attempts_per_device", unit: "")) attempts per device"
        let lost = mean(best, "messages_lost")
        line += lost > 0 ? ", \(Int(saturating: lost.rounded())) messages lost" : ", no message lost"
        if setup.repeats > 1 { line += " (mean ± spread over \(setup.repeats) seeds)" }
        return line
    }

    // MARK: - numbers

    static func seconds(_ ns: Int64) -> Double { ns < 0 ? .infinity : Double(ns) / 1e9 }

    static func summary(_ name: String, _ values: [Double]) -> Fleetstorm_Report_V1_TuneMetric {
        var m = Fleetstorm_Report_V1_TuneMetric()
        m.name = name
        guard !values.isEmpty else { return m }
        m.min = values.min() ?? 0
        m.max = values.max() ?? 0
        if values.contains(where: { !$0.isFinite }) {
            m.mean = .infinity
            return m
        }
        let mu = values.reduce(0, +) / Double(values.count)
        m.mean = mu
        if values.count > 1 {
            m.spread = (values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(values.count - 1)).squareRoot()
        }
        return m
    }

    public static func mean(_ p: Fleetstorm_Report_V1_TunePoint, _ name: String) -> Double {
        p.metrics.first { $0.name == name }?.mean ?? .infinity
    }

    static func describe(_ p: Fleetstorm_Report_V1_TunePoint, _ name: String, unit: String, digits: Int = 1) -> String {
        guard let m = p.metrics.first(where: { $0.name == name }) else { return "?" }
        guard m.mean.isFinite else { return "never" }
        let value = String(format: "%.\(digits)f", m.mean) + unit
        return m.spread > 0 ? value + " ± " + String(format: "%.\(digits)f", m.spread) : value
    }
}

/// The text and HTML views of a tune report.
public enum TuneSummary {
    public static func render(_ r: Fleetstorm_Report_V1_Report) -> String {
        let t = r.tune
        var out: [String] = []
        out.append(
            "FleetStorm tune \"\(r.run.profileName)\" — \(t.devices) devices, \(t.points.count) settings × "
                + "\(t.repeats) seeds, \(t.mode == "real" ? "real runs" : "simulated"), objective \(t.objective)"
                + (t.maxConnectRate > 0 ? ", connect limit \(Int(t.maxConnectRate))/s (\(t.limitSource))" : "")
        )
        out.append("")
        let widths = t.keys.map { key in
            max(key.count, t.points.map { p in longest(p.values, key, t.keys) }.max() ?? 0) + 2
        }
        var header = pad("rank", 6)
        for (k, w) in zip(t.keys, widths) { header += pad(k, w) }
        header += ["peak/s", "t90", "t99", "att/dev", "wasted", "lost"].map { pad($0, 16) }.joined() + "front"
        out.append(header)
        for p in t.points.sorted(by: { $0.rank < $1.rank }) {
            var line = pad(String(p.rank) + (p.withinLimit ? "" : "!"), 6)
            for (v, w) in zip(p.values, widths) { line += pad(v, w) }
            line += pad(TuneRanking.describe(p, "peak_attempt_rate_1s", unit: "", digits: 0), 16)
            line += pad(TuneRanking.describe(p, "t90_s", unit: "s"), 16)
            line += pad(TuneRanking.describe(p, "t99_s", unit: "s"), 16)
            line += pad(TuneRanking.describe(p, "attempts_per_device", unit: "", digits: 2), 16)
            line += pad(TuneRanking.describe(p, "wasted_fraction", unit: "", digits: 2), 16)
            line += pad(TuneRanking.describe(p, "messages_lost", unit: "", digits: 0), 16)
            line += p.pareto ? "*" : ""
            out.append(line)
        }
        out.append("")
        out.append(
            "mean ± sample spread over the seeds; * = Pareto front on (peak, t99)"
                + (t.maxConnectRate > 0 ? "; ! = peak over the connect limit" : "")
        )
        out.append(t.recommendation)
        return out.joined(separator: "\n")
    }

    private static func longest(_ values: [String], _ key: String, _ keys: [String]) -> Int {
        guard let i = keys.firstIndex(of: key), i < values.count else { return 0 }
        return values[i].count
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    /// A self-contained HTML page: the ranked table, a heat map of the objective over the first two keys, and the
    /// Pareto chart (peak attempt rate against t99, the front joined).
    public static func html(_ r: Fleetstorm_Report_V1_Report) -> String {
        let e = SVGChart.escape
        let t = r.tune
        var body = "<h1>FleetStorm tune — \(e(r.run.profileName))</h1>"
        body += "<p class=\"facts\">\(t.devices) devices · \(t.points.count) settings × \(t.repeats) seeds · "
        body += "\(t.mode == "real" ? "real runs" : "simulated") · objective \(e(t.objective))"
        if t.maxConnectRate > 0 { body += " · connect limit \(Int(t.maxConnectRate))/s (\(e(t.limitSource)))" }
        body += "</p><p class=\"note\">\(e(t.recommendation))</p>"
        body += "<h2>Ranking</h2><table><tr><th>rank</th>" + t.keys.map { "<th>\(e($0))</th>" }.joined()
        body += "<th>peak/s</th><th>t90</th><th>t99</th><th>attempts/device</th><th>wasted</th><th>lost</th>"
        body += "<th>front</th></tr>"
        for p in t.points.sorted(by: { $0.rank < $1.rank }) {
            body += "<tr\(p.withinLimit ? "" : " class=\"over\"")><td>\(p.rank)\(p.withinLimit ? "" : "!")</td>"
            body += p.values.map { "<td>\(e($0))</td>" }.joined()
            body += "<td>\(e(TuneRanking.describe(p, "peak_attempt_rate_1s", unit: "", digits: 0)))</td>"
            body += "<td>\(e(TuneRanking.describe(p, "t90_s", unit: " s")))</td>"
            body += "<td>\(e(TuneRanking.describe(p, "t99_s", unit: " s")))</td>"
            body += "<td>\(e(TuneRanking.describe(p, "attempts_per_device", unit: "", digits: 2)))</td>"
            body += "<td>\(e(TuneRanking.describe(p, "wasted_fraction", unit: "", digits: 2)))</td>"
            body += "<td>\(e(TuneRanking.describe(p, "messages_lost", unit: "", digits: 0)))</td>"
            body += "<td>\(p.pareto ? "●" : "")</td></tr>"
        }
        body += "</table><p class=\"note\">mean ± sample spread over the seeds; ● = Pareto front on (peak, t99)"
        body += t.maxConnectRate > 0 ? "; ! = peak over the connect limit</p>" : "</p>"
        body += heatMap(t)
        body += paretoChart(t)
        return HTMLReport.page(title: "FleetStorm tune — \(r.run.profileName)", body: body)
    }

    /// The objective's metric over the grid of the first key (rows) and the second (columns); one key: one row.
    static func heatMap(_ t: Fleetstorm_Report_V1_Tune) -> String {
        guard !t.keys.isEmpty else { return "" }
        let e = SVGChart.escape
        let metric =
            t.objective == "peak" ? "peak_attempt_rate_1s" : t.objective == "attempts" ? "attempts_per_device" : "t99_s"
        let rows = unique(t.points.map { $0.values.first ?? "" })
        let cols = t.keys.count > 1 ? unique(t.points.map { $0.values.count > 1 ? $0.values[1] : "" }) : [""]
        let finite = t.points.map { TuneRanking.mean($0, metric) }.filter(\.isFinite)
        let (lo, hi) = (finite.min() ?? 0, finite.max() ?? 1)
        var html = "<h2>Heat map: \(e(metric)) (lower is better)</h2>"
        html += "<p class=\"note\">rows: \(e(t.keys[0]))"
        if t.keys.count > 1 { html += "; columns: \(e(t.keys[1]))" }
        if t.keys.count > 2 { html += "; each cell: the best over \(e(t.keys.dropFirst(2).joined(separator: ", ")))" }
        // The corner names the two keys; with one key its only column is the metric.
        let corner = t.keys.count > 1 ? "\(t.keys[0]) ↓ \(t.keys[1]) →" : t.keys[0]
        let heads = t.keys.count > 1 ? cols : [metric]
        html += "</p><table class=\"heat\"><tr><th>\(e(corner))</th>" + heads.map { "<th>\(e($0))</th>" }.joined()
        html += "</tr>"
        for row in rows {
            html += "<tr><th>\(e(row))</th>"
            for col in cols {
                let cell = t.points.filter {
                    ($0.values.first ?? "") == row && (t.keys.count < 2 || $0.values[1] == col)
                }.map { TuneRanking.mean($0, metric) }.min()
                guard let v = cell else {
                    html += "<td></td>"
                    continue
                }
                let share = v.isFinite && hi > lo ? (v - lo) / (hi - lo) : (v.isFinite ? 0 : 1)
                let hue = Int(saturating: (1 - share) * 120)  // green (best) to red (worst)
                let text = v.isFinite ? String(format: "%.2f", v) : "never"
                html += "<td style=\"background:hsl(\(hue),70%,80%)\">\(text)</td>"
            }
            html += "</tr>"
        }
        return html + "</table>"
    }

    /// Each point at (peak attempt rate, t99); the Pareto front joined by a line; the connect limit as a line.
    static func paretoChart(_ t: Fleetstorm_Report_V1_Tune) -> String {
        let e = SVGChart.escape
        let pts = t.points.map {
            (x: TuneRanking.mean($0, "peak_attempt_rate_1s"), y: TuneRanking.mean($0, "t99_s"), p: $0)
        }.filter { $0.x.isFinite && $0.y.isFinite }
        guard !pts.isEmpty else { return "<h2>Pareto chart</h2><p class=\"note\">no setting recovered (t99 never)</p>" }
        let (w, h, left, top) = (720.0, 360.0, 60.0, 20.0)
        let (plotW, plotH) = (w - left - 20, h - top - 40)
        let xMax = SVGChart.niceMax(max(pts.map(\.x).max() ?? 1, t.maxConnectRate) * 1.05, steps: 5)
        let yMax = SVGChart.niceMax((pts.map(\.y).max() ?? 1) * 1.05, steps: 4)
        func x(_ v: Double) -> Double { left + v / max(xMax, 1e-9) * plotW }
        func y(_ v: Double) -> Double { top + plotH - v / max(yMax, 1e-9) * plotH }
        var svg = "<h2>Pareto chart: peak attempt rate against t99</h2>"
        svg += "<svg id=\"pareto\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\">"
        svg +=
            "<line x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(left + plotW)\" y2=\"\(top + plotH)\" stroke=\"#333\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotH)\" stroke=\"#333\"/>"
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(h - 5)\" text-anchor=\"middle\">peak attempts/s (busiest second)"
        svg += "</text><text x=\"12\" y=\"\(top + plotH / 2)\" transform=\"rotate(-90 12 \(top + plotH / 2))\" "
        svg += "text-anchor=\"middle\">t99 (s)</text>"
        svg += axisTicks(max: xMax, steps: 5, axis: "x") { v in (x(v), top + plotH) }
        svg += axisTicks(max: yMax, steps: 4, axis: "y") { v in (left, y(v)) }
        if t.maxConnectRate > 0 {
            let lx = x(t.maxConnectRate)
            svg += "<line x1=\"\(lx)\" y1=\"\(top)\" x2=\"\(lx)\" y2=\"\(top + plotH)\" stroke=\"#c00\" "
            svg += "stroke-dasharray=\"4 3\"/><text x=\"\(lx + 4)\" y=\"\(top + 12)\" fill=\"#c00\">limit</text>"
        }
        let front = pts.filter(\.p.pareto).sorted { $0.x < $1.x }
        if front.count > 1 {
            svg += "<polyline fill=\"none\" stroke=\"#2a6\" stroke-width=\"2\" points=\""
            svg += front.map { "\(SVGChart.f(x($0.x))),\(SVGChart.f(y($0.y)))" }.joined(separator: " ") + "\"/>"
        }
        // Each point is labelled with its rank in the table (its setting is the tooltip); a label goes where it
        // overlaps no label placed before it and no point, or is left out when the cluster is too dense.
        var placed: [Box] = pts.map { Box(x: x($0.x) - 5, y: y($0.y) - 5, w: 10, h: 10) }
        for pt in pts.sorted(by: { $0.p.rank < $1.p.rank }) {
            let setting = pt.p.values.joined(separator: " ")
            let (cx, cy) = (x(pt.x), y(pt.y))
            svg += "<circle cx=\"\(SVGChart.f(cx))\" cy=\"\(SVGChart.f(cy))\" r=\"5\" "
            svg += "fill=\"\(pt.p.pareto ? "#2a6" : "#888")\"><title>\(pt.p.rank): \(e(setting))</title></circle>"
            let text = "\(pt.p.rank)\(pt.p.withinLimit ? "" : "!")"
            let (bw, bh) = (Double(text.count) * 7 + 4, 16.0)  // the glyphs' box with a margin
            let offsets: [(dx: Double, dy: Double)] = [
                (7, -7), (7, 12), (-7 - bw, -7), (-7 - bw, 12), (-bw / 2, -10), (-bw / 2, 20),
            ]
            let candidates: [Box] = offsets.map { Box(x: cx + $0.dx, y: cy + $0.dy - bh + 2, w: bw, h: bh) }
            let spot = candidates.first { (box: Box) -> Bool in
                let inside = box.x >= left && box.x + box.w <= w && box.y >= 0 && box.y + box.h <= top + plotH
                return inside && !placed.contains { $0.overlaps(box) }
            }
            guard let spot else { continue }
            placed.append(spot)
            svg += "<text class=\"point-label\" x=\"\(SVGChart.f(spot.x + 2))\" y=\"\(SVGChart.f(spot.y + 12))\" "
            svg += "font-size=\"11\">\(text)</text>"
        }
        svg +=
            "</svg><p class=\"note\">each point is labelled with its rank in the table above (hover for its setting)</p>"
        return svg
    }

    /// Tick marks and labels along one axis of the Pareto chart: `at` maps a value to the point on the axis line.
    static func axisTicks(max: Double, steps: Int, axis: String, at: (Double) -> (x: Double, y: Double)) -> String {
        var svg = ""
        for (k, label) in SVGChart.tickLabels(max: max, steps: steps, unit: "").enumerated() {
            let p = at(max * Double(k) / Double(steps))
            let (px, py) = (SVGChart.f(p.x), SVGChart.f(p.y))
            let mark = axis == "x" ? (x2: px, y2: SVGChart.f(p.y + 4)) : (x2: SVGChart.f(p.x - 4), y2: py)
            let text =
                axis == "x"
                ? "x=\"\(px)\" y=\"\(SVGChart.f(p.y + 16))\" text-anchor=\"middle\""
                : "x=\"\(SVGChart.f(p.x - 6))\" y=\"\(py)\" dy=\"4\" text-anchor=\"end\""
            svg +=
                "<line class=\"tick-mark\" x1=\"\(px)\" y1=\"\(py)\" x2=\"\(mark.x2)\" y2=\"\(mark.y2)\" stroke=\"#333\"/>"
            svg += "<text class=\"tick \(axis)-tick\" \(text) font-size=\"10\">\(label)</text>"
        }
        return svg
    }

    /// A label's or a point's box on the chart.
    struct Box {
        var x: Double, y: Double, w: Double, h: Double
        func overlaps(_ o: Box) -> Bool { x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h }
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
