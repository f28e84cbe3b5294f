internal import Foundation

/// Several runs on one self-contained HTML page (`fleetstorm compare --format html`): each run keeps one colour in
/// every chart, time charts are aligned at the start of the storm compared, latency is drawn as HdrHistogram's
/// percentile distribution, retry delays beside each policy's prediction, and the text comparison as a table.
public enum ComparePage {
    public static func render(_ reports: [Fleetstorm_Report_V1_Report], names: [String], stormIndex: Int = 0) -> String
    {
        let e = SVGChart.escape
        let colours = reports.indices.map(SVGPlot.colour)
        let storms = reports.map { Comparison.storm($0, index: stormIndex) }
        var body = "<h1>FleetStorm — \(reports.count) runs compared</h1>"
        body += "<table id=\"runs\"><tr><th>run</th><th>profile</th><th>devices</th><th>sdk</th><th>retry policy</th>"
        body += "<th>seed</th><th>storm compared</th></tr>"
        for (i, r) in reports.enumerated() {
            body += "<tr class=\"run\"><td><span class=\"swatch\" style=\"background: \(colours[i])\"></span>"
            body += "<span class=\"run-name\" style=\"color: \(colours[i])\">\(e(names[i]))</span></td>"
            body += "<td>\(e(r.run.profileName))</td><td>\(r.run.devices)</td><td>\(e(Comparison.sdk(r)))</td>"
            body +=
                "<td>\(e(Comparison.policy(r)))</td><td>\(r.run.seed)</td><td>\(e(storms[i]?.fault ?? "—"))</td></tr>"
        }
        body += "</table>"
        body += "<h2>Storm and accounting</h2><p class=\"note\">Changes are relative to the first run.</p>"
        body += "<table id=\"comparison\"><tr><th></th>"
        body += names.enumerated().map { "<th style=\"color: \(colours[$0.offset])\">\(e($0.element))</th>" }.joined()
        body += "</tr>"
        for row in Comparison.rows(reports, stormIndex: stormIndex) {
            body += "<tr><td>\(e(row.label))</td>" + Comparison.cells(row).map { "<td>\(e($0))</td>" }.joined()
            body += "</tr>"
        }
        body += "</table>"
        let runs = reports.enumerated().map { (report: $0.element, name: names[$0.offset], colour: colours[$0.offset]) }
        let aligns = storms.map { Double(max(0, $0?.startNs ?? 0)) / 1e9 }
        body += "<h2>Over time</h2><p class=\"note\">Aligned at the start of the storm compared (0 s); shaded: the "
        body += "runs' fault windows.</p>"
        body += timeChart(id: "cmp-attempts", title: "Reconnect attempts per second", series: "attempts", rate: true)
        body += timeChart(id: "cmp-connected", title: "Devices connected", series: "connected", rate: false)
        body += "<h2>Latency</h2>"
        for name in ["connect", "publish_ack", "reconnect"] {
            let lines = runs.compactMap { run in
                run.report.histograms.first {
                    $0.name == name && $0.attempt == 0 && $0.phase.isEmpty && $0.kind.isEmpty && $0.count > 0
                }
                .map { (run.name, run.colour, $0) }
            }
            guard !lines.isEmpty else { continue }
            body += LatencyCurves.percentileChart(id: "cmp-\(name)", title: "\(name) by percentile", lines: lines)
        }
        body += retryCharts(runs)
        return HTMLReport.page(title: "FleetStorm — \(names.joined(separator: " vs "))", body: body)

        func timeChart(id: String, title: String, series name: String, rate: Bool) -> String {
            var lines: [SVGPlot.Line] = []
            var spans: [SVGChart.Span] = []
            var lo = 0.0
            var hi = 1.0
            var peak = 1.0
            for (i, run) in runs.enumerated() {
                guard let values = run.report.series.series.first(where: { $0.name == name })?.values,
                    values.contains(where: { $0 > 0 })
                else { continue }
                let bin = Double(max(1, run.report.series.binNs)) / 1e9
                var points: LatencyCurves.Points = []
                for (j, v) in values.enumerated() {
                    let y = rate ? Double(v) / bin : Double(v)
                    points.append((Double(j) * bin - aligns[i], y))
                    points.append((Double(j + 1) * bin - aligns[i], y))
                    peak = max(peak, y)
                }
                lo = min(lo, -aligns[i])
                hi = max(hi, Double(values.count) * bin - aligns[i])
                lines.append(SVGPlot.Line(name: run.name, colour: run.colour, points: points))
                for f in run.report.faults {
                    let span = SVGChart.Span(
                        start: Double(f.startNs) / 1e9 - aligns[i],
                        end: Double(max(f.endNs, f.startNs)) / 1e9 - aligns[i],
                        label: f.label
                    )
                    let seen = spans.contains { $0.label == span.label && abs($0.start - span.start) < 0.05 }
                    if !seen { spans.append(span) }
                }
            }
            guard !lines.isEmpty else { return "" }
            let top = SVGChart.niceMax(peak, steps: 4)
            var plot = SVGPlot(
                id: id,
                title: title,
                x: .linear(lo, hi),
                y: .linear(0, top),
                xTicks: SVGPlot.linearTicks(lo, hi, unit: "s"),
                yTicks: SVGPlot.linearTicks(0, top, steps: 4),
                xCaption: "seconds from the storm's start"
            )
            plot.spans = spans
            plot.lines = lines
            return plot.render()
        }
    }

