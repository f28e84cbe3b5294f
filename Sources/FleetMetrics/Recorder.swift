public import FleetCore
internal import Histogram

/// Records device events of one event loop. Not thread-safe by design: one per loop, read on that loop.
public final class Recorder {
    public private(set) var snapshot = Snapshot()
    private var connectHistogram = LatencyLayout.make()
    private var publishAckHistogram = LatencyLayout.make()

    public init() {}

    public func record(_ event: DeviceEvent) {
        switch event {
        case .connectAttempt:
            snapshot.counters.connectAttempts += 1
        case .connected(let latency):
            snapshot.counters.connected += 1
            snapshot.connectedNow += 1
            LatencyLayout.record(latency.nanoseconds, in: &connectHistogram)
        case .refused(let code):
            snapshot.counters.refusedByCode[code, default: 0] += 1
        case .generated(let qos):
            snapshot.counters.generated += 1
            if qos == .atMostOnce { snapshot.counters.acked += 1 }
        case .acked(let latency):
            snapshot.counters.acked += 1
            LatencyLayout.record(latency.nanoseconds, in: &publishAckHistogram)
        case .failed(let count, let outcome):
            snapshot.counters.failedByReason[outcome.rawValue, default: 0] += UInt64(count)
        case .received:
            snapshot.counters.received += 1
        case .finished(let outcome):
            snapshot.counters.outcomes[outcome.rawValue, default: 0] += 1
        }
    }

    /// Call when a connected device's connection ends (keeps the connected gauge right).
    public func connectionEnded() {
        if snapshot.connectedNow > 0 { snapshot.connectedNow -= 1 }
    }

    /// A copy of everything recorded so far (histograms included).
    public func capture() -> Snapshot {
        var s = snapshot
        s.histograms[Snapshot.connect] = connectHistogram
        s.histograms[Snapshot.publishAck] = publishAckHistogram
        return s
    }

    /// The p99 of publish→ack so far, for the progress line.
    public var publishAckP99: UInt64 {
        publishAckHistogram.totalCount == 0 ? 0 : publishAckHistogram.valueAtPercentile(99)
    }
}

@available(*, unavailable)
extension Recorder: Sendable {}
