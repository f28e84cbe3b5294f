import Testing

@testable import FleetCore

/// The wheel as the loop drives it: the clock only ever moves to `nextWakeup()` (or to an earlier instant, when other
/// work wakes the loop), and the wheel is checked against a plain priority queue of (due tick, id). A wakeup later
/// than the earliest due timer would make that timer late; this is the case the level-0 scan used to miss.
@Suite("TimerWheel: nextWakeup against a priority queue")
struct TimerWheelWakeupTests {
    static let tick: Int64 = 1_000_000

    /// The reproduction from the issue: A due at tick 300 (level 1), C at 250; C fires; B scheduled at 400. The
    /// next wakeup must not be 400 (A would fire 100 ticks late).
    @Test func sparseLevelZeroDoesNotHideACascade() {
        var wheel = TimerWheel<String>(tick: .nanoseconds(Self.tick))
        wheel.schedule(at: Instant(nanoseconds: 300 * Self.tick), "A")
        wheel.schedule(at: Instant(nanoseconds: 250 * Self.tick), "C")
        wheel.advance(to: Instant(nanoseconds: 250 * Self.tick))
        #expect(wheel.popReady()?.payload == "C")
        wheel.schedule(at: Instant(nanoseconds: 400 * Self.tick), "B")
        let wake = wheel.nextWakeup()
        #expect(wake != nil && wake! <= Instant(nanoseconds: 300 * Self.tick), "woke at \(String(describing: wake))")
        // Driven by wakeups alone, A fires exactly at its due tick.
        var now = wake!
        var firedA: Instant?
        while firedA == nil, now <= Instant(nanoseconds: 400 * Self.tick) {
            wheel.advance(to: now)
            while let t = wheel.popReady() {
                if t.payload == "A" { firedA = now }
            }
            guard let next = wheel.nextWakeup() else { break }
            now = next
        }
        #expect(firedA == Instant(nanoseconds: 300 * Self.tick))
    }

    @Test(
        "wakeup-driven wheel fires every timer in due order, at most one tick late",
        arguments: [UInt64(7), 11, 99, 2024, 31337, 424242]
    )
    func wakeupDriven(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let tick = Self.tick
        var wheel = TimerWheel<Int>(tick: .nanoseconds(tick))
        // The model: id → (deadline, due tick start, handle); "popping" it means taking the minimum due.
        var model: [Int: (deadline: Int64, due: Int64, handle: TimerHandle)] = [:]
        var now: Int64 = 0
        var nextID = 0
        var firedCount = 0
        var cancelledCount = 0
        var worstLateness: Int64 = 0
        // Horizons: within level 0, level 1 (sparse retries over seconds), level 2, level 3 and past the clamp.
        let horizons: [Int64] = [
            200 * tick, 3_000 * tick, 60_000 * tick, 5_000_000 * tick, 9_000_000_000 * tick,
        ]
        for _ in 0..<6_000 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4:
                // Sparse: most timers far apart, a few in the past or mid-tick.
                let horizon = horizons.randomElement(using: &rng)!
                let deadline = now + Int64.random(in: -3 * tick...horizon, using: &rng)
                let h = wheel.schedule(at: Instant(nanoseconds: deadline), nextID)
                let dueTick = max(deadline <= 0 ? 0 : (deadline - 1) / tick + 1, now / tick + 1)
                #expect(wheel.due(h) == Instant(nanoseconds: dueTick * tick))
                model[nextID] = (deadline, dueTick * tick, h)
                nextID += 1
            case 4:
                if let (id, entry) = model.randomElement(using: &rng) {
                    let cancelled = wheel.cancel(entry.handle)
                    #expect(cancelled)
                    model[id] = nil
                    cancelledCount += 1
                }
            default:
                // The wakeup must never be later than the earliest due timer in the model.
                let earliest = model.values.map(\.due).min()
                let wake = wheel.nextWakeup()
                #expect(
                    (wake == nil) == (earliest == nil),
                    "wakeup \(String(describing: wake)) vs model \(String(describing: earliest))"
                )
                guard let wake, let earliest else { continue }
                #expect(wake.nanoseconds <= earliest, "wakeup at \(wake.nanoseconds) after earliest due \(earliest)")
                // Sometimes other work wakes the loop first, at any instant before the wakeup.
                if Bool.random(using: &rng), wake.nanoseconds > now + 1 {
                    now = Int64.random(in: now...(wake.nanoseconds - 1), using: &rng)
                } else {
                    now = max(now, wake.nanoseconds)
                }
                wheel.advance(to: Instant(nanoseconds: now))
                var lastDue = Int64.min
                while let t = wheel.popReady() {
                    guard let entry = model.removeValue(forKey: t.payload) else {
                        Issue.record("timer \(t.payload) fired but is not pending in the model")
                        continue
                    }
                    #expect(entry.deadline <= now, "timer \(t.payload) fired early")
                    #expect(t.due.nanoseconds == entry.due)
                    #expect(entry.due >= lastDue, "fired out of due order")
                    lastDue = entry.due
                    worstLateness = max(worstLateness, now - entry.due)
                    firedCount += 1
                }
                for (id, entry) in model {
                    #expect(entry.due > now, "timer \(id) due at \(entry.due) still pending at \(now)")
                }
            }
        }
        #expect(worstLateness <= tick, "a wakeup-driven timer fired \(worstLateness) ns after its due tick")
        #expect(wheel.count == model.count)
        #expect(firedCount > 500 && cancelledCount > 100, "the schedule exercised too little")
    }
}

