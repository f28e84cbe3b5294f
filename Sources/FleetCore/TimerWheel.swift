/// Identifies one scheduled timer. Stale handles (fired or cancelled timers) are recognised by their generation.
public struct TimerHandle: Sendable, Hashable {
    @usableFromInline let index: Int32
    @usableFromInline let generation: UInt32

    /// No timer (what `TimerSlots` stores for an empty slot): never pending, cancelling it does nothing.
    public static let none = TimerHandle(index: -1, generation: 0)

    @inlinable init(index: Int32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }
}

/// A timer that came due: its payload, the instant it was scheduled for, and the instant the wheel could first fire
/// it (the start of its due tick: later than `deadline` when the deadline was already past, or mid-tick, when it
/// was scheduled). `now - due` is the wheel's own lateness; `due - deadline` is a wait the caller asked for.
public struct FiredTimer<Payload> {
    public var payload: Payload
    public var deadline: Instant
    public var due: Instant

    @inlinable public init(payload: Payload, deadline: Instant, due: Instant) {
        self.payload = payload
        self.deadline = deadline
        self.due = due
    }
}

/// A hierarchical hashed timer wheel (four levels of 256 slots, as in the classic kernel design).
///
/// Schedule and cancel are O(1) through handles; entries live in one pooled array with intrusive doubly linked lists,
/// so a wheel in steady state allocates nothing per timer. `advance(to:)` moves due timers to a ready list that
/// `popReady()` drains, so the caller may schedule and cancel while it handles fired timers. A timer never fires
/// before its deadline and at most one tick after it (relative to the `advance` call that reaches it).
public struct TimerWheel<Payload> {
    @usableFromInline struct Entry {
        @usableFromInline var deadlineTick: Int64
        @usableFromInline var deadline: Int64
        @usableFromInline var next: Int32
        @usableFromInline var prev: Int32
        @usableFromInline var list: Int32
        @usableFromInline var generation: UInt32
        @usableFromInline var payload: Payload?

        @inlinable init(payload: Payload?) {
            deadlineTick = 0
            deadline = 0
            next = -1
            prev = -1
            list = -1
            generation = 0
            self.payload = payload
        }
    }

    @usableFromInline static var slotBits: Int64 { 8 }
    @usableFromInline static var slots: Int { 256 }
    @usableFromInline static var levels: Int { 4 }
    @usableFromInline static var readyList: Int32 { Int32(levels * slots) }
    @usableFromInline static var freeList: Int32 { -1 }

    /// Tick length in nanoseconds.
    public let tickNanoseconds: Int64
    /// The last tick processed; timers due at or before it have fired.
    public var currentTick: Int64 { tickNow }
    @usableFromInline var tickNow: Int64
    @usableFromInline var entries: [Entry] = []
    @usableFromInline var heads: [Int32]
    @usableFromInline var tails: [Int32]
    @usableFromInline var levelCounts: [Int] = [0, 0, 0, 0]
    /// Timers in each level-0 slot, so a due slot moves to the ready list without visiting its entries.
    @usableFromInline var slotCounts: [Int32]
    @usableFromInline var freeHead: Int32 = -1
    /// Timers scheduled and not yet fired or cancelled (ready ones included).
    public var count: Int { pending }
    @usableFromInline var pending = 0

    @inlinable public init(tick: Duration = .milliseconds(1), start: Instant = .zero) {
        precondition(tick.nanoseconds > 0, "TimerWheel tick must be positive")
        tickNanoseconds = tick.nanoseconds
        tickNow = start.nanoseconds / tick.nanoseconds
        heads = Array(repeating: -1, count: Self.levels * Self.slots + 1)
        tails = heads
        slotCounts = Array(repeating: 0, count: Self.slots)
    }

    /// Reserves pooled entries so that scheduling up to `capacity` timers allocates nothing.
    @inlinable public mutating func reserveCapacity(_ capacity: Int) { entries.reserveCapacity(capacity) }

    /// Schedules `payload` for `deadline`. A deadline in the past fires at the next tick.
    @inlinable @discardableResult public mutating func schedule(at deadline: Instant, _ payload: Payload) -> TimerHandle
    {
        let index: Int32
        if freeHead >= 0 {
            index = freeHead
            freeHead = entries[Int(index)].next
        } else {
            index = Int32(entries.count)
            entries.append(Entry(payload: nil))
        }
        let ns = deadline.nanoseconds
        let tick = ns <= 0 ? 0 : (ns - 1) / tickNanoseconds + 1
        entries[Int(index)].deadline = ns
        entries[Int(index)].deadlineTick = Swift.max(tick, tickNow + 1)
        entries[Int(index)].payload = payload
        pending += 1
        insert(index)
        return TimerHandle(index: index, generation: entries[Int(index)].generation)
    }

