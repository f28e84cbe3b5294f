public import FleetCore
internal import Synchronization

/// Plays a fault plan against the hub (or the fault proxy) in real time and keeps its log: every step at its time,
/// windows still open at the end closed so their counts are kept. The runner and the standalone hub both use it.
public final class FaultTimeline: Sendable {
    public let plan: FaultPlan
    private let log: Mutex<FaultLog>
    /// The index of the next event of `plan.events` to play (a run plays the steps due at time zero before its
    /// devices start, then the rest).
    private let next = Mutex(0)

    public init(_ faults: [Scenario.Fault]) {
        plan = FaultPlan(faults)
        log = Mutex(FaultLog(plan: plan))
    }

    /// Applies every step when `elapsed()` (nanoseconds since the origin) reaches it. `starting` runs just before a
    /// fault's first step acts (with the instant and the fault's group, see `FaultPlan.group(of:)`); `applied` after each step, with the connections it affected. Returns when the
    /// plan is done or the task is cancelled.
    /// `lead` plays every step that much early (marks for a hub in another process, so no loss it causes on the
    /// devices' loop precedes the mark). `through` stops after the steps due by that time (a fault at 0 s is in
    /// force before the first device connects); a later call goes on from there.
    public func play(
        on front: any EmbeddedHub,
        lead: Duration = .zero,
        through: Duration? = nil,
        elapsed: @escaping @Sendable () -> Int64,
        starting: @Sendable (Instant, Int) async -> Void = { _, _ in },
        applied: @Sendable (FaultPlan.Event, Int) -> Void = { _, _ in }
    ) async {
        let events = plan.events
        while true {
            let taken = next.withLock { position -> FaultPlan.Event? in
                guard position < events.count, through.map({ events[position].at <= $0 }) ?? true else { return nil }
                position += 1
                return events[position - 1]
            }
            guard let event = taken else { return }
            let wait = event.at - lead - .nanoseconds(elapsed())
            if wait > .zero { try? await Task.sleep(for: wait) }
            if Task.isCancelled { return }
            if log.withLock({ $0.records[event.fault].startNanoseconds < 0 }) {
                await starting(Instant(nanoseconds: elapsed()), plan.group(of: event.fault))
            }
            let affected = await front.inject(event.step, fault: plan.faults[event.fault], index: event.fault)
            let at = elapsed()
            log.withLock { $0.applied(event, elapsed: at, affected: affected) }
            applied(event, affected)
        }
    }

    /// Ends the windows that started and never ended (the run stopped first), collecting their counts.
    public func closeOpenWindows(on front: any EmbeddedHub, elapsed: @Sendable () -> Int64) async {
        for index in log.withLock({ $0.openWindows }) {
            let affected = await front.inject(.end, fault: plan.faults[index], index: index)
            let at = elapsed()
            log.withLock {
                $0.applied(FaultPlan.Event(at: .zero, fault: index, step: .end), elapsed: at, affected: affected)
            }
        }
    }

    /// What happened, for the report (a window still open ends at `runEnd`).
    public func records(runEnd: Int64) -> [FaultRecord] { log.withLock { $0.finished(runEnd: runEnd) } }
}
