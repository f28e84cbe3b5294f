public import FleetCore
public import NIOCore
internal import Synchronization

/// What a hub received, kept for a user to look at (`fleetstorm hub --sample FILE`, `simulate --sample FILE`): the
/// first `limit` telemetry messages in arrival order, and each device's last one. Bounded: at most `limit` first
/// messages and one last message per device, each body cut at `maxBodyBytes` (its full size is kept). Shared by every
/// connection of a hub (and every partition of a simulation), so it locks; a hub without a sample never calls it.
public final class MessageSample: Sendable {
    public struct Message: Sendable, Hashable {
        public var deviceID: String
        /// The message id from the topic's `$.mid` (nil when the sender gave none).
        public var messageID: UInt64?
        /// The topic's property bag after `messages/events/` (URL-encoded, as sent).
        public var properties: String
        /// The body's first bytes (all of it up to `maxBodyBytes`), and its whole size.
        public var body: [UInt8]
        public var bodyBytes: Int
        /// When the hub received it, from the hub's (or the simulation's) start.
        public var received: Instant
    }

    public let limit: Int
    public let maxBodyBytes: Int
    private struct State {
        var first: [Message] = []
        var last: [String: Message] = [:]
        var offered = 0
    }
    private let state = Mutex(State())

    public init(limit: Int = 1_000, maxBodyBytes: Int = 64 * 1024) {
        self.limit = max(0, limit)
        self.maxBodyBytes = max(0, maxBodyBytes)
    }

    /// A telemetry message `deviceID` sent on `topic` (other topics are ignored).
    public func offer(deviceID: String, topic: String, payload: ByteBuffer, at now: Instant) {
        let marker = "/messages/events/"
        guard topic.hasPrefix("devices/"), let range = topic.range(of: marker) else { return }
        let view = payload.readableBytesView
        let message = Message(
            deviceID: deviceID,
            messageID: SequenceTracker.messageID(inTopic: topic),
            properties: String(topic[range.upperBound...]),
            body: Array(view.prefix(maxBodyBytes)),
            bodyBytes: view.count,
            received: now
        )
        state.withLock { s in
            s.offered += 1
            if s.first.count < limit { s.first.append(message) }
            s.last[deviceID] = message
        }
    }

    /// The first messages in arrival order, each device's last one (by device id), and how many were offered.
    public var contents: (first: [Message], last: [Message], offered: Int) {
        state.withLock { s in
            (s.first, s.last.values.sorted { $0.deviceID < $1.deviceID }, s.offered)
        }
    }
}
