public import FleetMetrics
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

    public static func build(facts: RunFacts, snapshot: Snapshot?, hub: HubStats?) -> Fleetstorm_Report_V1_Report {
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
        if let snapshot {
            var names = [Snapshot.connect, Snapshot.publishAck]
            if snapshot.histograms[Snapshot.reconnect] != nil { names.append(Snapshot.reconnect) }
            names += Snapshot.retryDelaySlices.filter { snapshot.histograms[$0] != nil }
            for name in names {
                let s = snapshot.summary(name)
                var h = Fleetstorm_Report_V1_Histogram()
                let parts = name.split(separator: "/")
                h.name = String(parts[0])
                if parts.count == 2 { h.attempt = parts[1] == "4+" ? 4 : UInt32(parts[1]) ?? 0 }
                h.unit = "ns"
                h.count = s.count
                h.p50 = s.p50
                h.p90 = s.p90
                h.p99 = s.p99
                h.p999 = s.p999
                h.max = s.max
                report.histograms.append(h)
            }
            let c = snapshot.counters
            report.accounting.generated = c.generated
            report.accounting.acked = c.acked
            report.accounting.failed = c.failed
            report.accounting.pending = c.pending
            report.accounting.failedByReason = c.failedByReason
            report.connections.attempts = c.connectAttempts
            report.connections.accepted = c.connected
            report.connections.refusedByCode = Dictionary(
                uniqueKeysWithValues: c.refusedByCode.map { (UInt32($0.key), $0.value) }
            )
            report.connections.malformedPackets = facts.malformedPackets
            report.outcomes = c.outcomes
            report.connections.retries = c.retries
            report.connections.reconnects = c.reconnects
            report.statuses = c.finalStatuses.sorted { ($0.key.status, $0.key.reason) < ($1.key.status, $1.key.reason) }
                .map { entry in
                    var s = Fleetstorm_Report_V1_StatusCount()
                    s.status = entry.key.status
                    s.reason = entry.key.reason
                    s.count = entry.value
                    return s
                }
            report.transitions = c.transitions.sorted {
                ($0.key.from, $0.key.to, $0.key.reason) < ($1.key.from, $1.key.to, $1.key.reason)
            }.map { entry in
                var t = Fleetstorm_Report_V1_Transition()
                t.from = entry.key.from
                t.to = entry.key.to
                t.reason = entry.key.reason
                t.count = entry.value
                return t
            }
        }
        if let hub {
            report.hub.connectionsAccepted = hub.connectionsAccepted
            report.hub.connectionsRefused = hub.connectionsRefused
            report.hub.messagesReceived = hub.messagesReceived
            report.hub.duplicates = hub.duplicates
            report.hub.devicesSeen = hub.devicesSeen
            report.hub.protocolErrors = hub.protocolErrors
        }
        return report
    }
}
