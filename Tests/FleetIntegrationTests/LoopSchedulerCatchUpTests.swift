import FleetCore
import FleetMetrics
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetEngine

/// `LoopScheduler.catchUp`: a due timer fires from inside the loop's I/O work, without waiting for NIO to run its
/// scheduled callbacks (an embedded loop never runs them here: its clock does not move), exactly once, in deadline
/// order, never early, and never re-entered from a timer's own work.
@Suite("Loop scheduler: due timers between I/O events")
struct LoopSchedulerCatchUpTests {
    /// A scheduler whose run started `elapsed` ago, on a loop that runs no scheduled work by itself.
    static func scheduler(elapsed: Duration) -> LoopScheduler {
        let loop = EmbeddedEventLoop()
        return LoopScheduler(loop: loop, origin: NIODeadline.now() - .nanoseconds(elapsed.nanoseconds))
    }

    static func ref(_ device: UInt32) -> DeviceTimerRef { DeviceTimerRef(device: device, kind: .backoff) }

    @Test func dueTimersFireOnceInOrderAndLaterOnesWait() {
        let s = Self.scheduler(elapsed: .seconds(30))
        var fired: [UInt32] = []
        s.onFire = { ref, _, _ in fired.append(ref.device) }
        // Due (the run is 30 s old), in deadline order 2, 1, 3; and one 10 minutes away.
        _ = s.schedule(at: Instant(nanoseconds: 2_000_000_000), Self.ref(1))
        _ = s.schedule(at: Instant(nanoseconds: 1_000_000_000), Self.ref(2))
        _ = s.schedule(at: Instant(nanoseconds: 3_000_000_000), Self.ref(3))
        _ = s.schedule(at: Instant(nanoseconds: 600_000_000_000), Self.ref(4))
        #expect(fired.isEmpty, "nothing fires by itself on this loop")
        s.catchUp()
        #expect(fired == [2, 1, 3], "due timers, in deadline order; the far one waits")
        s.catchUp()
        #expect(fired == [2, 1, 3], "each fires once")
        #expect(s.pendingTimers == 1)
        #expect(s.health.timerLateness.totalCount == 3)
    }

    @Test func aTimersOwnWorkDoesNotReenter() {
        let s = Self.scheduler(elapsed: .seconds(5))
        var fired: [UInt32] = []
        var depth = 0
        var deepest = 0
        s.onFire = { ref, _, _ in
            depth += 1
            deepest = max(deepest, depth)
            fired.append(ref.device)
            // A timer's work closes a channel, whose event calls catchUp again: it must not run the wheel inside.
            if ref.device == 1 { s.catchUp() }
            depth -= 1
        }
        _ = s.schedule(at: Instant(nanoseconds: 1_000_000), Self.ref(1))
        _ = s.schedule(at: Instant(nanoseconds: 2_000_000), Self.ref(2))
        s.catchUp()
        #expect(fired == [1, 2])
        #expect(deepest == 1, "timer 2 fired after timer 1's work, not inside it")
    }

    @Test func cancelledTimersDoNotFire() {
        let s = Self.scheduler(elapsed: .seconds(5))
        var fired: [UInt32] = []
        s.onFire = { ref, _, _ in fired.append(ref.device) }
        let a = s.schedule(at: Instant(nanoseconds: 1_000_000), Self.ref(1))
        _ = s.schedule(at: Instant(nanoseconds: 2_000_000), Self.ref(2))
        s.cancel(a)
        s.catchUp()
        #expect(fired == [2])
    }
}
