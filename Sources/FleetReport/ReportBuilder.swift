public import FleetCore
public import FleetMetrics
internal import Foundation
internal import Histogram

/// The run facts a report records besides the measurements.
public struct RunFacts: Sendable {
    public var profileName: String
    public var seed: UInt64
    public var devices: Int
    public var startedUnixNanoseconds: Int64
    public var durationNanoseconds: Int64
    public var target: String
    public var mqttVersion: String
    public var hitDeadline: Bool
    public var cancelled: Bool
    public var malformedPackets: UInt64
    /// "run" or "hub".
    public var kind: String
    /// The share of a sharded fleet this run was (nil: the whole fleet), and its first device's index in it.
    public var shard: Shard?
    public var firstDevice: Int = 0
    public var fleetDevices: Int = 0

    public init(
        profileName: String,
        seed: UInt64,
        devices: Int,
        startedUnixNanoseconds: Int64,
        durationNanoseconds: Int64,
        target: String,
        mqttVersion: String,
        hitDeadline: Bool = false,
        cancelled: Bool = false,
        malformedPackets: UInt64 = 0,
        kind: String = "run"
    ) {
        self.profileName = profileName
        self.seed = seed
        self.devices = devices
        self.startedUnixNanoseconds = startedUnixNanoseconds
        self.durationNanoseconds = durationNanoseconds
        self.target = target
        self.mqttVersion = mqttVersion
        self.hitDeadline = hitDeadline
        self.cancelled = cancelled
        self.malformedPackets = malformedPackets
        self.kind = kind
    }
}

/// Builds the protobuf report from measurements.
public enum ReportBuilder {
    public static let toolVersion = "0.1.0"
    public static let schemaVersion: UInt32 = 1

    /// A cohort's name, SDK, retry policy, size and measurements.
    public typealias CohortPart = CohortSnapshot

