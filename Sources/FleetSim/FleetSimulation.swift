public import FleetCore
internal import FleetHub
internal import FleetMQTT
public import FleetMetrics

/// A point in a simulation, for the progress line.
public struct SimulationProgress: Sendable {
    /// Simulated time so far, and the profile's duration.
    public var simulated: Duration
    public var duration: Duration
    public var devices: Int
    public var finished: Int
    public var connectedNow: UInt64
    public var connectAttempts: UInt64
    public var acked: UInt64
    public var events: UInt64
}

/// One cohort's share of a simulation.
public struct SimulatedCohort: Sendable {
    public var name: String
    public var sdk: String
    public var policy: String
    public var devices: Int
    public var snapshot: Snapshot
}

/// What a simulation produced: the same measurements a real run gives, in simulated time.
public struct SimulationResult: Sendable {
    public var snapshot: Snapshot
    public var cohorts: [SimulatedCohort]
    public var hub: HubStats
    public var faults: [FaultRecord]
    /// Simulated time from the start until the last device ended (or the deadline and its grace).
    public var duration: Duration
    public var hitDeadline: Bool
    public var cancelled: Bool
    /// Events processed (timers, packets, connects), and connects that completed after their device gave them up.
    public var events: UInt64
    public var lateConnects: UInt64
}

/// FleetSim: the fleet in virtual time. The SAME `DeviceStateMachine`s (SDK identities, retry curves, queues) a
/// real run drives, on one `TimerWheel`, against `SimHub` (the test hub's pure rules plus a network and listener
/// model). Packets travel as small values instead of bytes; everything else is the real device logic.
/// Deterministic: the same scenario and seed give the same result.
public struct FleetSimulation {
    enum Event {
        case timer(UInt32, DeviceTimer)
        /// A SYN reaches the hub (`retries`: how often the device's kernel sent it again).
        case syn(UInt32, UInt32, retries: UInt8)
        case established(UInt32, UInt32)
        case toHub(UInt32, UInt32, HubPacket)
        case toDevice(UInt32, UInt32, DevicePacket)
        /// The hub's FIN (or reset) reaches the device.
        case closedByHub(UInt32, UInt32, reset: Bool)
        /// The device closed its own connection: its channel reports closed.
        case closedByDevice(UInt32, UInt32)
        case hubIdle(UInt32, UInt32)
        case fault(Int32)
        case ramp
        case stop
        case forceClose
    }

    public let scenario: Scenario
    /// How long devices get to disconnect after the deadline (as `FleetRunner.stopGrace`).
    public var stopGrace: Duration = .seconds(5)
    /// Called about once a second of wall time.
    public var progress: (@Sendable (SimulationProgress) -> Void)?
    /// Asked now and then: true stops the simulation as Ctrl-C stops a run (devices stop, the result is kept).
    public var shouldCancel: @Sendable () -> Bool = { false }

    public init(scenario: Scenario) {
        self.scenario = scenario
    }

    public func run() -> SimulationResult {
        var state = State(scenario: scenario, grace: stopGrace)
        state.progress = progress
        state.shouldCancel = shouldCancel
        return state.run()
    }
}

extension FleetSimulation {
    /// The simulation's whole state, struct-of-arrays per device so a million devices stay small.
    struct State {
        let scenario: Scenario
        let grace: Duration
        var progress: (@Sendable (SimulationProgress) -> Void)?
        var shouldCancel: @Sendable () -> Bool = { false }

        var machines: [DeviceStateMachine] = []
        var cohortOf: [UInt8] = []
        var recorders: [Recorder]
        /// Connection generation: events of an older connection are ignored.
        var generation: [UInt32]
        var timers: [TimerHandle?]
        var lastQueued: [Int32]
        var holdsSlot: [Bool]
        var hub: SimHub
        var wheel = TimerWheel<Event>(tick: .microseconds(100))
        var now: Instant = .zero
        var rng: SplitMix64
        let halfRTT: Int64
        let jitter: UInt64
        let plan: FaultPlan
        var faultLog: FaultLog
        var storms = StormMarks()
        /// The actions the machine being driven returned; `run(device:)` swaps in a spare buffer so handling one
        /// device's actions may drive another (a freed connect slot starts the next device).
        var actions: [DeviceAction] = []
        var spareActions: [[DeviceAction]] = []