/// `Duration.exactly(nanoseconds:)` and `nanoseconds` (our full-width arithmetic) against the standard library's.
@Suite("Duration.exactly")
struct DurationExactlyTests {
    @Test func equalsStandardLibrary() {
        var rng = SplitMix64(seed: 77)
        var samples: [Int64] = [
            0, 1, -1, 999_999_999, -999_999_999, 9_223_372_035, -9_223_372_036, 9_223_372_037,
            -9_223_372_037, .max, .min, .max - 1, .min + 1,
        ]
        for _ in 0..<20_000 {
            // Every magnitude: a random 64-bit value shifted right by 0...63 bits, either sign.
            let v = Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64)
            samples.append(v)
        }
        for ns in samples {
            #expect(Duration.exactly(nanoseconds: ns) == .nanoseconds(ns), "\(ns) ns")
            #expect(Duration.exactly(nanoseconds: ns).nanoseconds == ns, "\(ns) ns round trip")
        }
    }

    /// `nanoseconds` of any duration (every 128-bit magnitude, either sign) against its definition from the standard
    /// library's `components`: seconds × 10^9 + attoseconds / 10^9, truncated toward zero, saturating at Int64's bounds
    /// (with overflow checks at each step, so the edges are exact).
    @Test func nanosecondsOfAnyDuration() {
        func reference(_ d: Duration) -> Int64 {
            let (seconds, attoseconds) = d.components
            let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            if overflow { return seconds < 0 ? .min : .max }
            let (sum, overflow2) = ns.addingReportingOverflow(attoseconds / 1_000_000_000)
            if overflow2 { return attoseconds < 0 ? .min : .max }
            return sum
        }
        var rng = SplitMix64(seed: 78)
        var samples: [Duration] = [
            .seconds(9), .seconds(10), .seconds(-10), .seconds(15), .seconds(86_400 * 365 * 292),
            .seconds(86_400 * 365 * 293), .seconds(-86_400 * 365 * 293), .seconds(Int64.max), .seconds(Int64.min),
            Duration(_high: .max, low: .max), Duration(_high: .min, low: 0),
            Duration(_high: 499_999_999, low: .max), Duration(_high: 500_000_000, low: 0),
            Duration(_high: -500_000_000, low: 0), Duration(_high: -500_000_001, low: .max),
        ]
        for _ in 0..<20_000 {
            let high = Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64)
            samples.append(Duration(_high: high, low: rng.next()))
        }
        for d in samples {
            // `components` itself traps once the seconds pass Int64 (|high| ≥ 5 × 10^17); ours saturates there.
            if d._high >= 500_000_000_000_000_000 || d._high < -500_000_000_000_000_000 {
                #expect(d.nanoseconds == (d._high < 0 ? .min : .max), "\(d)")
            } else {
                #expect(d.nanoseconds == reference(d), "\(d)")
            }
        }
    }
}
