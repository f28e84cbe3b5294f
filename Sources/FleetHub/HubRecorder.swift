internal import FleetCore
public import FleetMetrics

/// Turns hub events into `HubStats` (with per-device message-id tracking). A value: the embedded hub keeps one
/// on its loop, the in-memory harness keeps one too, so both count the same way.
public struct HubRecorder: Sendable {
    public private(set) var stats = HubStats()
    private var trackers: [String: SequenceTracker] = [:]

    public init() {}

    public mutating func countTakeover() { stats.takenOver += 1 }

    /// A throttle's decision on a CONNECT or a PUBLISH.
    public mutating func countThrottle(connect: Bool, decision: RateShaper.Decision) {
        switch (connect, decision) {
        case (_, .now): break
        case (true, .after): stats.shapedConnects += 1
        case (false, .after): stats.shapedSends += 1
        case (true, .reject): stats.throttledConnects += 1
        case (false, .reject): stats.throttledSends += 1
        }
    }
    public mutating func countTokenExpiry() { stats.tokenExpiredDrops += 1 }

    /// Records one event; `peer` is the client's IP address when known.
    public mutating func record(_ event: HubEvent, peer: String?) {
        switch event {
        case .accepted(let id, _):
            stats.connectionsAccepted += 1
            if let peer { stats.sourceAddressesByDevice[id, default: []].insert(peer) }
        case .refused(_, let reason):
            stats.connectionsRefused += 1
            stats.refusedByReason[reason?.rawValue ?? "fault_or_client_id", default: 0] += 1
        case .message(let id, let messageID):
            stats.messagesReceived += 1
            stats.messagesByDevice[id, default: 0] += 1
            guard let messageID else { return }
            switch trackers[id, default: SequenceTracker()].observe(messageID) {
            case .duplicate: stats.duplicates += 1
            case .outOfOrder: stats.outOfOrder += 1
            case .inOrder: break
            }
        case .protocolError:
            stats.protocolErrors += 1
        }
    }
}