        var nextToStart = 0
        var inFlight = 0
        var finished = 0
        var stopping = false
        var hitDeadline = false
        var cancelled = false
        var events: UInt64 = 0
        var lateConnects: UInt64 = 0
        var lastEnd: Instant = .zero

        static let timerKinds = DeviceTimer.allCases.count

        init(scenario: Scenario, grace: Duration) {
            self.scenario = scenario
            self.grace = grace
            let n = scenario.fleet.devices
            let cohorts = scenario.effectiveCohorts
            recorders = cohorts.map { _ in Recorder(bin: scenario.bin) }
            generation = Array(repeating: 0, count: n)
            timers = Array(repeating: nil, count: n * Self.timerKinds)
            lastQueued = Array(repeating: 0, count: n)
            holdsSlot = Array(repeating: false, count: n)
            hub = SimHub(scenario: scenario, devices: n)
            rng = SplitMix64(seed: scenario.seed).derived(0x5EED_5117)
            halfRTT = scenario.simulation.rtt.nanoseconds / 2
            jitter = UInt64(max(0, scenario.simulation.rttJitter.nanoseconds))
            plan = FaultPlan(scenario.faults)
            faultLog = FaultLog(plan: plan)
            machines.reserveCapacity(n)
            cohortOf.reserveCapacity(n)
            wheel.reserveCapacity(n * 3)
            let seeds = SplitMix64(seed: scenario.seed)
            var index = 0
            for (c, cohort) in cohorts.enumerated() {
                let shared = SharedDeviceConfig(DeviceConfig(scenario: scenario, cohort: cohort))
                for _ in 0..<cohort.devices {
                    let id = scenario.fleet.deviceID(index)
                    let key = (try? shared.config.auth?.key(for: id)) ?? nil
                    machines.append(
                        DeviceStateMachine(
                            deviceID: id,
                            shared: shared,
                            seed: seeds.derived(UInt64(index)).state,
                            key: key
                        )
                    )
                    cohortOf.append(UInt8(clamping: c))
                    index += 1
                }
            }
            actions.reserveCapacity(16)
        }

        /// One-way network delay: half the round trip plus up to `rtt_jitter`.
        mutating func oneWay() -> Duration {
            let extra = jitter > 0 ? Int64(rng.next() % jitter) : 0
            return .nanoseconds(halfRTT + extra)
        }

        mutating func run() -> SimulationResult {
            for (k, event) in plan.events.enumerated() {
                wheel.schedule(at: Instant.zero + event.at, .fault(Int32(k)))
            }
            wheel.schedule(at: Instant.zero + scenario.duration, .stop)
            pump()
            if nextToStart < machines.count { wheel.schedule(at: now + .milliseconds(2), .ramp) }
            let wallStart = ContinuousClock.now
            var lastReport = wallStart
            while finished < machines.count {
                if let fired = wheel.popReady() {
                    if fired.deadline > now { now = fired.deadline }
                    handle(fired.payload, deadline: fired.deadline)
                    events &+= 1
                    if events & 0xFFFF == 0 {
                        if !stopping && shouldCancel() {
                            cancelled = true
                            stopAll()
                        }
                        if let progress, ContinuousClock.now - lastReport >= .seconds(1) {
                            lastReport = ContinuousClock.now
                            progress(snapshotProgress())
                        }
                    }
                    continue
                }
                guard let wake = wheel.nextWakeup() else { break }
                wheel.advance(to: wake)
            }
            return finish()
        }

