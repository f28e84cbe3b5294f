public import FleetCore
public import FleetMetrics
public import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Which device a wheel timer belongs to, and which of its timers it is.
public struct DeviceTimerRef: Sendable, Hashable {
    public var device: UInt32
    public var kind: DeviceTimer
}

/// Drives one `TimerWheel` from a single re-armed NIO scheduled callback on one event loop.
///
/// NIO's scheduled tasks cost a heap entry and a closure each; the wheel costs an array slot. Only the earliest
/// wakeup is ever scheduled with NIO, as a `NIOScheduledCallback` whose handler is this object (no closure per arm).
/// Loop-bound: use only on `loop`.
public final class LoopScheduler: NIOScheduledCallbackHandler {
    public let loop: any EventLoop
    /// NIO time of the run's start: `Instant.zero`.
    public let origin: NIODeadline
    private var wheel: TimerWheel<DeviceTimerRef>
    private var wakeup: (at: Instant, callback: NIOScheduledCallback)?
    /// Called for every due timer with its deadline and the current instant.
    public var onFire: (DeviceTimerRef, Instant, Instant) -> Void = { _, _, _ in }
    /// Timer lateness, loop lag and late sends (generator self-health).
    public private(set) var health = GeneratorHealth()
    private var probe: Scheduled<Void>?

    public init(loop: any EventLoop, origin: NIODeadline, tick: Duration = .milliseconds(1)) {
        self.loop = loop
        self.origin = origin
        self.wheel = TimerWheel(tick: tick)
    }

    public func now() -> Instant { Self.instant(since: origin) }

    /// NIO's monotonic clock as an `Instant` from `origin` (what `now()` reads; handlers that cannot hold the
    /// scheduler capture the origin and call this).
    public static func instant(since origin: NIODeadline) -> Instant {
        let now = NIODeadline.now().uptimeNanoseconds
        let start = origin.uptimeNanoseconds
        return Instant(nanoseconds: now >= start ? Int64(clamping: now - start) : -Int64(clamping: start - now))
    }

    public var pendingTimers: Int { wheel.count }

    public func schedule(at deadline: Instant, _ ref: DeviceTimerRef) -> TimerHandle {
        let handle = wheel.schedule(at: deadline, ref)
        if let due = wheel.due(handle) { arm(at: due) }
        return handle
    }

    public func cancel(_ handle: TimerHandle) {
        wheel.cancel(handle)
    }

    /// Makes sure the loop wakes at `instant` (tick-aligned) or earlier.
    private func arm(at instant: Instant) {
        if let w = wakeup, w.at <= instant { return }
        wakeup?.callback.cancel()
        wakeup = nil
        do {
            let callback = try loop.assumeIsolated().scheduleCallback(
                at: origin + .nanoseconds(instant.nanoseconds),
                handler: self
            )
            wakeup = (instant, callback)
        } catch {
            // The loop is shutting down: no more timers will fire.
        }
    }

    public func handleScheduledCallback(eventLoop: some EventLoop) {
        wakeup = nil
        runDue()
    }

    /// Fires the timers that are due now, if any, from inside the loop's I/O work. NIO runs scheduled callbacks only
    /// after a whole batch of I/O events, and after a storm one batch holds thousands of closes or connects: the
    /// device handler calls this after each event, so a due timer waits for one event's work, not the batch's.
    public func catchUp() {
        guard !firing, let w = wakeup else { return }
        let now = now()
        guard now >= w.at else { return }
        runDue(at: now)
    }

    /// True while due timers run (a timer's work may close a channel, whose event calls `catchUp`).
    private var firing = false

    private func runDue(at instant: Instant? = nil) {
        firing = true
        defer { firing = false }
        let now = instant ?? now()
        wheel.advance(to: now)
        let tick = wheel.tickNanoseconds
        while let fired = wheel.popReady() {
            // The generator's own lateness: from the moment the wheel could fire the timer (its due tick), not from
            // a deadline that was already past when it was scheduled (a wait the scenario asked for).
            let late = now - fired.due
            LatencyLayout.record(late.nanoseconds, in: &health.timerLateness)
            if fired.payload.kind == .telemetry {
                health.sends += 1
                if late.nanoseconds > tick { health.lateSends += 1 }
            }
            onFire(fired.payload, fired.deadline, now)
        }
        if let next = wheel.nextWakeup() { arm(at: next) }
    }

    /// Measures loop lag: a probe due every `interval` records how late it ran, and whether the loop's thread was busy
    /// (used the CPU) or stalled (waited) in the interval before a late probe: the cause of the lateness.
    public func startProbe(every interval: Duration = .milliseconds(10)) {
        let due = NIODeadline.now() + .nanoseconds(interval.nanoseconds)
        let cpuBefore = Self.threadCPUNanoseconds()
        let wallBefore = NIODeadline.now()
        probe = loop.assumeIsolated().scheduleTask(deadline: due) { [self] in
            let ranAt = NIODeadline.now()
            let lag = Int64(ranAt.uptimeNanoseconds) - Int64(due.uptimeNanoseconds)
            LatencyLayout.record(lag, in: &self.health.loopLag)
            if lag > GeneratorHealth.lateProbeNanoseconds {
                let cpu = Self.threadCPUNanoseconds() - cpuBefore
                let wall = Int64(ranAt.uptimeNanoseconds) - Int64(wallBefore.uptimeNanoseconds)
                if Double(cpu) >= GeneratorHealth.busyCPUShare * Double(max(1, wall)) {
                    self.health.lateProbesBusy += 1
                } else {
                    self.health.lateProbesStalled += 1
                }
            }
            self.startProbe(every: interval)
        }
    }

    /// CPU time of the calling thread (the loop's, when called on it).
    static func threadCPUNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Cancels the pending NIO wakeup and the probe (at shutdown).
    public func shutdown() {
        wakeup?.callback.cancel()
        wakeup = nil
        probe?.cancel()
        probe = nil
    }
}

@available(*, unavailable)
extension LoopScheduler: Sendable {}