    /// Cancels a pending timer; returns false when it already fired, was cancelled, or was popped.
    @inlinable @discardableResult public mutating func cancel(_ handle: TimerHandle) -> Bool {
        let i = Int(handle.index)
        guard i >= 0, i < entries.count, entries[i].generation == handle.generation, entries[i].list != Self.freeList
        else {
            return false
        }
        unlink(handle.index)
        release(handle.index)
        return true
    }

    /// The instant the wheel can first fire a pending timer (the start of its due tick), or nil when it is not pending.
    @inlinable public func due(_ handle: TimerHandle) -> Instant? {
        guard isPending(handle) else { return nil }
        return Instant(nanoseconds: entries[Int(handle.index)].deadlineTick * tickNanoseconds)
    }

    /// True while the timer is pending (scheduled or ready, not yet popped).
    @inlinable public func isPending(_ handle: TimerHandle) -> Bool {
        let i = Int(handle.index)
        return i >= 0 && i < entries.count && entries[i].generation == handle.generation
            && entries[i].list != Self.freeList
    }

    /// Processes every tick up to `now`, moving due timers to the ready list.
    @inlinable public mutating func advance(to now: Instant) {
        let target = now.nanoseconds / tickNanoseconds
        while tickNow < target {
            let inWheel = levelCounts[0] + levelCounts[1] + levelCounts[2] + levelCounts[3]
            if inWheel == 0 {
                tickNow = target
                break
            }
            if levelCounts[0] == 0 {
                let lastBeforeWrap = tickNow | (Int64(Self.slots) - 1)
                if lastBeforeWrap > tickNow {
                    tickNow = Swift.min(target, lastBeforeWrap)
                    continue
                }
            }
            tickNow += 1
            var level = 1
            var shifted = tickNow
            while level < Self.levels && shifted & 0xFF == 0 {
                shifted >>= Self.slotBits
                cascade(list: Int32(level * Self.slots + Int(shifted & 0xFF)))
                level += 1
            }
            spliceToReady(slot: Int(tickNow & 0xFF))
        }
    }

    /// Takes the next due timer, in deadline order across ticks.
    @inlinable public mutating func popReady() -> FiredTimer<Payload>? {
        let i = heads[Int(Self.readyList)]
        guard i >= 0 else { return nil }
        unlink(i)
        let entry = entries[Int(i)]
        release(i)
        guard let payload = entry.payload else { preconditionFailure("TimerWheel: ready entry without payload") }
        return FiredTimer(
            payload: payload,
            deadline: Instant(nanoseconds: entry.deadline),
            due: Instant(nanoseconds: entry.deadlineTick * tickNanoseconds)
        )
    }

    /// The payload `popReady()` returns next, without taking it (nil when none is ready).
    @inlinable public var nextReady: Payload? {
        let i = heads[Int(Self.readyList)]
        return i >= 0 ? entries[Int(i)].payload : nil
    }

    /// The next instant at which `advance` must run: the start of the earliest occupied level-0 tick, or the next
    /// cascade point when that comes first and higher levels hold timers (a cascade may move a timer into a tick
    /// before the earliest level-0 one). nil when nothing is pending. Never later than the next timer's due tick.
    @inlinable public func nextWakeup() -> Instant? {
        if heads[Int(Self.readyList)] >= 0 { return Instant(nanoseconds: tickNow * tickNanoseconds) }
        let higher = levelCounts[1] + levelCounts[2] + levelCounts[3] > 0
        let cascade = (tickNow | 0xFF) + 1
        if levelCounts[0] > 0 {
            let limit = higher ? cascade : tickNow + Int64(Self.slots)
            var t = tickNow + 1
            while t <= limit {
                if heads[Int(t & 0xFF)] >= 0 { return Instant(nanoseconds: t * tickNanoseconds) }
                t += 1
            }
        }
        return higher ? Instant(nanoseconds: cascade * tickNanoseconds) : nil
    }

    // MARK: - lists

    @inlinable mutating func insert(_ index: Int32) {
        let d = entries[Int(index)].deadlineTick
        let delta = d - tickNow
        let list: Int
        if delta < 1 << 8 {
            list = Int(d & 0xFF)
        } else if delta < 1 << 16 {
            list = Self.slots + Int((d >> 8) & 0xFF)
        } else if delta < 1 << 24 {
            list = 2 * Self.slots + Int((d >> 16) & 0xFF)
        } else {
            let clamped = Swift.min(d, tickNow + (1 << 32) - 1)
            list = 3 * Self.slots + Int((clamped >> 24) & 0xFF)
        }
        append(index, to: Int32(list))
    }