        func snapshotProgress() -> SimulationProgress {
            var counters = FleetCounters()
            var connected: UInt64 = 0
            for r in recorders {
                counters.add(r.snapshot.counters)
                connected += r.snapshot.connectedNow
            }
            return SimulationProgress(
                simulated: now - .zero,
                duration: scenario.duration,
                devices: machines.count,
                finished: finished,
                connectedNow: connected,
                connectAttempts: counters.connectAttempts,
                acked: counters.acked,
                events: events
            )
        }

        mutating func finish() -> SimulationResult {
            for index in faultLog.openWindows {
                let affected = apply(.end, fault: plan.faults[index], index: index)
                faultLog.applied(FaultPlan.Event(at: .zero, fault: index, step: .end), elapsed: now.nanoseconds, affected: affected)
            }
            for i in machines.indices { recorders[Int(cohortOf[i])].notePending(machines[i].pendingMessages) }
            let parts = recorders.map { $0.capture() }
            var total = Snapshot()
            for part in parts { try? total.merge(part) }
            let cohorts = zip(scenario.effectiveCohorts, parts).map {
                SimulatedCohort(
                    name: $0.name,
                    sdk: $0.sdk.name,
                    policy: $0.retry.policy.name,
                    devices: $0.devices,
                    snapshot: $1
                )
            }
            return SimulationResult(
                snapshot: total,
                cohorts: cohorts,
                hub: hub.recorder.stats,
                faults: faultLog.finished(runEnd: now.nanoseconds),
                duration: lastEnd - .zero,
                hitDeadline: hitDeadline,
                cancelled: cancelled,
                events: events,
                lateConnects: lateConnects
            )
        }

        // MARK: - ramp and stop

        mutating func pump() {
            guard !stopping else { return }
            let n = machines.count
            let rate = scenario.fleet.rampRate
            let allowed = rate <= 0 ? n : min(n, Int(Double(now.nanoseconds) / 1e9 * rate) + 1)
            while nextToStart < allowed && inFlight < scenario.fleet.maxInFlight {
                let i = nextToStart
                nextToStart += 1
                inFlight += 1
                holdsSlot[i] = true
                actions.removeAll(keepingCapacity: true)
                machines[i].start(now: now, into: &actions)
                run(device: i)
            }
        }

        mutating func releaseSlot(_ i: Int) {
            guard holdsSlot[i] else { return }
            holdsSlot[i] = false
            inFlight -= 1
            pump()
        }

        mutating func stopAll() {
            guard !stopping else { return }
            stopping = true
            for i in machines.indices {
                actions.removeAll(keepingCapacity: true)
                machines[i].stop(now: now, into: &actions)
                run(device: i)
            }
            wheel.schedule(at: now + grace, .forceClose)
        }

        // MARK: - events

