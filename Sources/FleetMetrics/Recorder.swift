public import FleetCore
internal import Histogram

/// Records device events of one event loop. Not thread-safe by design: one per loop, read on that loop.
public final class Recorder {
    public private(set) var snapshot = Snapshot()
    private var connectHistogram = LatencyLayout.make()
    private var publishAckHistogram = LatencyLayout.make()
    private var reconnectHistogram = LatencyLayout.make()
    private var retryDelayHistograms = (1...4).map { _ in LatencyLayout.make() }
    /// When reconnect attempt k (1, 2, 3, 4+) was scheduled to start, from the latest fault's start.
    private var attemptOffsetHistograms = (1...4).map { _ in LatencyLayout.make() }
    private var faultStart: Instant?
    private var outageDetectionHistogram = LatencyLayout.make()
    private var tlsHandshakeHistogram = LatencyLayout.make()
    private var twinGetHistogram = LatencyLayout.make()
    private var twinPatchHistogram = LatencyLayout.make()
    /// connect and publish_ack by phase: [steady, storm].
    private var connectByPhase = [LatencyLayout.make(), LatencyLayout.make()]
    private var publishAckByPhase = [LatencyLayout.make(), LatencyLayout.make()]
    /// Devices of this loop between a loss and the next CONNACK: while any is, the loop is in a storm.
    private var retrying = 0
    private var queuedNow: Int64 = 0
    private var phase: Int { retrying > 0 ? 1 : 0 }

    /// TCP established → TLS handshake done (the device handler measures it; the state machine never sees TLS).
    public func recordTLSHandshake(_ latency: Duration) {
        LatencyLayout.record(latency.nanoseconds, in: &tlsHandshakeHistogram)
    }

    /// Messages waiting in this loop's offline queues changed by `delta` (the `queued` gauge).
    public func queueChanged(by delta: Int, at: Instant) {
        queuedNow = max(0, queuedNow + Int64(delta))
        snapshot.series.set(.queued, UInt64(queuedNow), at: at)
    }

    /// The runner marks each fault's start, so retry attempts can be placed relative to it (jitter dispersion).
    public func faultStarted(at: Instant) { faultStart = at }

    /// At the end of a run: messages a device of this loop still held (in flight, awaiting redelivery, queued).
    public func notePending(_ count: Int) {
        snapshot.counters.pending += UInt64(max(0, count))
    }

    /// A per-device storm event of fault group `group` (one of the `storm_*` series, labelled with the group). The
    /// series keys are formatted once per group and name, not per event.
    public func stormEvent(_ name: TimeSeries.Name, group: Int, at: Instant) {
        while stormColumns.count <= group {
            stormColumns.append([Int](repeating: -1, count: TimeSeries.Name.allCases.count))
        }
        var c = stormColumns[group][name.ordinal]
        if c < 0 {
            c = snapshot.series.columnIndex(key: "\(name.rawValue):\(group)")
            stormColumns[group][name.ordinal] = c
        }
        snapshot.series.add(column: c, at: at)
    }

    /// Series columns found once, so events add to labelled series without building or hashing a string each time:
    /// storm series by group and name, `refused:CODE` by code, `disconnects:REASON` by reason.
    private var stormColumns: [[Int]] = []
    private var refusedColumns = [Int](repeating: -1, count: 256)
    /// Refused CONNACKs by code; folded into the snapshot's `refusedByCode` by `capture()` (no hashing per refusal).
    private var refusedCounts = [UInt64](repeating: 0, count: 256)
    private var disconnectColumns = [Int](repeating: -1, count: StatusReason.allCases.count)
    /// Status transitions counted by (from, to, reason) ordinal; folded into the snapshot's table by `capture()`.
    private var transitionCounts = [UInt64](
        repeating: 0,
        count: ConnectionStatus.allCases.count * ConnectionStatus.allCases.count * StatusReason.allCases.count
    )

    private static func transitionIndex(_ from: ConnectionStatus, _ to: ConnectionStatus, _ reason: StatusReason) -> Int
    {
        let statuses = ConnectionStatus.allCases.count
        let f = ConnectionStatus.allCases.firstIndex(of: from)!
        let t = ConnectionStatus.allCases.firstIndex(of: to)!
        let r = StatusReason.allCases.firstIndex(of: reason)!
        return (f * statuses + t) * StatusReason.allCases.count + r
    }

    /// The series columns of the heat maps' buckets: [connect, publish_ack][bucket], made on first use.
    private var heatColumns = [[Int]](repeating: [Int](repeating: -1, count: LatencyHeat.buckets), count: 2)

    /// Counts a latency of heat `which` (0 connect, 1 publish_ack) in its time bin and bucket.
    private func heat(_ which: Int, _ latency: Duration, at: Instant) {
        let k = LatencyHeat.bucket(latency.nanoseconds)
        var c = heatColumns[which][k]
        if c < 0 {
            c = snapshot.series.columnIndex(key: LatencyHeat.key(LatencyHeat.names[which], bucket: k))
            heatColumns[which][k] = c
        }
        snapshot.series.add(column: c, at: at)
    }