    public static func build(
        facts: RunFacts,
        snapshot: Snapshot?,
        hub: HubStats?,
        cohorts: [CohortPart] = [],
        faults: [FaultRecord] = [],
        predictedRetryNanoseconds: [[Int64]] = [],
        health: GeneratorHealth? = nil,
        scenario: (yaml: String, profile: String, overrides: [String])? = nil
    ) -> Fleetstorm_Report_V1_Report {
        var report = Fleetstorm_Report_V1_Report()
        report.run.profileName = facts.profileName
        report.run.seed = facts.seed
        report.run.devices = UInt64(facts.devices)
        report.run.startedUnixNs = facts.startedUnixNanoseconds
        report.run.durationNs = facts.durationNanoseconds
        report.run.toolVersion = toolVersion
        report.run.target = facts.target
        report.run.hitDeadline = facts.hitDeadline
        report.run.cancelled = facts.cancelled
        report.run.schemaVersion = schemaVersion
        report.run.mqttVersion = facts.mqttVersion
        report.run.kind = facts.kind
        if let shard = facts.shard {
            report.run.shardIndex = UInt32(shard.index)
            report.run.shardCount = UInt32(shard.count)
            report.run.firstDevice = UInt64(facts.firstDevice)
            report.run.fleetDevices = UInt64(facts.fleetDevices)
        }
        if let snapshot {
            let m = measurements(snapshot)
            report.histograms = m.histograms
            report.accounting = m.accounting
            report.connections = m.connections
            report.connections.malformedPackets = facts.malformedPackets
            report.statuses = m.statuses
            report.transitions = m.transitions
            report.outcomes = m.outcomes
            if let twin = m.twin { report.twin = twin }
        }
        // Devices' series and the hub's on one time base (the hub's clock restarts at the run's start).
        var series = snapshot?.series ?? hub?.series ?? TimeSeries()
        if snapshot != nil, let hub { series.merge(hub.series) }
        let names = TimeSeries.Name.allCases.filter { name in
            name.isHub ? hub != nil : snapshot != nil
        }
        // Then the labelled breakdowns: refused:<CONNACK code>, disconnects:<reason>, hub_refused:<reason>.
        let labelled = series.labelledKeys.filter { key in
            LatencyHeat.parse(key) == nil && (key.hasPrefix("hub_") ? hub != nil : snapshot != nil)
        }
        // The heat maps' bucket series go into the report compactly, not as one series per bucket.
        for name in LatencyHeat.names where snapshot != nil {
            var buckets: [Int: [UInt64]] = [:]
            for key in series.labelledKeys {
                guard let (n, k) = LatencyHeat.parse(key), n == name else { continue }
                buckets[k] = series.series(key: key)
            }
            if !buckets.isEmpty { report.heat.append(HeatCodec.encode(name: name, buckets: buckets)) }
        }
        if !names.isEmpty {
            report.series.binNs = series.binNanoseconds
            report.series.series = (names.map(\.rawValue) + labelled).map { key in
                var s = Fleetstorm_Report_V1_Series()
                s.name = key
                s.values = series.series(key: key)
                return s
            }
        }
        if let snapshot {
            report.storms = storms(
                series: series,
                faults: faults,
                runEnd: facts.durationNanoseconds,
                snapshot: snapshot,
                predicted: predictedRetryNanoseconds.first ?? []
            )
            report.histograms += predictedRetryDelays(predictedRetryNanoseconds)
        }
        if let scenario {
            report.scenario.yaml = scenario.yaml
            report.scenario.profile = scenario.profile
            report.scenario.overrides = scenario.overrides
        }
        if let health {
            report.health.loopLagP99Ns = health.loopLagP99
            report.health.timerLatenessP99Ns = health.timerLatenessP99
            report.health.lateSendFraction = health.lateSendFraction
            report.health.fdHeadroom = Int64(health.descriptorHeadroom)
            report.health.generatorLimited = health.generatorLimited
            report.health.loopCpuShare = health.loopCPUShare
            report.health.limits = health.limits
            report.health.cause = health.cause?.rawValue ?? ""
            report.health.advice = health.advice(hubInProcess: facts.target.hasPrefix("embedded"))
            for (name, h) in [("loop_lag", health.loopLag), ("timer_lateness", health.timerLateness)]
            where h.totalCount > 0 {
                var m = Fleetstorm_Report_V1_Histogram()
                m.name = name
                m.unit = "ns"
                let s = PercentileSummary(h)
                (m.count, m.p50, m.p90, m.p99, m.p999, m.max) = (s.count, s.p50, s.p90, s.p99, s.p999, s.max)
                if let bytes = try? HdrV2.encode(h) { m.hdrV2 = Data(bytes) }
                report.histograms.append(m)
            }
        }
        report.faults = faults.map { f in
            var r = Fleetstorm_Report_V1_Fault()
            r.index = UInt32(f.index)
            r.kind = f.kind
            r.label = f.label
            r.startNs = f.startNanoseconds
            r.endNs = f.endNanoseconds
            r.affected = f.affected
            r.group = UInt32(f.group)
            return r
        }
        for c in cohorts {
            let m = measurements(c.snapshot)
            var cohort = Fleetstorm_Report_V1_Cohort()
            cohort.name = c.name
            cohort.policy = c.policy
            cohort.sdk = c.sdk
            cohort.devices = UInt64(c.devices)
            cohort.histograms = m.histograms
            cohort.accounting = m.accounting
            cohort.connections = m.connections
            cohort.statuses = m.statuses
            cohort.transitions = m.transitions
            cohort.outcomes = m.outcomes
            if let twin = m.twin { cohort.twin = twin }
            report.cohorts.append(cohort)
        }
        if let hub { report.hub = hubSection(hub) }
        return report
    }

