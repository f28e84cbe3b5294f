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
    /// Reads the topic's bytes in place: the hub calls this for every message, so it allocates nothing.
    public static func messageID(inTopic topic: String) -> UInt64? {
        ByteText.withBytes(topic) { bytes in
            guard var i = ByteText.end(of: "/messages/events/", in: bytes) else { return nil }
            while i < bytes.count {
                var amp = i
                while amp < bytes.count && bytes[amp] != UInt8(ascii: "&") { amp += 1 }
                if ByteText.has("%24.mid=", in: bytes, at: i), amp - i >= 8 {
                    return ByteText.decimal(bytes, from: i + 8, to: amp)
                }
                if ByteText.has("$.mid=", in: bytes, at: i), amp - i >= 6 {
                    return ByteText.decimal(bytes, from: i + 6, to: amp)
                }
                i = amp + 1
            }
            return nil
        }
    }
}
