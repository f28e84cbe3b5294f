/// What a full offline queue does with the next message.
public enum QueueOverflow: String, Sendable, Hashable, CaseIterable {
    /// Drop the oldest queued message (counted as failed: queue_overflow) and queue the new one.
    case dropOldest = "drop-oldest"
    /// Drop the new message (counted as failed: queue_overflow).
    case dropNewest = "drop-newest"
    /// Do not generate the message at all: generation waits for room.
    case blockGeneration = "block-generation"
}

/// A message waiting to be sent: its intended send time and its message id (a per-device sequence).
public struct QueuedMessage: Sendable, Hashable {
    public var intended: Instant
    public var seq: UInt64
}

/// A bounded FIFO of messages waiting to be sent, as a ring buffer: no shifting, and no allocation once it has
/// grown to its working size.
public struct OfflineQueue: Sendable, Hashable {
    private var storage: [QueuedMessage] = []
    private var head = 0
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ message: QueuedMessage) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = message
        count += 1
    }

    /// Doubles the ring (at least 4 slots), unrolled so that the head is at 0: O(1) amortised per append.
    private mutating func grow() {
        let capacity = Swift.max(4, storage.count * 2)
        var bigger: [QueuedMessage] = []
        bigger.reserveCapacity(capacity)
        for i in 0..<count { bigger.append(storage[(head + i) % storage.count]) }
        let filler = QueuedMessage(intended: .zero, seq: 0)
        bigger.append(contentsOf: repeatElement(filler, count: capacity - count))
        storage = bigger
        head = 0
    }

    /// Slots allocated (grows geometrically; never shrinks).
    public var capacity: Int { storage.count }

    public mutating func popFirst() -> QueuedMessage? {
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