    /// Storm records from the series (one per fault, then the run), with the run's attempt spread and KS distance.
    static func storms(
        series: TimeSeries,
        faults: [FaultRecord],
        runEnd: Int64,
        snapshot: Snapshot,
        predicted: [Int64]
    ) -> [Fleetstorm_Report_V1_Storm] {
        let records = StormAnalysis.analyze(
            faults.map {
                StormAnalysis.Fault(
                    label: $0.label,
                    startNanoseconds: $0.startNanoseconds,
                    endNanoseconds: $0.endNanoseconds,
                    group: $0.group
                )
            },
            StormAnalysis.Input(series, runEndNanoseconds: runEnd, groups: faults.map(\.group))
        )
        return records.map { r in
            var s = stormMessage(r)
            if r.fault == "run" {
                s.spread = spreads { snapshot.histograms[Snapshot.attemptOffset(attempt: $0)] }
                if let first = snapshot.histograms[Snapshot.attemptOffset(attempt: 1)],
                    let chosen = snapshot.histograms[Snapshot.retryDelay(attempt: 1)]
                {
                    s.ksFirstRetry = ks(first: first, chosen: chosen, predicted: predicted)
                }
                let stillDown = snapshot.counters.finalStatuses.filter {
                    $0.key.status != "Connected" && $0.key.reason != "Client_Close"
                }
                s.neverRecovered = stillDown.sorted { ($0.key.status, $0.key.reason) < ($1.key.status, $1.key.reason) }
                    .map {
                        var c = Fleetstorm_Report_V1_StatusCount()
                        c.status = $0.key.status
                        c.reason = $0.key.reason
                        c.count = $0.value
                        return c
                    }
            }
            return s
        }
    }

    /// When reconnect attempts 1, 2, 3, 4+ were due after the fault: quartiles, IQR and standard deviation.
    static func spreads(_ histogram: (Int) -> Histogram<UInt64>?) -> [Fleetstorm_Report_V1_AttemptSpread] {
        (1...4).compactMap { attempt in
            guard let h = histogram(attempt), h.totalCount > 0 else { return nil }
            var spread = Fleetstorm_Report_V1_AttemptSpread()
            spread.attempt = UInt32(attempt)
            spread.count = h.totalCount
            spread.p25Ns = h.valueAtPercentile(25)
            spread.p50Ns = h.valueAtPercentile(50)
            spread.p75Ns = h.valueAtPercentile(75)
            spread.stddevNs = h.stdDeviation
            spread.iqrNs = spread.p75Ns - spread.p25Ns
            return spread
        }
    }

    /// KS distance of the first retries from the prediction: the policy's delays after the fleet's median detection
    /// time (median observed offset minus median chosen delay), so the distance compares the spread.
    static func ks(first: Histogram<UInt64>, chosen: Histogram<UInt64>, predicted: [Int64]) -> Double {
        guard first.totalCount > 0, chosen.totalCount > 0 else { return 0 }
        let detection = Int64(first.valueAtPercentile(50)) - Int64(chosen.valueAtPercentile(50))
        return Dispersion.ksDistance(observed: first, predicted: predicted.map { $0 + detection })
    }

    static func stormMessage(_ r: StormRecord) -> Fleetstorm_Report_V1_Storm {
        var s = Fleetstorm_Report_V1_Storm()
        s.fault = r.fault
        s.startNs = r.startNanoseconds
        s.endNs = r.endNanoseconds
        s.affected = r.affected
        s.recovered = r.recovered
        s.attempts = r.attempts
        s.losses = r.losses
        s.peakAttemptRate = r.peakAttemptRate
        s.peakAttemptRate1S = r.peakAttemptRate1s
        s.meanAttemptRate = r.meanAttemptRate
        s.peakToMean = r.peakToMean
        s.cv = r.cv
        s.syncIndex = r.syncIndex
        s.t50Ns = r.t50 ?? -1
        s.t90Ns = r.t90 ?? -1
        s.t99Ns = r.t99 ?? -1
        s.t100Ns = r.t100 ?? -1
        s.attemptsPerDevice = r.attemptsPerDevice
        s.wastedFraction = r.wastedFraction
        return s
    }
}
