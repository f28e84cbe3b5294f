import Testing

@testable import FleetCore

@Suite("TimerWheel")
struct TimerWheelTests {
    /// Property test against a reference model: seeded random schedules, cancels and advances. Every timer fires
    /// exactly once, never before its deadline, and by the first advance that passes its due tick; cancelled timers
    /// never fire. A deadline already in the past is due at the next tick.
    @Test("matches a reference model", arguments: [UInt64(1), 2, 3, 42, 1234])
    func againstReference(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let tick: Int64 = 1_000_000
        var wheel = TimerWheel<Int>(tick: .nanoseconds(tick))
        var pending: [Int: (deadline: Int64, due: Int64, handle: TimerHandle)] = [:]
        var fired = Set<Int>()
        var cancelled = Set<Int>()
        var now: Int64 = 0
        var nextID = 0
        for _ in 0..<4000 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                // Deadlines from the past to ~3 days ahead, exercising every level and the clamp.
                let horizon: Int64 = [1_000_000, 300_000_000, 70_000_000_000, 20_000_000_000_000, 300_000_000_000_000]
                    .randomElement(using: &rng)!
                let deadline = now + Int64.random(in: -5_000_000...horizon, using: &rng)
                let h = wheel.schedule(at: Instant(nanoseconds: deadline), nextID)
                let nextTickStart = (now / tick + 1) * tick
                pending[nextID] = (deadline, max(deadline, nextTickStart), h)
                nextID += 1
            case 5..<7:
                if let (id, entry) = pending.randomElement(using: &rng) {
                    let first = wheel.cancel(entry.handle)
                    let second = wheel.cancel(entry.handle)
                    #expect(first)
                    #expect(!second, "double cancel must report false")
                    pending[id] = nil
                    cancelled.insert(id)
                }
            default:
                let step: Int64 = [500_000, 3_000_000, 700_000_000, 90_000_000_000].randomElement(using: &rng)!
                now += Int64.random(in: 0...step, using: &rng)
                wheel.advance(to: Instant(nanoseconds: now))
                var lastDeadline = Int64.min + 1_000_000_000
                // Now and then leave some ready timers unpopped: later cancels, schedules and advances then meet a
                // non-empty ready list (whose entries still name the slot they came from).
                let popAll = Int.random(in: 0..<3, using: &rng) > 0
                var budget = popAll ? Int.max : Int.random(in: 0..<5, using: &rng)
                while budget > 0 {
                    budget -= 1
                    let peeked = wheel.nextReady
                    guard let t = wheel.popReady() else {
                        #expect(peeked == nil, "nextReady shows a timer popReady does not return")
                        break
                    }
                    #expect(peeked == t.payload, "nextReady is what popReady returns next")
                    let id = t.payload
                    #expect(!fired.contains(id), "timer \(id) fired twice")
                    #expect(!cancelled.contains(id), "cancelled timer \(id) fired")
                    guard let entry = pending[id] else { continue }
                    #expect(entry.deadline <= now, "timer \(id) fired early")
                    #expect(t.deadline.nanoseconds == entry.deadline)
                    #expect(entry.due >= lastDeadline - tick, "ready list out of order")
                    lastDeadline = entry.due
                    fired.insert(id)
                    pending[id] = nil
                }
                // Everything due at or before the current tick must have fired by now (when all were popped).
                for (id, entry) in pending where popAll {
                    #expect(entry.due > (now / tick) * tick, "timer \(id) due at \(entry.due) still pending at \(now)")
                }
            }
        }
        #expect(wheel.count == pending.count)
        // Drain: far in the future everything fires, exactly once.
        now += 400_000_000_000_000
        wheel.advance(to: Instant(nanoseconds: now))
        while let t = wheel.popReady() {
            let removed = pending.removeValue(forKey: t.payload)
            #expect(removed != nil)
        }
        #expect(pending.isEmpty)
        #expect(wheel.count == 0)
    }

    @Test func neverEarlyAtMostOneTickLate() {
        var wheel = TimerWheel<Int>(tick: .milliseconds(1))
        wheel.schedule(at: Instant(nanoseconds: 2_500_000), 1)
        wheel.advance(to: Instant(nanoseconds: 2_999_999))
        let early = wheel.popReady()
        #expect(early == nil, "due at 2.5 ms, must not fire before the 3 ms tick")
        wheel.advance(to: Instant(nanoseconds: 3_000_000))
        let onTime = wheel.popReady()
        #expect(onTime?.payload == 1)
    }

    @Test func staleHandleAfterReuse() {
        var wheel = TimerWheel<Int>()
        let a = wheel.schedule(at: Instant(nanoseconds: 5_000_000), 1)
        wheel.advance(to: Instant(nanoseconds: 6_000_000))
        let fired = wheel.popReady()
        #expect(fired?.payload == 1)
        let b = wheel.schedule(at: Instant(nanoseconds: 9_000_000), 2)  // reuses a's slot
        let cancelledStale = wheel.cancel(a)
        #expect(!cancelledStale, "a stale handle must not cancel the new timer")
        #expect(wheel.isPending(b))
    }

    @Test func cancelWhileReady() {
        var wheel = TimerWheel<Int>()
        wheel.schedule(at: Instant(nanoseconds: 1_000_000), 1)
        let second = wheel.schedule(at: Instant(nanoseconds: 1_000_000), 2)
        wheel.advance(to: Instant(nanoseconds: 2_000_000))
        let first = wheel.popReady()
        #expect(first?.payload == 1)
        let cancelled = wheel.cancel(second)
        #expect(cancelled)
        let none = wheel.popReady()
        #expect(none == nil)
    }

    @Test func nextWakeupIsALowerBound() {
        var wheel = TimerWheel<Int>(tick: .milliseconds(1))
        #expect(wheel.nextWakeup() == nil)
        wheel.schedule(at: Instant(nanoseconds: 40_000_000), 1)
        #expect(wheel.nextWakeup() == Instant(nanoseconds: 40_000_000))
        wheel.schedule(at: Instant(nanoseconds: 10_000_000_000), 2)
        wheel.advance(to: Instant(nanoseconds: 50_000_000))
        _ = wheel.popReady()
        let w = wheel.nextWakeup()
        #expect(w != nil && w! <= Instant(nanoseconds: 10_000_000_000))
    }

    @Test func steadyStateReusesEntries() {
        var wheel = TimerWheel<Int>()
        var now: Int64 = 0
        for i in 0..<10_000 {
            wheel.schedule(at: Instant(nanoseconds: now + 5_000_000), i)
            now += 1_000_000
            wheel.advance(to: Instant(nanoseconds: now))
            while wheel.popReady() != nil {}
        }
        #expect(wheel.count <= 6)
    }
}
