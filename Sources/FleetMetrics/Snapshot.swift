internal import FleetCore
public import Histogram

/// Counters of a run (or of one loop's share of it). All fields add up when snapshots merge.
public struct FleetCounters: Sendable, Hashable {
    /// TCP connects started.
    public var connectAttempts: UInt64 = 0
    /// CONNACKs accepted.
    public var connected: UInt64 = 0
    /// CONNACKs refused, by return/reason code.
    public var refusedByCode: [UInt8: UInt64] = [:]
    /// Messages generated at their intended send time.
    public var generated: UInt64 = 0
    /// QoS 1 messages acknowledged, and QoS 0 messages written (never acknowledged).
    public var acked: UInt64 = 0
    public var sent: UInt64 = 0
    /// Messages that will never be acknowledged, by the reason (device outcome) that lost them.
    public var failedByReason: [String: UInt64] = [:]
    /// Cloud-to-device messages received.
    public var received: UInt64 = 0
    /// Final outcome of every device that ended.
    public var outcomes: [String: UInt64] = [:]
    /// Status changes, by (from, to, reason).
    public var transitions: [StatusTransition: UInt64] = [:]
    /// The final status and reason of every device that ended.
    public var finalStatuses: [FinalStatus: UInt64] = [:]
    /// Retries scheduled, and reconnects that succeeded.
    public var retries: UInt64 = 0
    public var reconnects: UInt64 = 0
    /// Connections and attempts that ended with a socket or TLS error, by kind (`ConnectionError` names).
    public var connectionErrors: [String: UInt64] = [:]
    /// Connects that completed after their device had given the attempt up, closed at once.
    public var lateConnects: UInt64 = 0
    /// Per message kind of a mix (by name): generated, and acknowledged (QoS 1) — counted apart from the totals.
    public var generatedByKind: [String: UInt64] = [:]
    public var ackedByKind: [String: UInt64] = [:]
    /// Twin operations (`twin:`).
    public var twin = TwinCounts()

    public init() {}

    public var failed: UInt64 { failedByReason.values.reduce(0, +) }
    public var refused: UInt64 { refusedByCode.values.reduce(0, +) }
    /// Generated and neither acknowledged nor failed when the run stopped, counted from what the devices still held
    /// (in flight, awaiting redelivery, queued): set at the end of a run, never derived from the other counts.
    public var pending: UInt64 = 0
    /// generated − (acked + sent + failed + pending): 0 when the books balance.
    public var imbalance: Int64 {
        Int64(bitPattern: generated) - Int64(bitPattern: acked &+ sent &+ failed &+ pending)
    }
    public var finishedDevices: UInt64 { outcomes.values.reduce(0, +) }

    public mutating func add(_ o: FleetCounters) {
        connectAttempts += o.connectAttempts
        connected += o.connected
        refusedByCode.merge(o.refusedByCode, uniquingKeysWith: +)
        generated += o.generated
        acked += o.acked
        sent += o.sent
        pending += o.pending
        failedByReason.merge(o.failedByReason, uniquingKeysWith: +)
        received += o.received
        outcomes.merge(o.outcomes, uniquingKeysWith: +)
        transitions.merge(o.transitions, uniquingKeysWith: +)
        finalStatuses.merge(o.finalStatuses, uniquingKeysWith: +)
        retries += o.retries
        reconnects += o.reconnects
        connectionErrors.merge(o.connectionErrors, uniquingKeysWith: +)
        lateConnects += o.lateConnects
        generatedByKind.merge(o.generatedByKind, uniquingKeysWith: +)
        ackedByKind.merge(o.ackedByKind, uniquingKeysWith: +)
        twin.add(o.twin)
    }
}

/// What the devices' twin operations came to, each counted where it happens: operations that became due, the
/// requests they wrote (one per attempt), answers by status, requests left unanswered (the connection ended, or the
/// operation gave up first), operations completed (2xx), given up, and still due when the run stopped. Every request
/// is answered or unanswered; every operation completes, gives up or is open at the stop by the device's end.
public struct TwinCounts: Sendable, Hashable {
    public var operations: UInt64 = 0
    public var requests: UInt64 = 0
    public var answersByStatus: [UInt16: UInt64] = [:]
    public var unanswered: UInt64 = 0
    public var completed: UInt64 = 0
    public var gaveUp: UInt64 = 0
    /// Operations still due when the run stopped their devices.
    public var openAtStop: UInt64 = 0

