public import FleetCore
public import FleetMetrics

/// Turns hub events into `HubStats` (with per-device message-id tracking). A value: the embedded hub keeps one
/// on its loop, the in-memory harness keeps one too, so both count the same way.
public struct HubRecorder: Sendable {
    public private(set) var stats = HubStats()
    private var trackers: [String: SequenceTracker] = [:]

    /// `bin`: the hub series' bin width (the run's, when embedded).
    public init(bin: Duration = .milliseconds(100)) {
        stats.series = TimeSeries(bin: bin)
    }

    public mutating func countTakeover() { stats.takenOver += 1 }

    /// A throttle's decision on a CONNECT or a PUBLISH.
    public mutating func countThrottle(connect: Bool, decision: RateShaper.Decision, at: Instant) {
        switch (connect, decision) {
        case (_, .now): return
        case (true, .after): stats.shapedConnects += 1
        case (false, .after): stats.shapedSends += 1
        case (true, .reject): stats.throttledConnects += 1
        case (false, .reject): stats.throttledSends += 1
        }
        if decision == .reject { stats.series.add(.hubThrottled, at: at) }
    }
    /// A D2C message counted without per-device maps (the simulated hub tracks ids itself).
    public mutating func countMessage(duplicate: Bool, firstFromDevice: Bool, at: Instant) {
        stats.messagesReceived += 1
        stats.series.add(.hubReceived, at: at)
        if firstFromDevice { stats.devicesSeenUntracked += 1 }
        if duplicate {
            stats.duplicates += 1
            stats.series.add(.hubDuplicates, at: at)
        }
    }
    public mutating func countTokenExpiry() { stats.tokenExpiredDrops += 1 }
    public mutating func countSlowConsumer() { stats.slowConsumers += 1 }
    public mutating func countQuotaExceeded() { stats.quotaExceeded += 1 }
    public mutating func countCloudToDevice(sent: Int, at: Instant) {
        stats.c2dSent += UInt64(sent)
        stats.series.add(.c2dSent, UInt64(sent), at: at)
    }
    public mutating func countCloudToDeviceAck() { stats.c2dAcked += 1 }
    public mutating func countCloudToDeviceRejected() { stats.c2dRejected += 1 }
    public mutating func countTwin(get: Bool) {
        if get { stats.twinGets += 1 } else { stats.twinPatches += 1 }
    }

    /// The open connections gauge.
    public mutating func connections(_ open: Int, at: Instant) {
        stats.series.set(.hubConnections, UInt64(open), at: at)
    }

    /// Records one event at hub time `at`; `peer` is the client's IP address when known.
    public mutating func record(_ event: HubEvent, peer: String?, at: Instant = .zero) {
        switch event {
        case .accepted(let id, _):
            stats.connectionsAccepted += 1
            stats.series.add(.hubAccepted, at: at)
            if let peer { stats.sourceAddressesByDevice[id, default: []].insert(peer) }
        case .refused(_, let reason):
            stats.connectionsRefused += 1
            stats.series.add(.hubRefused, at: at)
            stats.series.add(.hubRefused, label: reason?.rawValue ?? "other", at: at)
            stats.refusedByReason[reason?.rawValue ?? "other", default: 0] += 1
        case .message(let id, let messageID):
            stats.messagesReceived += 1
            stats.series.add(.hubReceived, at: at)
            stats.messagesByDevice[id, default: 0] += 1
            guard let messageID else { return }
            switch trackers[id, default: SequenceTracker()].observe(messageID) {
            case .duplicate:
                stats.duplicates += 1
                stats.series.add(.hubDuplicates, at: at)
            case .outOfOrder:
                stats.outOfOrder += 1
                stats.series.add(.hubOutOfOrder, at: at)
            case .inOrder: break
            }
        case .protocolError:
            stats.protocolErrors += 1
        case .pingFlood:
            stats.protocolErrors += 1
            stats.pingFloods += 1
        case .forbiddenTopic:
            stats.protocolErrors += 1
            stats.forbiddenTopics += 1
        }
    }
}
