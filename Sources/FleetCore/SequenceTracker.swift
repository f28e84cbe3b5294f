/// Per-device message-id bookkeeping for the hub: which ids arrived, which twice, which after a later one.
/// Memory stays small when ids arrive nearly in order: everything up to `contiguous` is one number, only ids above
/// a gap are kept in a set.
public struct SequenceTracker: Sendable, Hashable {
    /// Every id in 1...contiguous has arrived.
    public private(set) var contiguous: UInt64 = 0
    private var above: Set<UInt64> = []
    public private(set) var highest: UInt64 = 0

    public init() {}

    public enum Arrival: Sendable, Hashable {
        case inOrder
        /// Arrived after an id that was sent later.
        case outOfOrder
        /// Seen before.
        case duplicate
    }

    public mutating func observe(_ id: UInt64) -> Arrival {
        if id <= contiguous || above.contains(id) { return .duplicate }
        let arrival: Arrival = id < highest ? .outOfOrder : .inOrder
        highest = max(highest, id)
        if id == contiguous + 1 {
            contiguous = id
            while above.remove(contiguous + 1) != nil { contiguous += 1 }
        } else {
            above.insert(id)
        }
        return arrival
    }

    /// The message id in an IoT Hub telemetry topic's property bag (`%24.mid=` or `$.mid=`), if it is a number.
    public static func messageID(inTopic topic: String) -> UInt64? {
        guard let range = topic.range(of: "/messages/events/") else { return nil }
        for pair in topic[range.upperBound...].split(separator: "&") {
            if pair.hasPrefix("%24.mid=") { return UInt64(pair.dropFirst(8)) }
            if pair.hasPrefix("$.mid=") { return UInt64(pair.dropFirst(6)) }
        }
        return nil
    }
}