    public init() {}

    public var answers: UInt64 { answersByStatus.values.reduce(0, +) }

    public mutating func add(_ o: TwinCounts) {
        operations += o.operations
        requests += o.requests
        answersByStatus.merge(o.answersByStatus, uniquingKeysWith: +)
        unanswered += o.unanswered
        completed += o.completed
        gaveUp += o.gaveUp
        openAtStop += o.openAtStop
    }
}

/// A status change, by its SDK names.
public struct StatusTransition: Sendable, Hashable {
    public var from: String
    public var to: String
    public var reason: String

    public init(from: String, to: String, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// A device's last status and the reason for it.
public struct FinalStatus: Sendable, Hashable {
    public var status: String
    public var reason: String

    public init(status: String, reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// Everything measured, as a value: histograms by name (nanoseconds) and counters. Merges losslessly.
public struct Snapshot: Sendable {
    public static let connect = "connect"
    public static let publishAck = "publish_ack"
    /// From the failure that started retrying to the next accepted CONNACK.
    public static let reconnect = "reconnect"
    /// The wait the retry policy chose, sliced by attempt: `retry_delay/1`, `/2`, `/3`, `/4+`.
    public static func retryDelay(attempt: Int) -> String { "retry_delay/" + (attempt >= 4 ? "4+" : String(attempt)) }
    public static let retryDelaySlices = (1...4).map { retryDelay(attempt: $0) }
    /// When reconnect attempt k was due, from the latest fault's start: `attempt_offset/1` … `/4+` (the spread the
    /// retry policy produced in a storm).
    public static func attemptOffset(attempt: Int) -> String {
        "attempt_offset/" + (attempt >= 4 ? "4+" : String(attempt))
    }
    public static let attemptOffsetSlices = (1...4).map { attemptOffset(attempt: $0) }
    /// From a fault's start (hub side) to the moment a device noticed its connection was lost.
    public static let outageDetection = "outage_detection"
    /// From TCP established to TLS handshake done (TLS runs only).
    public static let tlsHandshake = "tls_handshake"
    /// A twin GET and a reported-properties PATCH, from the operation's first request to its 2xx answer.
    public static let twinGet = "twin_get"
    public static let twinPatch = "twin_patch"
    /// A histogram sliced by phase: `storm` while any device of the loop is reconnecting, else `steady`.
    public static func phase(_ name: String, _ phase: String) -> String { "\(name)|\(phase)" }
    public static let phases = ["steady", "storm"]
    /// A histogram of one message kind of a mix: `publish_ack#reading`.
    public static func kind(_ name: String, _ kind: String) -> String { "\(name)#\(kind)" }

    public var histograms: [String: Histogram<UInt64>]
    public var counters = FleetCounters()
    /// Devices currently connected (a gauge; summed across loops).
    public var connectedNow: UInt64 = 0
    /// Per-bin counters from the run's start.
    public var series = TimeSeries()

    public init() {
        histograms = [Self.connect: LatencyLayout.make(), Self.publishAck: LatencyLayout.make()]
    }

    public func summary(_ name: String) -> PercentileSummary {
        histograms[name].map(PercentileSummary.init) ?? PercentileSummary(Histogram<UInt64>())
    }

    /// Adds `other` into this snapshot. Histograms of a foreign layout are refused rather than trapping.
    public mutating func merge(_ other: Snapshot) throws(SnapshotError) {
        for (name, h) in other.histograms {
            guard LatencyLayout.matches(h) else { throw SnapshotError(histogram: name) }
            if var mine = histograms[name] {
                mine.add(h)
                histograms[name] = mine
            } else {
                histograms[name] = h
            }
        }
        counters.add(other.counters)
        connectedNow += other.connectedNow
        series.merge(other.series)
    }
}

/// A histogram whose layout differs from FleetStorm's cannot be merged.
public struct SnapshotError: Error, Sendable, CustomStringConvertible {
    public var histogram: String
    public var description: String { "histogram \(histogram) has a different layout and cannot be merged" }
}