        mutating func handle(_ event: Event, deadline: Instant) {
            actions.removeAll(keepingCapacity: true)
            switch event {
            case .timer(let d, let kind):
                let i = Int(d)
                timers[i * Self.timerKinds + Int(kind.rawValue)] = nil
                machines[i].timerFired(kind, deadline: deadline, now: now, into: &actions)
                run(device: i)
            case .syn(let d, let g, let retries):
                let i = Int(d)
                guard g == generation[i] else { return }
                if hub.syn(device: i, now: now) != nil {
                    wheel.schedule(at: now + oneWay(), .established(d, g))
                } else if retries < 6 {
                    // The listener's backlog is full: the SYN is dropped; the kernel sends it again after 1, 2, 4 s...
                    let wait = Duration.seconds(Int64(1) << Int64(retries))
                    wheel.schedule(at: now + wait, .syn(d, g, retries: retries + 1))
                }
            case .established(let d, let g):
                let i = Int(d)
                guard g == generation[i] else { return }
                machines[i].connectSucceeded(now: now, into: &actions)
                run(device: i)
            case .toHub(let d, let g, let packet):
                hubReceives(packet, device: Int(d), generation: g)
            case .toDevice(let d, let g, let packet):
                let i = Int(d)
                guard g == generation[i], !hub.silenced[i] else { return }
                machines[i].packetReceived(packet.packet(qos: scenario.telemetry.qos), now: now, into: &actions)
                run(device: i)
            case .closedByHub(let d, let g, let reset):
                let i = Int(d)
                guard g == generation[i] else { return }
                generation[i] &+= 1
                hub.closed(i, now: now)
                machines[i].channelClosed(error: reset ? .reset : nil, now: now, into: &actions)
                run(device: i)
            case .closedByDevice(let d, let g):
                let i = Int(d)
                guard g == generation[i] else { return }
                generation[i] &+= 1
                machines[i].channelClosed(now: now, into: &actions)
                run(device: i)
            case .hubIdle(let d, let g):
                hubIdle(device: Int(d), generation: g)
            case .fault(let k):
                let event = plan.events[Int(k)]
                if faultLog.records[event.fault].startNanoseconds < 0 {
                    for r in recorders { r.faultStarted(at: now) }
                    let fleet = machines
                    storms.mark(group: plan.group(of: event.fault), devices: fleet.count) { fleet[$0].isConnected }
                }
                let affected = apply(event.step, fault: plan.faults[event.fault], index: event.fault)
                faultLog.applied(event, elapsed: now.nanoseconds, affected: affected)
            case .ramp:
                pump()
                if nextToStart < machines.count && !stopping { wheel.schedule(at: now + .milliseconds(2), .ramp) }
            case .stop:
                hitDeadline = finished < machines.count
                stopAll()
            case .forceClose:
                for i in machines.indices where machines[i].outcome == nil {
                    generation[i] &+= 1
                    hub.closed(i, now: now)
                    actions.removeAll(keepingCapacity: true)
                    machines[i].channelClosed(now: now, into: &actions)
                    run(device: i)
                }
            }
        }

        mutating func hubReceives(_ packet: HubPacket, device i: Int, generation g: UInt32) {
            guard g == generation[i], hub.link[i] != .none else { return }
            let d = UInt32(i)
            if hub.isSilent(i, id: machines[i].deviceID) {
                // Half-open: the bytes vanish; the hub notices only when its idle check finds the silence.
                scheduleIdleCheck(i)
                return
            }
            switch hub.received(packet, device: i, id: machines[i].deviceID, now: now) {
            case .nothing:
                break
            case .reply(let answer, let delay, let close):
                let at = now + delay + oneWay()
                wheel.schedule(at: at, .toDevice(d, g, answer))
                if close { wheel.schedule(at: at, .closedByHub(d, g, reset: false)) }
            case .close(let reset):
                wheel.schedule(at: now + oneWay(), .closedByHub(d, g, reset: reset))
            }
        }

        mutating func scheduleIdleCheck(_ i: Int) {
            guard !hub.idleCheck[i] else { return }
            hub.idleCheck[i] = true
            let at = Instant(nanoseconds: Int64(hub.lastHeard[i]) * 1_000_000) + hub.idleLimit(i)
            wheel.schedule(at: max(at, now), .hubIdle(UInt32(i), generation[i]))
        }

        mutating func hubIdle(device i: Int, generation g: UInt32) {
            hub.idleCheck[i] = false
            guard g == generation[i], hub.link[i] != .none else { return }
            let limit = Instant(nanoseconds: Int64(hub.lastHeard[i]) * 1_000_000) + hub.idleLimit(i)
            guard now >= limit else { return scheduleIdleCheck(i) }
            hub.closed(i, now: now)
            wheel.schedule(at: now + oneWay(), .closedByHub(UInt32(i), g, reset: false))
        }

