internal import FleetCore

/// Several runs side by side (`fleetstorm compare`): the storm that matters, latency p99s and accounting, each with
/// its change relative to the first run. This is how a jitter change is judged.
public enum Comparison {
    public struct Row: Sendable, Hashable {
        public var label: String
        public var values: [Double?]
        /// How a value prints.
        public var kind: Kind
        public enum Kind: Sendable, Hashable { case count, rate, ratio, share, duration }
    }

    /// The storm record compared: the `index`-th fault's (0-based), or the run's when there are no faults.
    public static func storm(_ r: Fleetstorm_Report_V1_Report, index: Int) -> Fleetstorm_Report_V1_Storm? {
        let faults = r.storms.filter { $0.fault != "run" }
        if faults.isEmpty { return r.storms.first { $0.fault == "run" } }
        return index < faults.count ? faults[index] : nil
    }

    public static func rows(_ reports: [Fleetstorm_Report_V1_Report], stormIndex: Int) -> [Row] {
        let storms = reports.map { storm($0, index: stormIndex) }
        func s(_ label: String, _ kind: Row.Kind, _ f: (Fleetstorm_Report_V1_Storm) -> Double?) -> Row {
            Row(label: label, values: storms.map { $0.flatMap(f) }, kind: kind)
        }
        func t(_ ns: Int64) -> Double? { ns < 0 ? nil : Double(ns) }
        func p99(_ name: String) -> Row {
            Row(
                label: "\(name) p99",
                values: reports.map { r in
                    r.histograms.first { $0.name == name && $0.attempt == 0 && $0.phase.isEmpty && $0.kind.isEmpty }.map
                    { Double($0.p99) }
                },
                kind: .duration
            )
        }
        return [
            s("affected devices", .count) { Double($0.affected) },
            s("recovered", .count) { Double($0.recovered) },
            s("peak attempts/s (bin)", .rate) { $0.peakAttemptRate },
            s("peak attempts/s (1 s)", .rate) { $0.peakAttemptRate1S },
            s("mean attempts/s", .rate) { $0.meanAttemptRate },
            s("peak-to-mean", .ratio) { $0.peakToMean },
            s("sync index", .ratio) { $0.syncIndex },
            s("CV of attempts", .ratio) { $0.cv },
            s("t50", .duration) { t($0.t50Ns) },
            s("t90", .duration) { t($0.t90Ns) },
            s("t99", .duration) { t($0.t99Ns) },
            s("t100", .duration) { t($0.t100Ns) },
            s("attempts per device", .ratio) { $0.attemptsPerDevice },
            s("wasted attempts", .share) { $0.wastedFraction },
            p99("connect"), p99("publish_ack"), p99("reconnect"),
            Row(label: "generated", values: reports.map { Double($0.accounting.generated) }, kind: .count),
            Row(label: "acked", values: reports.map { Double($0.accounting.acked) }, kind: .count),
            Row(label: "sent (QoS 0)", values: reports.map { Double($0.accounting.sent) }, kind: .count),
            Row(label: "failed", values: reports.map { Double($0.accounting.failed) }, kind: .count),
            Row(label: "pending", values: reports.map { Double($0.accounting.pending) }, kind: .count),
        ].filter { $0.label != "sent (QoS 0)" || $0.values.contains { ($0 ?? 0) > 0 } }
    }

    /// The table as text: one column per run (value and change against the first run).
    public static func render(_ reports: [Fleetstorm_Report_V1_Report], names: [String], stormIndex: Int = 0) -> String
    {
        let stormNames = reports.map { storm($0, index: stormIndex)?.fault ?? "—" }
        let width = max(18, (names.map(\.count).max() ?? 0) + 2, (stormNames.map(\.count).max() ?? 0) + 2)
        var out: [String] = []
        out.append(TextSummary.pad("", 24) + names.map { TextSummary.pad($0, width) }.joined())
        out.append(TextSummary.pad("sdk", 24) + reports.map { TextSummary.pad(sdk($0), width) }.joined())
        out.append(TextSummary.pad("policy", 24) + reports.map { TextSummary.pad(policy($0), width) }.joined())
        out.append(TextSummary.pad("storm", 24) + stormNames.map { TextSummary.pad($0, width) }.joined())
        for row in rows(reports, stormIndex: stormIndex) {
            out.append(TextSummary.pad(row.label, 24) + cells(row).map { TextSummary.pad($0, width) }.joined())
        }
        return out.joined(separator: "\n")
    }

    /// A row's values as printed: each with its change against the first run's ("—" where a run has none).
    static func cells(_ row: Row) -> [String] {
        row.values.enumerated().map { i, v in
            var cell = v.map { format($0, row.kind) } ?? "—"
            if i > 0, let v, let base = row.values[0], base != 0 {
                let change = (v - base) / abs(base) * 100
                cell += " (\(change >= 0 ? "+" : "")\(TextSummary.fixed(change, 0))%)"
            }
            return cell
        }
    }

    /// The SDKs the run's cohorts imitated ("—" for reports written before the field existed).
    static func sdk(_ r: Fleetstorm_Report_V1_Report) -> String {
        let names = r.cohorts.map(\.sdk).filter { !$0.isEmpty }
        return names.isEmpty ? "—" : Array(Set(names)).sorted().joined(separator: "+")
    }

    static func policy(_ r: Fleetstorm_Report_V1_Report) -> String {
        let names = r.cohorts.map(\.policy)
        return names.isEmpty ? "—" : Array(Set(names)).sorted().joined(separator: "+")
    }

    static func format(_ v: Double, _ kind: Row.Kind) -> String {
        switch kind {
        case .count: TextSummary.fixed(v, 0)
        case .rate: TextSummary.fixed(v, 0)
        case .ratio: TextSummary.fixed(v, v < 10 ? 3 : 1)
        case .share: TextSummary.fixed(v * 100, 1) + "%"
        case .duration: TextSummary.formatNanoseconds(UInt64(saturating: v))
        }
    }
}
