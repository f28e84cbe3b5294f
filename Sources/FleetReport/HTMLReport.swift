internal import FleetCore
internal import FleetMetrics
internal import Foundation
internal import Histogram

/// A report as ONE self-contained HTML file: inline CSS and SVG charts, no scripts, nothing fetched.
public enum HTMLReport {
    public static func render(_ r: Fleetstorm_Report_V1_Report) -> String {
        if r.hasTune { return TuneSummary.html(r) }
        return page(title: "FleetStorm — \(r.run.profileName)", body: body(r))
    }

    /// The page's content without the page around it (the live page swaps it in as a run goes on).
    public static func body(_ r: Fleetstorm_Report_V1_Report) -> String {
        let e = SVGChart.escape
        let run = r.run
        var body = "<h1>FleetStorm \(run.kind == "hub" ? "hub" : "run") — \(e(run.profileName))</h1>"
        body += "<p class=\"facts\">\(run.devices) devices · \(e(TextSummary.transport(run))) · seed \(run.seed) · "
        body += "\(TextSummary.fixed(Double(run.durationNs) / 1e9, 1)) s against \(e(run.target)) · started "
        body +=
            "\(e(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(run.startedUnixNs) / 1e9))))"
        body += " · FleetStorm \(e(run.toolVersion))</p>"
        for line in TextSummary.shardLines(run) {
            body += "<p class=\"\(line.hasPrefix("SHARD") ? "limited" : "note")\">\(e(line))</p>"
        }
        if r.hasAccounting {
            let a = r.accounting
            body += "<p class=\"accounting\">messages: \(a.generated) generated, \(a.acked) acked, \(a.failed) failed, "
            body += "\(a.pending) pending\(a.c2DReceived > 0 ? ", \(a.c2DReceived) cloud-to-device received" : "")</p>"
        }
        if r.hasHealth {
            body +=
                "<p class=\"\(r.health.generatorLimited ? "limited" : "note")\">\(e(TextSummary.healthLine(r.health)))</p>"
        }
        body += timeCharts(r)
        body += latencyCharts(r)
        body += "<h2>Storms</h2>" + stormTable(r.storms)
        body += faultTable(r.faults)
        body += statusTables(r)
        body += hubTable(r)
        return body
    }

    static func spans(_ r: Fleetstorm_Report_V1_Report) -> [SVGChart.Span] {
        r.faults.map {
            SVGChart.Span(
                start: Double($0.startNs) / 1e9,
                end: Double(max($0.endNs, $0.startNs)) / 1e9,
                label: $0.label
            )
        }
    }