        /// A fault step on the hub, as `HubState.apply` does it: returns the connections it affected.
        mutating func apply(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) -> Int {
            var affected = 0
            if let effect = HubFaults.effect(of: fault.kind, step: step) {
                for i in machines.indices
                where hub.link[i] != .none && !hub.silenced[i]
                    && fault.target.matches(deviceID: machines[i].deviceID, peer: { nil })
                {
                    affected += 1
                    switch effect {
                    case .close, .expire:
                        if effect == .expire { hub.recorder.countTokenExpiry() }
                        hub.closed(i, now: now)
                        wheel.schedule(at: now + oneWay(), .closedByHub(UInt32(i), generation[i], reset: false))
                    case .silence:
                        hub.silenced[i] = true
                        scheduleIdleCheck(i)
                    }
                }
            }
            switch (fault.kind, step) {
            case (.blackhole, .start):
                for i in machines.indices
                where hub.link[i] != .none && fault.target.matches(deviceID: machines[i].deviceID, peer: { nil }) {
                    affected += 1
                }
                hub.faults.start(fault, index: index, now: now)
            case (_, .start):
                hub.faults.start(fault, index: index, now: now)
            case (.flap, .pulse):
                hub.faults.setDown(index: index, fault.down > .zero)
            case (.flap, .release):
                hub.faults.setDown(index: index, false)
            case (_, .end):
                affected += hub.faults.end(index: index)
            default:
                break
            }
            return affected
        }

        // MARK: - device actions

        /// Carries out the actions the machine of device `i` returned (in `actions`).
        mutating func run(device i: Int) {
            let d = UInt32(i)
            var list: [DeviceAction] = spareActions.popLast() ?? []
            swap(&list, &actions)
            defer {
                list.removeAll(keepingCapacity: true)
                spareActions.append(list)
            }
            for action in list {
                switch action {
                case .connect:
                    generation[i] &+= 1
                    wheel.schedule(at: now + oneWay(), .syn(d, generation[i], retries: 0))
                case .publish(let message):
                    let packet = HubPacket.publish(
                        seq: UInt32(truncatingIfNeeded: message.seq),
                        packetID: message.packetID ?? 0,
                        qos: machines[i].config.qos
                    )
                    wheel.schedule(at: now + oneWay(), .toHub(d, generation[i], packet))
                case .write(let packet):
                    guard let sent = Self.hubPacket(packet) else { continue }
                    var at = now + oneWay()
                    if sent == .connect { at = max(at, Instant(nanoseconds: hub.acceptAt[i])) }
                    wheel.schedule(at: at, .toHub(d, generation[i], sent))
                case .close:
                    hub.closed(i, now: now)
                    generation[i] &+= 1
                    wheel.schedule(at: now, .closedByDevice(d, generation[i]))
                case .schedule(let kind, let at):
                    let slot = i * Self.timerKinds + Int(kind.rawValue)
                    if let old = timers[slot] { wheel.cancel(old) }
                    timers[slot] = wheel.schedule(at: at, .timer(d, kind))
                case .cancel(let kind):
                    let slot = i * Self.timerKinds + Int(kind.rawValue)
                    if let old = timers[slot] { wheel.cancel(old) }
                    timers[slot] = nil
                case .record(let event):
                    record(event, device: i)
                }
            }
            let queued = Int32(clamping: machines[i].queuedMessages)
            if queued != lastQueued[i] {
                recorders[Int(cohortOf[i])].queueChanged(by: Int(queued - lastQueued[i]), at: now)
                lastQueued[i] = queued
            }
        }

        mutating func record(_ event: DeviceEvent, device i: Int) {
            let recorder = recorders[Int(cohortOf[i])]
            recorder.record(event, at: now)
            if !storms.isEmpty { storms.event(device: i, event, recorder: recorder, at: now) }
            switch event {
            case .connected, .refused:
                releaseSlot(i)
            case .finished:
                finished += 1
                lastEnd = now
                releaseSlot(i)
            case .lateConnectClosed:
                lateConnects += 1
            default:
                break
            }
        }

        static func hubPacket(_ packet: MQTTPacket) -> HubPacket? {
            switch packet {
            case .connect: .connect
            case .publish(let p):
                .publish(seq: 0, packetID: p.packetID ?? 0, qos: p.qos)
            case .pingreq: .pingreq
            case .subscribe(let s): .subscribe(packetID: s.packetID, filters: UInt8(clamping: s.subscriptions.count))
            case .disconnect: .disconnect
            default: nil
            }
        }
    }
}