    /// Moves a due level-0 slot's whole list behind the ready list in one splice, keeping its order. Its entries are
    /// not visited: their `list` still names the slot, and `unlink` knows them as ready by their due tick (every
    /// pending timer due at or before `tickNow` is on the ready list once `advance` returns).
    @inlinable mutating func spliceToReady(slot: Int) {
        let first = heads[slot]
        guard first >= 0 else { return }
        levelCounts[0] -= Int(slotCounts[slot])
        slotCounts[slot] = 0
        let ready = Int(Self.readyList)
        let readyTail = tails[ready]
        if readyTail >= 0 {
            entries[Int(readyTail)].next = first
            entries[Int(first)].prev = readyTail
        } else {
            heads[ready] = first
            entries[Int(first)].prev = -1
        }
        tails[ready] = tails[slot]
        heads[slot] = -1
        tails[slot] = -1
    }

    @inlinable mutating func cascade(list: Int32) {
        var i = heads[Int(list)]
        heads[Int(list)] = -1
        tails[Int(list)] = -1
        let level = Int(list) / Self.slots
        while i >= 0 {
            let next = entries[Int(i)].next
            levelCounts[level] -= 1
            entries[Int(i)].list = Self.freeList
            insert(i)
            i = next
        }
    }

    @inlinable mutating func append(_ index: Int32, to list: Int32) {
        let tail = tails[Int(list)]
        entries[Int(index)].prev = tail
        entries[Int(index)].next = -1
        entries[Int(index)].list = list
        if tail >= 0 { entries[Int(tail)].next = index } else { heads[Int(list)] = index }
        tails[Int(list)] = index
        if list < Int32(Self.slots) {
            slotCounts[Int(list)] += 1
            levelCounts[0] += 1
        } else if list != Self.readyList {
            levelCounts[Int(list) / Self.slots] += 1
        }
    }

    @inlinable mutating func unlink(_ index: Int32) {
        let e = entries[Int(index)]
        // A due entry is on the ready list whatever slot its `list` still names (see `spliceToReady`).
        let list = e.deadlineTick <= tickNow ? Self.readyList : e.list
        if e.prev >= 0 { entries[Int(e.prev)].next = e.next } else { heads[Int(list)] = e.next }
        if e.next >= 0 { entries[Int(e.next)].prev = e.prev } else { tails[Int(list)] = e.prev }
        if list < Int32(Self.slots) {
            slotCounts[Int(list)] -= 1
            levelCounts[0] -= 1
        } else if list != Self.readyList {
            levelCounts[Int(list) / Self.slots] -= 1
        }
        entries[Int(index)].list = Self.freeList
    }

    @inlinable mutating func release(_ index: Int32) {
        entries[Int(index)].generation &+= 1
        entries[Int(index)].payload = nil
        entries[Int(index)].next = freeHead
        entries[Int(index)].list = Self.freeList
        freeHead = index
        pending -= 1
    }
}

extension TimerWheel: Sendable where Payload: Sendable {}
extension TimerWheel.Entry: Sendable where Payload: Sendable {}
extension FiredTimer: Sendable where Payload: Sendable {}

/// A device's pending wheel timers, one slot per `DeviceTimer` kind, stored inline (no array per device; 72 bytes:
/// empty slots hold `TimerHandle.none` rather than an optional's extra byte per slot).
public struct TimerSlots: Sendable {
    private var handles:
        (
            TimerHandle, TimerHandle, TimerHandle, TimerHandle, TimerHandle, TimerHandle, TimerHandle,
            TimerHandle, TimerHandle
        ) = (.none, .none, .none, .none, .none, .none, .none, .none, .none)

    public init() {}

    public subscript(kind: DeviceTimer) -> TimerHandle? {
        get {
            let h: TimerHandle
            switch kind {
            case .connectTimeout: h = handles.0
            case .connackTimeout: h = handles.1
            case .telemetry: h = handles.2
            case .keepAlive: h = handles.3
            case .drain: h = handles.4
            case .backoff: h = handles.5
            case .tokenRenewal: h = handles.6
            case .retryDeadline: h = handles.7
            case .twin: h = handles.8
            }
            return h == .none ? nil : h
        }
        set {
            let h = newValue ?? .none
            switch kind {
            case .connectTimeout: handles.0 = h
            case .connackTimeout: handles.1 = h
            case .telemetry: handles.2 = h
            case .keepAlive: handles.3 = h
            case .drain: handles.4 = h
            case .backoff: handles.5 = h
            case .tokenRenewal: handles.6 = h
            case .retryDeadline: handles.7 = h
            case .twin: handles.8 = h
            }
        }
    }
}