    static func timeCharts(_ r: Fleetstorm_Report_V1_Report) -> String {
        let series = Dictionary(r.series.series.map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
        let bin = Double(max(1, r.series.binNs)) / 1e9
        var out =
            "<h2>Over time</h2><p class=\"note\">Bins of \(TextSummary.formatNanoseconds(UInt64(max(1, r.series.binNs)))); shaded: fault windows.</p>"
        let charts: [(id: String, name: String, title: String, line: Bool, colour: String)] = [
            ("chart-attempts", "attempts", "Reconnect attempts per bin (CONNECTs started)", false, "#d62728"),
            ("chart-accepted", "accepted", "Connections accepted per bin (devices' CONNACKs)", false, "#17becf"),
            ("chart-connected", "connected", "Devices connected (at each bin's end)", true, "#1f77b4"),
            ("chart-acked", "acked", "Messages acknowledged per bin", false, "#2ca02c"),
            ("chart-hub-accepted", "hub_accepted", "Hub: connections accepted per bin", false, "#9467bd"),
            (
                "chart-window", "connect_window", "Connect window (max_in_flight: auto): connects allowed in flight",
                true, "#8c564b"
            ),
        ]
        for c in charts {
            guard let values = series[c.name], values.contains(where: { $0 > 0 }) else { continue }
            out += SVGChart.timeChart(
                id: c.id,
                title: c.title,
                values: values,
                binSeconds: bin,
                spans: spans(r),
                line: c.line,
                colour: c.colour
            )
        }
        return out
    }

    static func latencyCharts(_ r: Fleetstorm_Report_V1_Report) -> String {
        var out = "<h2>Latency</h2>"
        let main = r.histograms.filter {
            // Per-kind slices of a mix get their own curves beside the whole.
            $0.attempt == 0 && $0.phase.isEmpty && $0.count > 0 && $0.name != "loop_lag" && $0.name != "timer_lateness"
        }
        if !main.isEmpty {
            out += LatencyCurves.percentileChart(
                id: "chart-latency",
                title: "Latency by percentile",
                lines: main.enumerated().map { (TextSummary.label($0.element), SVGPlot.colour($0.offset), $0.element) }
            )
        }
        out +=
            "<table><tr><th>histogram</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>"
        for h in r.histograms where h.count > 0 && h.name != "predicted_retry_delay" {
            out += "<tr><td>\(SVGChart.escape(TextSummary.label(h)))</td><td>\(h.count)</td>"
            for v in [h.p50, h.p90, h.p99, h.p999, h.max] { out += "<td>\(TextSummary.formatNanoseconds(v))</td>" }
            out += "</tr>"
        }
        out += "</table>"
        out += HeatChart.section(r)
        let delays = r.histograms.filter { $0.name == "retry_delay" && $0.count > 0 && !$0.hdrV2.isEmpty }
        if !delays.isEmpty { out += "<h2>Retry delays by attempt</h2>" }
        for h in delays {
            guard let decoded = try? HdrV2.decode(Array(h.hdrV2)) else { continue }
            let label = h.attempt == 4 ? "4+" : String(h.attempt)
            out += SVGChart.distributionChart(
                id: "chart-retry-\(h.attempt)",
                title: "Retry delay, attempt \(label) (\(h.count) retries)",
                buckets: logBuckets(decoded)
            )
        }
        return out
    }

    /// A histogram's counts over 30 logarithmic buckets between its min and max.
    static func logBuckets(_ h: Histogram<UInt64>, count n: Int = 30) -> [(upper: UInt64, count: UInt64)] {
        let lo = log10(Double(max(1, h.min)))
        let hi = max(lo + 0.01, log10(Double(max(1, h.max))) + 1e-9)
        var buckets = (1...n).map {
            (upper: UInt64(pow(10, lo + (hi - lo) * Double($0) / Double(n))), count: UInt64(0))
        }
        for v in h.recordedValues() where v.count > 0 {
            let position = (log10(Double(max(1, v.value))) - lo) / (hi - lo) * Double(n)
            let i = min(n - 1, max(0, Int(position)))
            buckets[i].count += UInt64(v.count)
        }
        return buckets
    }

    static func stormTable(_ storms: [Fleetstorm_Report_V1_Storm]) -> String {
        guard !storms.isEmpty else { return "<p>No storm records.</p>" }
        func t(_ ns: Int64) -> String { ns < 0 ? "—" : TextSummary.formatNanoseconds(UInt64(ns)) }
        var out =
            "<table id=\"storms\"><tr><th>fault</th><th>affected devices</th><th>recovered</th><th>peak/s</th><th>peak 1 s/s</th>"
        out += "<th>mean/s</th><th>PMR</th><th>CV</th><th>sync</th><th>t50</th><th>t90</th><th>t99</th><th>t100</th>"
        out += "<th>attempts/device</th><th>wasted</th></tr>"
        for s in storms {
            out += "<tr><td>\(SVGChart.escape(s.fault))</td><td>\(s.affected)</td><td>\(s.recovered)</td>"
            out +=
                "<td>\(TextSummary.fixed(s.peakAttemptRate, 0))</td><td>\(TextSummary.fixed(s.peakAttemptRate1S, 0))</td>"
            out += "<td>\(TextSummary.fixed(s.meanAttemptRate, 1))</td><td>\(TextSummary.fixed(s.peakToMean, 2))</td>"
            out += "<td>\(TextSummary.fixed(s.cv, 2))</td><td>\(TextSummary.fixed(s.syncIndex, 3))</td>"
            out += "<td>\(t(s.t50Ns))</td><td>\(t(s.t90Ns))</td><td>\(t(s.t99Ns))</td><td>\(t(s.t100Ns))</td>"
            out +=
                "<td>\(TextSummary.fixed(s.attemptsPerDevice, 2))</td><td>\(TextSummary.fixed(s.wastedFraction * 100, 1))%</td></tr>"
        }
        out += "</table>"
        if let run = storms.first(where: { $0.fault == "run" }), !run.spread.isEmpty {
            out +=
                "<table><tr><th>attempt</th><th>retries</th><th>p25</th><th>p50</th><th>p75</th><th>IQR</th><th>stddev</th></tr>"
            for s in run.spread {
                out += "<tr><td>#\(s.attempt == 4 ? "4+" : String(s.attempt))</td><td>\(s.count)</td>"
                out +=
                    "<td>\(TextSummary.formatNanoseconds(s.p25Ns))</td><td>\(TextSummary.formatNanoseconds(s.p50Ns))</td>"
                out +=
                    "<td>\(TextSummary.formatNanoseconds(s.p75Ns))</td><td>\(TextSummary.formatNanoseconds(s.iqrNs))</td>"
                out += "<td>\(TextSummary.formatNanoseconds(UInt64(saturating: s.stddevNs)))</td></tr>"
            }
            out +=
                "</table><p class=\"note\">When retry attempts were due, from the latest fault's start. First retry vs the "
            out += "policy's prediction: KS distance \(TextSummary.fixed(run.ksFirstRetry, 3)).</p>"
        }
        return out
    }

    static func faultTable(_ faults: [Fleetstorm_Report_V1_Fault]) -> String {
        guard !faults.isEmpty else { return "" }
        var out =
            "<h2>Faults</h2><table id=\"faults\"><tr><th>fault</th><th>start</th><th>end</th><th>connections affected</th></tr>"
        for f in faults {
            out += "<tr><td>\(SVGChart.escape(f.label))</td><td>\(TextSummary.fixed(Double(f.startNs) / 1e9, 2)) s</td>"
            out += "<td>\(TextSummary.fixed(Double(f.endNs) / 1e9, 2)) s</td><td>\(f.affected)</td></tr>"
        }
        return out + "</table>"
    }

    static func statusTables(_ r: Fleetstorm_Report_V1_Report) -> String {
        var out = ""
        if !r.statuses.isEmpty {
            out += "<h2>Final status</h2><table id=\"statuses\"><tr><th>status</th><th>reason</th><th>devices</th></tr>"
            for s in r.statuses { out += "<tr><td>\(s.status)</td><td>\(s.reason)</td><td>\(s.count)</td></tr>" }
            out += "</table>"
        }
        if !r.transitions.isEmpty {
            out += "<h2>Status changes</h2><table><tr><th>from</th><th>to</th><th>reason</th><th>count</th></tr>"
            for t in r.transitions {
                out += "<tr><td>\(t.from)</td><td>\(t.to)</td><td>\(t.reason)</td><td>\(t.count)</td></tr>"
            }
            out += "</table>"
        }
        if r.hasAccounting && !r.accounting.generatedByKind.isEmpty {
            out +=
                "<h2>Message kinds</h2><table id=\"kinds\"><tr><th>kind</th><th>generated</th><th>acked</th>"
                + "<th>publish→ack p50</th><th>p99</th><th>max</th></tr>"
            for (kind, generated) in r.accounting.generatedByKind.sorted(by: { $0.key < $1.key }) {
                let h = r.histograms.first { $0.name == "publish_ack" && $0.kind == kind && $0.phase.isEmpty }
                let cells = [h?.p50, h?.p99, h?.max].map { $0.map(TextSummary.formatNanoseconds) ?? "—" }
                out += "<tr><td>\(SVGChart.escape(kind))</td><td>\(generated)</td>"
                out += "<td>\(r.accounting.ackedByKind[kind] ?? 0)</td>"
                out += cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
            }
            out += "</table>"
        }
        if r.hasAccounting && !r.accounting.failedByReason.isEmpty {
            out += "<h2>Messages lost</h2><table><tr><th>reason</th><th>messages</th></tr>"
            for (k, v) in r.accounting.failedByReason.sorted(by: { $0.key < $1.key }) {
                out += "<tr><td>\(SVGChart.escape(k))</td><td>\(v)</td></tr>"
            }
            out += "</table>"
        }
        if !r.cohorts.isEmpty {
            out +=
                "<h2>Cohorts</h2><table><tr><th>cohort</th><th>sdk</th><th>retry curve</th><th>devices</th><th>generated</th><th>acked</th><th>failed</th>"
                + "<th>outage detected p50 / p99</th><th>reconnect p50 / p99</th></tr>"
            for c in r.cohorts {
                out +=
                    "<tr><td>\(SVGChart.escape(c.name))</td><td>\(SVGChart.escape(c.sdk))</td><td>\(SVGChart.escape(c.policy))</td><td>\(c.devices)</td>"
                out +=
                    "<td>\(c.accounting.generated)</td><td>\(c.accounting.acked)</td><td>\(c.accounting.failed)</td>"
                for name in ["outage_detection", "reconnect"] {
                    let h = c.histograms.first { $0.name == name }
                    out +=
                        "<td>\(h.map { "\(TextSummary.formatNanoseconds($0.p50)) / \(TextSummary.formatNanoseconds($0.p99))" } ?? "—")</td>"
                }
                out += "</tr>"
            }
            out += "</table>"
        }
        return out
    }

    static func hubTable(_ r: Fleetstorm_Report_V1_Report) -> String {
        guard r.hasHub else { return "" }
        let h = r.hub
        let rows: [(String, UInt64)] = [
            ("connections accepted", h.connectionsAccepted), ("connections refused", h.connectionsRefused),
            ("messages received", h.messagesReceived), ("duplicates", h.duplicates), ("out of order", h.outOfOrder),
            ("devices seen", h.devicesSeen), ("protocol errors", h.protocolErrors), ("taken over", h.takenOver),
            ("dropped at token expiry", h.tokenExpiredDrops), ("shaped CONNACKs", h.shapedConnects),
            ("shaped PUBACKs", h.shapedSends), ("throttled connects", h.throttledConnects),
            ("throttled sends", h.throttledSends), ("over the daily quota", h.quotaExceeded),
            ("C2D delivered", h.c2DSent), ("twin GETs", h.twinGets), ("twin PATCHes", h.twinPatches),
            ("shaped twin answers", h.shapedTwinRequests), ("throttled twin requests (429)", h.throttledTwinRequests),
        ]
        var out = "<h2>Hub</h2><table id=\"hub\">"
        for (k, v) in rows where v > 0 || k.hasPrefix("connections") || k.hasPrefix("messages") {
            out += "<tr><td>\(k)</td><td>\(v)</td></tr>"
        }
        for (k, v) in h.refusedByReason.sorted(by: { $0.key < $1.key }) {
            out += "<tr><td>refused: \(SVGChart.escape(k))</td><td>\(v)</td></tr>"
        }
        return out + "</table>"
    }

    /// A page around `body`, with the report's stylesheet; `head` adds to its head (the live page's script).
    public static func page(title: String, body: String, head: String = "") -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(SVGChart.escape(title))</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 980px; }
        h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
        .facts, .note { color: #555; } .limited { color: #b00; font-weight: 600; } .accounting { font-weight: 600; }
        table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
        th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
        svg.chart { display: block; margin: 10px 0; background: #fff; border: 1px solid #eee; }
        .chart-title { font-weight: 600; font-size: 13px; } .tick, .fault-label { font-size: 11px; fill: #555; }
        .legend { font-size: 11px; font-weight: 600; } .axis { stroke: #888; } .grid { stroke: #eee; }
        .fault { fill: #f5b041; fill-opacity: 0.25; } .fault-label { fill: #b9770e; } .caption { font-size: 11px; fill: #555; }
        .fault-outline { fill: none; stroke: #b9770e; stroke-width: 1.5; stroke-dasharray: 4 3; }
        .scale { font-size: 11px; fill: #555; }
        .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
        .run-name { font-weight: 600; }
        </style>\(head)</head>
        <body>
        \(body)
        </body></html>

        """
    }
}