    /// Per retry attempt: the cumulative share of the delays each run's policy chose (solid) and the policy's
    /// prediction (dashed, from the report's predicted_retry_delay), on a log delay axis.
    static func retryCharts(_ runs: [(report: Fleetstorm_Report_V1_Report, name: String, colour: String)]) -> String {
        var out = ""
        for attempt in 1...4 {
            var lines: [SVGPlot.Line] = []
            for run in runs {
                func curve(_ name: String) -> LatencyCurves.Points {
                    run.report.histograms.first { $0.name == name && $0.attempt == attempt && $0.count > 0 }
                        .map(LatencyCurves.cumulative) ?? []
                }
                let chosen = curve("retry_delay")
                let predicted = curve("predicted_retry_delay")
                if !chosen.isEmpty { lines.append(SVGPlot.Line(name: run.name, colour: run.colour, points: chosen)) }
                if !predicted.isEmpty {
                    lines.append(
                        SVGPlot.Line(
                            name: "\(run.name) (predicted)",
                            colour: run.colour,
                            dashed: true,
                            legend: chosen.isEmpty,
                            points: predicted
                        )
                    )
                }
            }
            // Predictions alone say nothing about these runs (no device needed this retry): no chart.
            guard lines.contains(where: { !$0.dashed }) else { continue }
            let xs = lines.flatMap { $0.points.map(\.x) }
            guard let least = xs.min(), let most = xs.max() else { continue }
            let lo = SVGPlot.round125(max(1, least) / 1.1, up: false)
            let hi = SVGPlot.round125(max(lo * 10, most * 1.1), up: true)
            if out.isEmpty {
                out += "<h2>Retry delays</h2><p class=\"note\">The wait each run's policy chose before retry k (solid) "
                out += "and what the policy predicts (dashed; retry 4 stands for 4 and later, so it has no prediction)."
                out += " A curve left of another retries sooner; a steep one retries in step.</p>"
            }
            var plot = SVGPlot(
                id: "cmp-retry-\(attempt)",
                title: "Retry \(attempt == 4 ? "4 and later" : String(attempt)): share of delays at or below",
                x: .log(lo, hi),
                y: .linear(0, 1),
                xTicks: SVGPlot.logTicks(lo, hi) { SVGPlot.duration($0) },
                yTicks: [(0, "0%"), (0.25, "25%"), (0.5, "50%"), (0.75, "75%"), (1, "100%")].map(SVGPlot.Tick.init),
                xCaption: "delay before the retry (log axis)"
            )
            plot.lines = lines
            out += plot.render()
        }
        return out
    }
}
