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
            for name in [Snapshot.connect, Snapshot.publishAck] {
                let s = snapshot.summary(name)
                var h = Fleetstorm_Report_V1_Histogram()
                h.name = name
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
