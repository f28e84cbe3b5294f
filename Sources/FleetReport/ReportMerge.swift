internal import FleetCore
internal import FleetMetrics
internal import Foundation
internal import Histogram

/// Why reports cannot be merged (one line for the user).
public struct MergeError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Lossless merge of shard reports (`fleetstorm merge`): histograms added from their hdr_v2 bytes, series aligned on
/// wall-clock start, counts summed, storms recomputed from the merged series with the same code as a single run.
public enum ReportMerge {
    /// The most reports one merge takes (their counts, each below 2^53, cannot overflow when added).
    public static let maxReports = 1024
    /// Shards start within this many bins of each other (a day of 10 ms bins); more is not one run.
    static let maxShiftBins = 8_640_000

    /// Merges `reports`: shards of one run (`--shard I/N` or separate processes), and standalone hub reports
    /// (`fleetstorm hub`, one per hub worker) whose hub counters, hub series and faults join the merged run. `failed`
    /// names shards that did not end well (their exit status) as the caller saw them.
    public static func merge(
        _ reports: [(name: String, report: Fleetstorm_Report_V1_Report)],
        failed: [Int: (status: String, detail: String)] = [:]
    ) throws(MergeError)
        -> Fleetstorm_Report_V1_Report
    {
        let merged = try combine(reports, failed: failed)
        // Never a merged report that would not read back (sums past what a run can count, or damaged inputs).
        do { try ReportFile.validate(merged, path: "the merged report") } catch {
            throw MergeError(description: "\(error.description): the inputs cannot be from one run")
        }
        return merged
    }