    /// `bin`: the time series' bin width (default 100 ms); `kinds`: the names of the cohort's message kinds, in the
    /// order its events number them (empty: no mix, nothing counted per kind).
    public init(bin: Duration = .milliseconds(100), kinds: [String] = []) {
        snapshot.series = TimeSeries(bin: bin)
        kindNames = kinds
        kindGenerated = kinds.map { _ in 0 }
        kindAcked = kinds.map { _ in 0 }
        kindLatency = kinds.map { _ in LatencyLayout.make() }
    }

    /// Per message kind: messages generated and acknowledged, and publish→ack latency (by the kind's index).
    private let kindNames: [String]
    private var kindGenerated: [UInt64]
    private var kindAcked: [UInt64]
    private var kindLatency: [Histogram<UInt64>]

    /// The adaptive connect window's size from `at` on (the `connect_window` gauge).
    public func connectWindow(_ size: Int, at: Instant) {
        snapshot.series.set(.connectWindow, UInt64(max(0, size)), at: at)
    }

    /// Records `event`, which happened at `at` (run time, for the time series).
    public func record(_ event: DeviceEvent, at: Instant) {
        switch event {
        case .connectAttempt:
            snapshot.counters.connectAttempts += 1
            snapshot.series.add(.attempts, at: at)
        case .connected(let latency):
            snapshot.counters.connected += 1
            snapshot.connectedNow += 1
            snapshot.series.add(.accepted, at: at)
            snapshot.series.set(.connected, snapshot.connectedNow, at: at)
            LatencyLayout.record(latency.nanoseconds, in: &connectHistogram)
            LatencyLayout.record(latency.nanoseconds, in: &connectByPhase[phase])
            heat(0, latency, at: at)
        case .refused(let code):
            refusedCounts[Int(code)] += 1
            snapshot.series.add(.refused, at: at)
            var c = refusedColumns[Int(code)]
            if c < 0 {
                c = snapshot.series.columnIndex(key: "\(TimeSeries.Name.refused.rawValue):\(code)")
                refusedColumns[Int(code)] = c
            }
            snapshot.series.add(column: c, at: at)
            // MQTT 5 says why: 0x89 server busy, 0x97 quota exceeded, 0x9F connection rate exceeded.
            if code == 0x89 || code == 0x97 || code == 0x9F { snapshot.series.add(.throttled, at: at) }
        case .disconnected:
            if snapshot.connectedNow > 0 { snapshot.connectedNow -= 1 }
            snapshot.series.add(.disconnects, at: at)
            snapshot.series.set(.connected, snapshot.connectedNow, at: at)
        case .reconnected(let latency):
            snapshot.counters.reconnects += 1
            snapshot.series.add(.reconnected, at: at)
            LatencyLayout.record(latency.nanoseconds, in: &reconnectHistogram)
        case .status(let from, let to, let reason):
            transitionCounts[Self.transitionIndex(from, to, reason)] += 1
            if from == .connected && (to == .disconnectedRetrying || (to == .disconnected && reason != .clientClose)) {
                snapshot.series.add(.lost, at: at)
                if let faultStart, at >= faultStart {
                    LatencyLayout.record((at - faultStart).nanoseconds, in: &outageDetectionHistogram)
                }
            }
            if from == .connected && to != .connected {
                let r = StatusReason.allCases.firstIndex(of: reason)!
                var c = disconnectColumns[r]
                if c < 0 {
                    c = snapshot.series.columnIndex(key: "\(TimeSeries.Name.disconnects.rawValue):\(reason.rawValue)")
                    disconnectColumns[r] = c
                }
                snapshot.series.add(column: c, at: at)
            }
            if to == .disconnectedRetrying && from != .disconnectedRetrying { retrying += 1 }
            if from == .disconnectedRetrying && to != .disconnectedRetrying { retrying = max(0, retrying - 1) }
        case .retryScheduled(let attempt, let delay):
            snapshot.counters.retries += 1
            LatencyLayout.record(delay.nanoseconds, in: &retryDelayHistograms[min(attempt, 4) - 1])
            if let faultStart {
                let offset = (at + delay).nanoseconds - faultStart.nanoseconds
                LatencyLayout.record(max(1_000, offset), in: &attemptOffsetHistograms[min(attempt, 4) - 1])
            }
        case .generated(_, let kind):
            snapshot.counters.generated += 1
            snapshot.series.add(.published, at: at)
            if Int(kind) < kindGenerated.count { kindGenerated[Int(kind)] += 1 }
        case .sent:
            snapshot.counters.sent += 1
            snapshot.series.add(.sent, at: at)
        case .acked(let latency, let kind):
            if Int(kind) < kindAcked.count {
                kindAcked[Int(kind)] += 1
                LatencyLayout.record(latency.nanoseconds, in: &kindLatency[Int(kind)])
            }
            snapshot.counters.acked += 1
            snapshot.series.add(.acked, at: at)
            LatencyLayout.record(latency.nanoseconds, in: &publishAckHistogram)
            LatencyLayout.record(latency.nanoseconds, in: &publishAckByPhase[phase])
            heat(1, latency, at: at)
        case .failed(let count, let reason):
            snapshot.counters.failedByReason[reason.rawValue, default: 0] += UInt64(count)
            snapshot.series.add(.failed, UInt64(count), at: at)
        case .received:
            snapshot.counters.received += 1
        case .lateConnectClosed:
            snapshot.counters.lateConnects += 1
        case .connectionError(let error):
            snapshot.counters.connectionErrors[error.rawValue, default: 0] += 1
        case .serviceError(let code):
            snapshot.counters.connectionErrors[HubServiceError(code: code).description, default: 0] += 1
        case .twinOperation:
            snapshot.counters.twin.operations += 1
        case .twinRequest:
            snapshot.counters.twin.requests += 1
        case .twinAnswer(_, let status):
            snapshot.counters.twin.answersByStatus[status, default: 0] += 1
        case .twinUnanswered:
            snapshot.counters.twin.unanswered += 1
        case .twinCompleted(let update, let latency):
            snapshot.counters.twin.completed += 1
            if update {
                LatencyLayout.record(latency.nanoseconds, in: &twinPatchHistogram)
            } else {
                LatencyLayout.record(latency.nanoseconds, in: &twinGetHistogram)
            }
        case .twinGaveUp:
            snapshot.counters.twin.gaveUp += 1
        case .twinOpenAtStop:
            snapshot.counters.twin.openAtStop += 1
        case .finished(let outcome, let status, let reason):
            snapshot.counters.outcomes[outcome.rawValue, default: 0] += 1
            snapshot.counters.finalStatuses[
                FinalStatus(status: status.rawValue, reason: reason.rawValue),
                default: 0
            ] += 1
        }
    }

