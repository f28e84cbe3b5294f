internal import FleetCore
internal import FleetMetrics
internal import Foundation
internal import Histogram

struct Measurements {
    var histograms: [Fleetstorm_Report_V1_Histogram] = []
    var accounting = Fleetstorm_Report_V1_Accounting()
    var connections = Fleetstorm_Report_V1_Connections()
    var statuses: [Fleetstorm_Report_V1_StatusCount] = []
    var transitions: [Fleetstorm_Report_V1_Transition] = []
    var outcomes: [String: UInt64] = [:]
    /// Unset (nil) when the devices made no twin operation.
    var twin: Fleetstorm_Report_V1_TwinOperations?
}

extension ReportBuilder {
    /// The policies' predicted delays per retry as histograms ("predicted_retry_delay", attempt k), so a reader draws
    /// what a run's policy promised beside what its devices chose without re-reading the profile.
    static func predictedRetryDelays(_ predicted: [[Int64]]) -> [Fleetstorm_Report_V1_Histogram] {
        predicted.enumerated().compactMap { k, samples in
            guard !samples.isEmpty else { return nil }
            var full = LatencyLayout.make()
            for v in samples { LatencyLayout.record(v, in: &full) }
            let s = PercentileSummary(full)
            var h = Fleetstorm_Report_V1_Histogram()
            h.name = "predicted_retry_delay"
            h.unit = "ns"
            h.attempt = UInt32(k + 1)
            (h.count, h.p50, h.p90, h.p99, h.p999, h.max) = (s.count, s.p50, s.p90, s.p99, s.p999, s.max)
            if let bytes = try? HdrV2.encode(full) { h.hdrV2 = Data(bytes) }
            return h
        }
    }

    /// The report's view of one snapshot (the totals, or one cohort).
    static func measurements(_ snapshot: Snapshot) -> Measurements {
        var m = sections(snapshot.counters)
        var names = [Snapshot.connect, Snapshot.publishAck]
        if snapshot.histograms[Snapshot.reconnect] != nil { names.append(Snapshot.reconnect) }
        names += Snapshot.retryDelaySlices.filter { snapshot.histograms[$0] != nil }
        names += Snapshot.attemptOffsetSlices.filter { snapshot.histograms[$0] != nil }
        names += [Snapshot.outageDetection, Snapshot.tlsHandshake, Snapshot.twinGet, Snapshot.twinPatch].filter {
            snapshot.histograms[$0] != nil
        }
        names += snapshot.histograms.keys.filter { $0.contains("|") }.sorted()
        names += snapshot.histograms.keys.filter { $0.contains("#") }.sorted()
        for name in names {
            let s = snapshot.summary(name)
            var h = Fleetstorm_Report_V1_Histogram()
            let kinded = name.split(separator: "#", maxSplits: 1)
            if kinded.count == 2 { h.kind = String(kinded[1]) }
            let phased = kinded[0].split(separator: "|")
            if phased.count == 2 { h.phase = String(phased[1]) }
            let parts = phased[0].split(separator: "/")
            h.name = String(parts[0])
            if parts.count == 2 { h.attempt = parts[1] == "4+" ? 4 : UInt32(parts[1]) ?? 0 }
            h.unit = "ns"
            h.count = s.count
            h.p50 = s.p50
            h.p90 = s.p90
            h.p99 = s.p99
            h.p999 = s.p999
            h.max = s.max
            if let full = snapshot.histograms[name], let bytes = try? HdrV2.encode(full) { h.hdrV2 = Data(bytes) }
            m.histograms.append(h)
        }
        return m
    }
}