    private static func combine(
        _ reports: [(name: String, report: Fleetstorm_Report_V1_Report)],
        failed: [Int: (status: String, detail: String)]
    ) throws(MergeError)
        -> Fleetstorm_Report_V1_Report
    {
        guard let first = reports.first?.report else { throw MergeError(description: "nothing to merge") }
        // Read reports hold counts below 2^53 (ReportFile's bounds): this many add up without overflow.
        guard reports.count <= maxReports else {
            throw MergeError(
                description: "\(reports.count) reports: merge at most \(maxReports) at once, then merge the merged"
            )
        }
        if let (name, _) = reports.first(where: { $0.report.hasTune }) {
            throw MergeError(
                description: "\(name) is a tune report (a sweep of settings), not a run: merge the shards of one run"
            )
        }
        let bin = first.series.binNs
        for (name, r) in reports where r.series.binNs != bin && !r.series.series.isEmpty {
            throw MergeError(
                description:
                    "\(name): time-series bins of \(r.series.binNs) ns differ from \(bin) ns; rerun the shards with the same --bin"
            )
        }
        let runs = reports.filter { $0.report.run.kind != "hub" }
        let lead = runs.first?.report ?? first
        let start = reports.map(\.report.run.startedUnixNs).min() ?? 0
        let end = reports.map { $0.report.run.startedUnixNs + $0.report.run.durationNs }.max() ?? 0
        var out = Fleetstorm_Report_V1_Report()
        out.run = lead.run
        out.run.kind = runs.isEmpty ? "hub" : "merge"
        (out.run.shardIndex, out.run.shardCount, out.run.firstDevice, out.run.fleetDevices) = (0, 0, 0, 0)
        out.run.startedUnixNs = start
        out.run.durationNs = end - start
        // Devices are the shards' (a hub report counts devices it saw, the same devices again).
        out.run.devices = (runs.isEmpty ? reports : runs).map(\.report.run.devices).reduce(0, +)
        let hubReports = reports.filter { $0.report.run.kind == "hub" }
        out.run.hubWorkers = UInt32(hubReports.map { max(1, $0.report.run.hubWorkers) }.reduce(0, +))
        if hubReports.count <= 1 && runs.isEmpty { out.run.hubWorkers = first.run.hubWorkers }
        out.run.shards = try shardStatuses(runs, failed: failed)
        out.run.hitDeadline = reports.contains { $0.report.run.hitDeadline }
        out.run.cancelled = reports.contains { $0.report.run.cancelled }
        out.run.target = Array(Set(reports.map(\.report.run.target))).sorted().joined(separator: " ")
        out.run.profileName = Array(Set(runs.map(\.report.run.profileName))).sorted().joined(separator: "+")
        if runs.isEmpty { out.run.profileName = first.run.profileName }
        out.scenario = lead.scenario

        // Series: each shard's bins shifted by its start's offset (whole bins) from the earliest start.
        var merged: [String: [UInt64]] = [:]
        for (name, r) in reports {
            let shift = binShift(r, start: start, bin: bin)
            guard shift <= maxShiftBins else {
                throw MergeError(
                    description:
                        "\(name): started \(shift) bins after the earliest report; shards of one run start together"
                )
            }
            for s in r.series.series {
                var values = merged[s.name] ?? []
                let needed = shift + s.values.count
                if values.count < needed { values += Array(repeating: 0, count: needed - values.count) }
                for (i, v) in s.values.enumerated() { values[shift + i] += v }
                merged[s.name] = values
            }
        }
        let length = merged.values.map(\.count).max() ?? 0
        out.series.binNs = bin
        var names = first.series.series.map(\.name)
        for (_, r) in reports.dropFirst() {
            for s in r.series.series where !names.contains(s.name) { names.append(s.name) }
        }
        out.heat = try mergeHeat(reports, start: start, bin: bin)
        out.series.series = names.map { name in
            var s = Fleetstorm_Report_V1_Series()
            s.name = name
            // Outside a shard's run its devices count nothing (its connected gauge is 0 there too).
            let v = merged[name] ?? []
            s.values = v + Array(repeating: 0, count: length - v.count)
            return s
        }

        var histograms: [String: Histogram<UInt64>] = [:]
        var templates: [String: Fleetstorm_Report_V1_Histogram] = [:]
        var order: [String] = []
        for (name, r) in reports {
            for h in r.histograms where h.count > 0 {
                let key = "\(h.name)/\(h.attempt)/\(h.phase)" + (h.kind.isEmpty ? "" : "#\(h.kind)")
                guard !h.hdrV2.isEmpty else {
                    throw MergeError(
                        description:
                            "\(name): histogram \(h.name) has no hdr_v2 bytes (an older report); cannot merge it losslessly"
                    )
                }
                let decoded: Histogram<UInt64>
                do { decoded = try HdrV2.decode(Array(h.hdrV2)) } catch {
                    throw MergeError(description: "\(name): histogram \(h.name): \(error)")
                }
                if var mine = histograms[key], var template = templates[key] {
                    mine.add(decoded)
                    histograms[key] = mine
                    template.max = max(template.max, h.max)  // the exact extreme, which the encoding rounds
                    templates[key] = template
                } else {
                    histograms[key] = decoded
                    templates[key] = h
                    order.append(key)
                }
            }
        }
        out.histograms = order.compactMap { key in
            guard var m = templates[key], let h = histograms[key] else { return nil }
            let s = PercentileSummary(h)
            (m.count, m.p50, m.p90, m.p99, m.p999) = (s.count, s.p50, s.p90, s.p99, s.p999)
            m.hdrV2 = (try? HdrV2.encode(h)).map { Data($0) } ?? Data()
            return m
        }

        // Counters through the run's own algebra (FleetCounters.add, HubStats.add), written as the builder writes them.
        var totals = FleetCounters()
        for (name, r) in reports { totals.add(try counters(r, what: name)) }
        let sections = ReportBuilder.sections(totals)
        out.accounting = sections.accounting
        out.connections = sections.connections
        out.connections.malformedPackets = reports.map(\.report.connections.malformedPackets).reduce(0, +)
        out.outcomes = sections.outcomes
        out.statuses = sections.statuses
        out.transitions = sections.transitions
        if let twin = sections.twin { out.twin = twin }
        var cohortNames: [String] = []
        for c in reports.flatMap(\.report.cohorts) where !cohortNames.contains(c.name) { cohortNames.append(c.name) }
        out.cohorts = try cohortNames.map { (name: String) throws(MergeError) -> Fleetstorm_Report_V1_Cohort in
            var cohort: Fleetstorm_Report_V1_Cohort?
            var sum = FleetCounters()
            for (report, r) in reports {
                for c in r.cohorts where c.name == name {
                    sum.add(try counters(c, what: "\(report), cohort \(c.name)"))
                    if cohort == nil { cohort = c } else { cohort?.devices += c.devices }
                }
            }
            var m = cohort ?? Fleetstorm_Report_V1_Cohort()
            let s = ReportBuilder.sections(sum)
            m.accounting = s.accounting
            m.connections = s.connections
            m.statuses = s.statuses
            m.transitions = s.transitions
            m.outcomes = s.outcomes
            m.clearTwin()
            if let twin = s.twin { m.twin = twin }
            m.histograms = []  // per-cohort latency stays in the shard reports
            return m
        }
        if reports.contains(where: { $0.report.hasHub }) {
            var hub = HubStats()
            for (_, r) in reports where r.hasHub { hub.add(hubStats(r.hub)) }
            out.hub = ReportBuilder.hubSection(hub)
        }

        // Faults: one per label, at its earliest start on the merged time base; affected summed.
        var faults: [String: Fleetstorm_Report_V1_Fault] = [:]
        // A hub that played the faults (hub workers) knows when they acted and what they affected; shards that only
        // marked them add nothing then.
        let playedByHub = hubReports.contains { !$0.report.faults.isEmpty }
        for (_, r) in playedByHub ? hubReports : reports {
            let offset = r.run.startedUnixNs - start
            for f in r.faults {
                var g = f
                g.startNs += offset
                g.endNs += offset
                if var seen = faults[f.label] {
                    seen.startNs = min(seen.startNs, g.startNs)
                    seen.endNs = max(seen.endNs, g.endNs)
                    seen.affected += f.affected
                    faults[f.label] = seen
                } else {
                    faults[f.label] = g
                }
            }
        }
        out.faults = faults.values.sorted { ($0.startNs, $0.index) < ($1.startNs, $1.index) }

        // Storms from the merged series, exactly as for one run.
        let series = Dictionary(out.series.series.map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
        let input = StormAnalysis.Input(
            binNanoseconds: bin,
            series: { series[$0] ?? [] },
            runEndNanoseconds: out.run.durationNs,
            groups: out.faults.map { Int($0.group) }
        )
        // No bins (reports without series): no storm to recompute.
        let records =
            bin <= 0
            ? []
            : StormAnalysis.analyze(
                out.faults.map {
                    StormAnalysis.Fault(
                        label: $0.label,
                        startNanoseconds: $0.startNs,
                        endNanoseconds: $0.endNs,
                        group: Int($0.group)
                    )
                },
                input
            )
        out.storms = records.map(ReportBuilder.stormMessage)
        if let last = out.storms.indices.last {
            func merged(_ name: String, _ attempt: Int) -> Histogram<UInt64>? { histograms["\(name)/\(attempt)/"] }
            out.storms[last].spread = ReportBuilder.spreads { merged("attempt_offset", $0) }
            // The shards' own first-retry choices stand in for the policy's prediction.
            if let first = merged("attempt_offset", 1), let chosen = merged("retry_delay", 1) {
                var predicted: [Int64] = []
                for v in chosen.recordedValues() where v.count > 0 && predicted.count < 20_000 {
                    predicted += Array(repeating: Int64(v.value), count: Int(min(UInt64(v.count), 20_000)))
                }
                out.storms[last].ksFirstRetry = ReportBuilder.ks(first: first, chosen: chosen, predicted: predicted)
            }
            out.storms[last].neverRecovered = out.statuses.filter {
                $0.status != "Connected" && $0.reason != "Client_Close"
            }
        }

        let healths = reports.map(\.report).filter(\.hasHealth).map(\.health)
        if !healths.isEmpty {
            out.health.loopLagP99Ns = healths.map(\.loopLagP99Ns).max() ?? 0
            out.health.timerLatenessP99Ns = healths.map(\.timerLatenessP99Ns).max() ?? 0
            out.health.lateSendFraction = healths.map(\.lateSendFraction).max() ?? 0
            out.health.fdHeadroom = healths.map(\.fdHeadroom).min() ?? 0
            out.health.loopCpuShare = healths.map(\.loopCpuShare).max() ?? 0
            out.health.generatorLimited = healths.contains { $0.generatorLimited }
            out.health.limits = Array(Set(healths.flatMap(\.limits))).sorted()
            // The first limited shard's cause and advice (shards run the same command line).
            if let limited = healths.first(where: \.generatorLimited) {
                out.health.cause = limited.cause
                out.health.advice = limited.advice
            }
        }
        return out
    }

    /// One status per shard of the split the runs came from (empty when they are not shards). Refuses runs of
    /// different splits, a whole run among shards, and one shard twice.
    static func shardStatuses(
        _ runs: [(name: String, report: Fleetstorm_Report_V1_Report)],
        failed: [Int: (status: String, detail: String)]
    ) throws(MergeError) -> [Fleetstorm_Report_V1_ShardStatus] {
        guard let sharded = runs.first(where: { $0.report.run.shardCount > 0 }) else { return [] }
        let n = Int(sharded.report.run.shardCount)
        var seen: [Int: String] = [:]
        for (name, r) in runs {
            guard Int(r.run.shardCount) == n else {
                let what = r.run.shardCount == 0 ? "not a shard" : "shard \(r.run.shardIndex)/\(r.run.shardCount)"
                throw MergeError(
                    description:
                        "\(name) is \(what), \(sharded.name) is shard \(sharded.report.run.shardIndex)/\(n): "
                        + "merge the shards of one split"
                )
            }
            let i = Int(r.run.shardIndex)
            if let other = seen[i] {
                throw MergeError(description: "\(other) and \(name) are both shard \(i)/\(n): drop one of them")
            }
            seen[i] = name
        }
        let fleet = Int(sharded.report.run.fleetDevices)
        return (0..<n).map { i in
            var s = Fleetstorm_Report_V1_ShardStatus()
            s.index = UInt32(i)
            let present = seen[i].flatMap { name in runs.first(where: { $0.name == name })?.report }
            if let r = present {
                s.devices = r.run.devices
                s.status = r.run.cancelled ? "cancelled" : "ok"
            } else {
                s.devices = UInt64(Shard(index: i, count: n).range(of: fleet).count)
                s.status = "missing"
            }
            if let f = failed[i] { (s.status, s.detail) = (f.status, f.detail) }
            if present == nil {
                let note = "no report: its devices are not in these totals"
                s.detail = s.detail.isEmpty ? note : "\(s.detail) (\(note))"
            }
            return s
        }
    }
}
