/// Cloud-to-device messages waiting per device, as IoT Hub keeps them: at most 50 per device (more is refused,
/// 403004 DeviceMaximumQueueDepthExceeded); a message leaves the queue when the device acknowledges it, and one
/// sent but not acknowledged before the connection ends is delivered again. Pure.
public struct CloudToDeviceQueues: Sendable {
    public static let capacity = 50
    private var queued: [String: [UInt64]] = [:]
    private var nextID: UInt64 = 1

    public init() {}

    /// Adds a new message for the device; false when its queue is full.
    public mutating func enqueue(deviceID: String) -> Bool {
        var q = queued[deviceID, default: []]
        guard q.count < Self.capacity else { return false }
        q.append(nextID)
        nextID += 1
        queued[deviceID] = q
        return true
    }

    /// Messages to send now: every queued one not already in flight on the device's connection.
    public func pending(deviceID: String, inFlight: Set<UInt64>) -> [UInt64] {
        (queued[deviceID] ?? []).filter { !inFlight.contains($0) }
    }

    /// The device acknowledged a message: it leaves the queue.
    public mutating func completed(deviceID: String, messageID: UInt64) {
        queued[deviceID]?.removeAll { $0 == messageID }
    }

    public func depth(deviceID: String) -> Int { queued[deviceID]?.count ?? 0 }
}
