public import FleetCore
public import FleetMetrics

/// Turns hub events into `HubStats` (with per-device message-id tracking). A value: the embedded hub keeps one
/// on its loop, the in-memory harness keeps one too, so both count the same way.
public struct HubRecorder: Sendable {
    /// What was counted; `refusedByReason` is folded in from `refusedCounts` when read.
    private var counted = HubStats()
    private var trackers: [String: SequenceTracker] = [:]
    /// Refusals by reason (`Refusal.allCases` order, then "other") and each reason's series column: a refusal storm
    /// builds and hashes no string per CONNECT.
    private var refusedCounts = [UInt64](repeating: 0, count: HubAuthenticator.Refusal.allCases.count + 1)
    private var refusedColumns = [Int](repeating: -1, count: HubAuthenticator.Refusal.allCases.count + 1)

    public var stats: HubStats {
        var s = counted
        for (k, n) in refusedCounts.enumerated() where n > 0 {
            s.refusedByReason[Self.reasonKey(k), default: 0] += n
        }
        return s
    }

    /// `bin`: the hub series' bin width (the run's, when embedded).
    public init(bin: Duration = .milliseconds(100)) {
        counted.series = TimeSeries(bin: bin)
    }

    private static func reasonKey(_ k: Int) -> String {
        let all = HubAuthenticator.Refusal.allCases
        return k < all.count ? all[k].rawValue : "other"
    }

    public mutating func countTakeover() { counted.takenOver += 1 }

    /// A throttle's decision on a CONNECT or a PUBLISH.
    public mutating func countThrottle(connect: Bool, decision: RateShaper.Decision, at: Instant) {
        switch (connect, decision) {
        case (_, .now): return
        case (true, .after): counted.shapedConnects += 1
        case (false, .after): counted.shapedSends += 1
        case (true, .reject): counted.throttledConnects += 1
        case (false, .reject): counted.throttledSends += 1
        }
        if decision == .reject { counted.series.add(.hubThrottled, at: at) }
    }
    /// A D2C message counted without per-device maps (the simulated hub tracks ids itself).
    public mutating func countMessage(duplicate: Bool, firstFromDevice: Bool, at: Instant) {
        counted.messagesReceived += 1
        counted.series.add(.hubReceived, at: at)
        if firstFromDevice { counted.devicesSeenUntracked += 1 }
        if duplicate {
            counted.duplicates += 1
            counted.series.add(.hubDuplicates, at: at)
        }
    }
    public mutating func countTokenExpiry() { counted.tokenExpiredDrops += 1 }
    public mutating func countSlowConsumer() { counted.slowConsumers += 1 }
    public mutating func countAMQPConnection() { counted.amqpConnections += 1 }
    public mutating func countQuotaExceeded() { counted.quotaExceeded += 1 }
    public mutating func countCloudToDevice(sent: Int, at: Instant) {
        counted.c2dSent += UInt64(sent)
        counted.series.add(.c2dSent, UInt64(sent), at: at)
    }
    public mutating func countCloudToDeviceAck() { counted.c2dAcked += 1 }
    public mutating func countCloudToDeviceRejected() { counted.c2dRejected += 1 }
    /// A twin GET or PATCH answered (FleetSim's hub; the test hub's twin store counts its own).
    public mutating func countTwin(get: Bool) {
        if get { counted.twinGets += 1 } else { counted.twinPatches += 1 }
    }

    /// A twin throttle's decision on a twin request (a rejection is a throttled request in the hub_throttled series).
    public mutating func countTwinThrottle(_ decision: RateShaper.Decision, at: Instant) {
        switch decision {
        case .now: return
        case .after: counted.shapedTwinRequests += 1
        case .reject:
            counted.throttledTwinRequests += 1
            counted.series.add(.hubThrottled, at: at)
        }
    }

    /// The open connections gauge.
    public mutating func connections(_ open: Int, at: Instant) {
        counted.series.set(.hubConnections, UInt64(open), at: at)
    }

    /// Records one event at hub time `at`; `peer` is the client's IP address when known.
    public mutating func record(_ event: HubEvent, peer: String?, at: Instant = .zero) {
        switch event {
        case .accepted(let id, _):
            counted.connectionsAccepted += 1
            counted.series.add(.hubAccepted, at: at)
            if let peer { counted.sourceAddressesByDevice[id, default: []].insert(peer) }
        case .refused(_, let reason):
            counted.connectionsRefused += 1
            counted.series.add(.hubRefused, at: at)
            let all = HubAuthenticator.Refusal.allCases
            let k = reason.flatMap { all.firstIndex(of: $0) } ?? all.count
            refusedCounts[k] += 1
            var c = refusedColumns[k]
            if c < 0 {
                c = counted.series.columnIndex(key: "\(TimeSeries.Name.hubRefused.rawValue):\(Self.reasonKey(k))")
                refusedColumns[k] = c
            }
            counted.series.add(column: c, at: at)
        case .message(let id, let messageID):
            counted.messagesReceived += 1
            counted.series.add(.hubReceived, at: at)
            counted.messagesByDevice[id, default: 0] += 1
            guard let messageID else { return }
            switch trackers[id, default: SequenceTracker()].observe(messageID) {
            case .duplicate:
                counted.duplicates += 1
                counted.series.add(.hubDuplicates, at: at)
            case .outOfOrder:
                counted.outOfOrder += 1
                counted.series.add(.hubOutOfOrder, at: at)
            case .inOrder: break
            }
        case .protocolError:
            counted.protocolErrors += 1
        case .pingFlood:
            counted.protocolErrors += 1
            counted.pingFloods += 1
        case .forbiddenTopic:
            counted.protocolErrors += 1
            counted.forbiddenTopics += 1
        }
    }
}
