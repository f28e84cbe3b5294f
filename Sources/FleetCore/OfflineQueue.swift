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

/// A FIFO of messages waiting to be sent, stored as runs: messages with consecutive ids whose intended send times
/// are evenly spaced (what periodic telemetry queues while a device is offline) are one run of 32 bytes however many
/// there are, so a fleet sitting out an outage holds a few bytes per device, not one slot per message. Irregular
/// messages are runs of one. The runs sit in a ring buffer that grows geometrically: no shifting, and no allocation
/// once it has grown to its working size.
public struct OfflineQueue: Sendable, Hashable {
    struct Run: Sendable, Hashable {
        var firstSeq: UInt64
        var firstIntended: Int64
        /// Nanoseconds between consecutive messages' intended times.
        var step: Int64
        var count: Int

        func extended(by m: QueuedMessage) -> Run? {
            guard m.seq == firstSeq &+ UInt64(count) else { return nil }
            if count == 1 {
                return Run(
                    firstSeq: firstSeq,
                    firstIntended: firstIntended,
                    step: m.intended.nanoseconds &- firstIntended,
                    count: 2
                )
            }
            guard m.intended.nanoseconds == firstIntended &+ step &* Int64(count) else { return nil }
            var r = self
            r.count += 1
            return r
        }
    }

    private var runs: [Run] = []
    private var head = 0
    private var used = 0
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ message: QueuedMessage) {
        count += 1
        if used > 0 {
            let last = (head + used - 1) % runs.count
            if let longer = runs[last].extended(by: message) {
                runs[last] = longer
                return
            }
        }
        if used == runs.count { grow() }
        runs[(head + used) % runs.count] = Run(
            firstSeq: message.seq,
            firstIntended: message.intended.nanoseconds,
            step: 0,
            count: 1
        )
        used += 1
    }

    /// Doubles the ring (at least 2 runs), unrolled so that the head is at 0: O(1) amortised per append.
    private mutating func grow() {
        let capacity = Swift.max(2, runs.count * 2)
        var bigger: [Run] = []
        bigger.reserveCapacity(capacity)
        for i in 0..<used { bigger.append(runs[(head + i) % runs.count]) }
        let filler = Run(firstSeq: 0, firstIntended: 0, step: 0, count: 0)
        bigger.append(contentsOf: repeatElement(filler, count: capacity - used))
        runs = bigger
        head = 0
    }

    /// Runs allocated (grows geometrically; never shrinks).
    public var capacity: Int { runs.count }

    public mutating func popFirst() -> QueuedMessage? {
        guard count > 0 else { return nil }
        let run = runs[head]
        count -= 1
        if run.count == 1 {
            head = (head + 1) % runs.count
            used -= 1
        } else {
            runs[head].firstSeq &+= 1
            runs[head].firstIntended &+= run.step
            runs[head].count -= 1
        }
        return QueuedMessage(intended: Instant(nanoseconds: run.firstIntended), seq: run.firstSeq)
    }

    public mutating func removeAll() {
        head = 0
        used = 0
        count = 0
    }
}
