/// What a full offline queue does with the next message.
public enum QueueOverflow: String, Sendable, Hashable, CaseIterable {
    /// Drop the oldest queued message (counted as failed: queue_overflow) and queue the new one.
    case dropOldest = "drop-oldest"
    /// Drop the new message (counted as failed: queue_overflow).
    case dropNewest = "drop-newest"
    /// Do not generate the message at all: generation waits for room.
    case blockGeneration = "block-generation"
}

/// A bounded FIFO of messages waiting to be sent (their intended send times), as a ring buffer: no shifting, and
/// no allocation once it has grown to its working size.
public struct OfflineQueue: Sendable, Hashable {
    private var storage: [Instant] = []
    private var head = 0
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ intended: Instant) {
        if count == storage.count {
            // Grow: unroll the ring so that head is at 0.
            storage = (0..<count).map { storage[(head + $0) % max(storage.count, 1)] } + [intended]
            head = 0
            count += 1
            return
        }
        storage[(head + count) % storage.count] = intended
        count += 1
    }

    public mutating func popFirst() -> Instant? {
        guard count > 0 else { return nil }
        let v = storage[head]
        head = (head + 1) % storage.count
        count -= 1
        return v
    }

    public mutating func removeAll() {
        head = 0
        count = 0
    }
}
