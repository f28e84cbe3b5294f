public import FleetCore
public import FleetMetrics
public import NIOCore

/// Which device a wheel timer belongs to, and which of its timers it is.
public struct DeviceTimerRef: Sendable, Hashable {
    public var device: UInt32
    public var kind: DeviceTimer
}

/// Drives one `TimerWheel` from a single NIO scheduled callback on one event loop.
///
/// NIO's scheduled tasks cost a heap entry and a closure each; the wheel costs an array slot. Only the earliest
/// wakeup is ever scheduled with NIO. Loop-bound: use only on `loop`.
public final class LoopScheduler {
    public let loop: any EventLoop
    /// NIO time of the run's start: `Instant.zero`.
    public let origin: NIODeadline
    private var wheel: TimerWheel<DeviceTimerRef>
    private var wakeup: (at: Instant, task: Scheduled<Void>)?
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

    public func now() -> Instant {
        Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds) - Int64(origin.uptimeNanoseconds))
    }

    public var pendingTimers: Int { wheel.count }

    public func schedule(at deadline: Instant, _ ref: DeviceTimerRef) -> TimerHandle {
        let handle = wheel.schedule(at: deadline, ref)
        arm(at: deadline)
        return handle
    }

    public func cancel(_ handle: TimerHandle) {
        wheel.cancel(handle)
    }

    private func arm(at instant: Instant) {
        let tick = wheel.tickNanoseconds
        let rounded = Instant(nanoseconds: ((max(instant.nanoseconds, 0) + tick - 1) / tick) * tick)
        if let w = wakeup, w.at <= rounded { return }
        wakeup?.task.cancel()
        let deadline = origin + .nanoseconds(rounded.nanoseconds)
        let task = loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.wakeup = nil
            self.runDue()
        }
        wakeup = (rounded, task)
    }

    private func runDue() {
        let now = now()
        wheel.advance(to: now)
        let tick = wheel.tickNanoseconds
        while let fired = wheel.popReady() {
            let late = now - fired.deadline
            LatencyLayout.record(late.nanoseconds, in: &health.timerLateness)
            if fired.payload.kind == .telemetry {
                // The wheel fires on the first tick at or after the deadline; a send is late when it went out more
                // than one tick after that tick.
                health.sends += 1
                let onTick = (fired.deadline.nanoseconds + tick - 1) / tick * tick
                if now.nanoseconds - onTick > tick { health.lateSends += 1 }
            }
            onFire(fired.payload, fired.deadline, now)
        }
        if let next = wheel.nextWakeup() { arm(at: next) }
    }

    /// Measures loop lag: a probe due every `interval` records how late it ran.
    public func startProbe(every interval: Duration = .milliseconds(10)) {
        let due = NIODeadline.now() + .nanoseconds(interval.nanoseconds)
        probe = loop.assumeIsolated().scheduleTask(deadline: due) { [self] in
            let lag = Int64(NIODeadline.now().uptimeNanoseconds) - Int64(due.uptimeNanoseconds)
            LatencyLayout.record(lag, in: &self.health.loopLag)
            self.startProbe(every: interval)
        }
    }

    /// Cancels the pending NIO wakeup and the probe (at shutdown).
    public func shutdown() {
        wakeup?.task.cancel()
        wakeup = nil
        probe?.cancel()
        probe = nil
    }
}

@available(*, unavailable)
extension LoopScheduler: Sendable {}