    /// A copy of everything recorded so far (histograms included).
    /// The counters so far, for a progress line (refusals by code folded in, as `capture()` does).
    public var counters: FleetCounters {
        var c = snapshot.counters
        for (code, n) in refusedCounts.enumerated() where n > 0 {
            c.refusedByCode[UInt8(code), default: 0] += n
        }
        return c
    }

    public func capture() -> Snapshot {
        var s = snapshot
        s.counters = counters
        for from in ConnectionStatus.allCases {
            for to in ConnectionStatus.allCases {
                for reason in StatusReason.allCases {
                    let n = transitionCounts[Self.transitionIndex(from, to, reason)]
                    guard n > 0 else { continue }
                    let key = StatusTransition(from: from.rawValue, to: to.rawValue, reason: reason.rawValue)
                    s.counters.transitions[key, default: 0] += n
                }
            }
        }
        s.histograms[Snapshot.connect] = connectHistogram
        s.histograms[Snapshot.publishAck] = publishAckHistogram
        for (i, name) in kindNames.enumerated() {
            s.counters.generatedByKind[name, default: 0] += kindGenerated[i]
            s.counters.ackedByKind[name, default: 0] += kindAcked[i]
            if kindLatency[i].totalCount > 0 { s.histograms[Snapshot.kind(Snapshot.publishAck, name)] = kindLatency[i] }
        }
        if reconnectHistogram.totalCount > 0 { s.histograms[Snapshot.reconnect] = reconnectHistogram }
        for (i, h) in retryDelayHistograms.enumerated() where h.totalCount > 0 {
            s.histograms[Snapshot.retryDelay(attempt: i + 1)] = h
        }
        for (i, h) in attemptOffsetHistograms.enumerated() where h.totalCount > 0 {
            s.histograms[Snapshot.attemptOffset(attempt: i + 1)] = h
        }
        if outageDetectionHistogram.totalCount > 0 { s.histograms[Snapshot.outageDetection] = outageDetectionHistogram }
        if tlsHandshakeHistogram.totalCount > 0 { s.histograms[Snapshot.tlsHandshake] = tlsHandshakeHistogram }
        if twinGetHistogram.totalCount > 0 { s.histograms[Snapshot.twinGet] = twinGetHistogram }
        if twinPatchHistogram.totalCount > 0 { s.histograms[Snapshot.twinPatch] = twinPatchHistogram }
        // Phase slices only when the run had both phases (otherwise they repeat the whole histogram).
        if connectByPhase[1].totalCount + publishAckByPhase[1].totalCount > 0 {
            for (i, p) in Snapshot.phases.enumerated() {
                if connectByPhase[i].totalCount > 0 {
                    s.histograms[Snapshot.phase(Snapshot.connect, p)] = connectByPhase[i]
                }
                if publishAckByPhase[i].totalCount > 0 {
                    s.histograms[Snapshot.phase(Snapshot.publishAck, p)] = publishAckByPhase[i]
                }
            }
        }
        return s
    }

    /// The p99 of publish→ack so far, for the progress line.
    public var publishAckP99: UInt64 {
        publishAckHistogram.totalCount == 0 ? 0 : publishAckHistogram.valueAtPercentile(99)
    }
}

@available(*, unavailable)
extension Recorder: Sendable {}
