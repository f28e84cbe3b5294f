/// QoS 1 messages published and not yet acknowledged, by packet id, stored as runs: consecutive packet ids carrying
/// consecutive message ids at evenly spaced intended times (what a device flushing its queue after a reconnect
/// sends) are one run of 32 bytes however many there are. Acknowledgements usually come in order (the front of the
/// first run); one from the middle splits a run. Kept in insertion order.
public struct InflightWindow: Sendable, Hashable {
    struct Run: Sendable, Hashable {
        var firstID: UInt16
        var count: UInt16
        var firstSeq: UInt64
        var firstIntended: Int64
        /// Nanoseconds between consecutive messages' intended times.
        var step: Int64

        func contains(_ id: UInt16) -> Bool { id >= firstID && Int(id) < Int(firstID) + Int(count) }

        func message(at k: Int) -> QueuedMessage {
            QueuedMessage(intended: Instant(nanoseconds: firstIntended &+ step &* Int64(k)), seq: firstSeq &+ UInt64(k))
        }

        /// This run with one more message at its end, or nil when the message does not continue it.
        func extended(id: UInt16, _ m: QueuedMessage) -> Run? {
            guard Int(id) == Int(firstID) + Int(count), count < UInt16.max, m.seq == firstSeq &+ UInt64(count) else {
                return nil
            }
            var r = self
            if count == 1 {
                r.step = m.intended.nanoseconds &- firstIntended
            } else if m.intended.nanoseconds != firstIntended &+ step &* Int64(count) {
                return nil
            }
            r.count += 1
            return r
        }
    }

    private var runs: [Run] = []
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Runs stored (what the window's memory grows with).
    public var runCount: Int { runs.count }

    public mutating func append(id: UInt16, message: QueuedMessage) {
        count += 1
        if let last = runs.last, let longer = last.extended(id: id, message) {
            runs[runs.count - 1] = longer
            return
        }
        runs.append(
            Run(firstID: id, count: 1, firstSeq: message.seq, firstIntended: message.intended.nanoseconds, step: 0)
        )
    }

    /// Appends every message of `other`, in its order.
    public mutating func append(contentsOf other: InflightWindow) {
        for run in other.runs {
            for k in 0..<Int(run.count) { append(id: run.firstID &+ UInt16(k), message: run.message(at: k)) }
        }
    }

    public func contains(id: UInt16) -> Bool { runs.contains { $0.contains(id) } }

    /// Removes and returns the message with packet id `id` (nil: none in flight).
    public mutating func remove(id: UInt16) -> QueuedMessage? {
        guard let r = runs.firstIndex(where: { $0.contains(id) }) else { return nil }
        let run = runs[r]
        let k = Int(id - run.firstID)
        let message = run.message(at: k)
        count -= 1
        if run.count == 1 {
            runs.remove(at: r)
        } else if k == 0 {
            runs[r].firstID &+= 1
            runs[r].firstSeq &+= 1
            runs[r].firstIntended &+= run.step
            runs[r].count -= 1
        } else if k == Int(run.count) - 1 {
            runs[r].count -= 1
        } else {
            // From the middle: the run splits around it.
            runs[r].count = UInt16(k)
            let after = run.message(at: k + 1)
            runs.insert(
                Run(
                    firstID: id &+ 1,
                    count: run.count - UInt16(k) - 1,
                    firstSeq: after.seq,
                    firstIntended: after.intended.nanoseconds,
                    step: run.step
                ),
                at: r + 1
            )
        }
        return message
    }

    public mutating func removeAll() {
        runs.removeAll()
        count = 0
    }

    /// Every message with its packet id, in packet-id order.
    public func sortedByID() -> [(id: UInt16, message: QueuedMessage)] {
        var all: [(id: UInt16, message: QueuedMessage)] = []
        all.reserveCapacity(count)
        for run in runs {
            for k in 0..<Int(run.count) { all.append((run.firstID &+ UInt16(k), run.message(at: k))) }
        }
        return all.sorted { $0.id < $1.id }
    }
}
