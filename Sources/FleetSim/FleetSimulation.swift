internal import Dispatch
public import FleetCore
internal import FleetHub
internal import FleetMQTT
public import FleetMetrics
internal import Synchronization

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
        /// A packet the hub closes the connection right after (a refusing CONNACK): one event for both.
        case toDeviceThenClose(UInt32, UInt32, DevicePacket)
        /// The hub's FIN (or reset) reaches the device.
        case closedByHub(UInt32, UInt32, reset: Bool)
        /// The device's FIN reaches the hub (after the data sent before it).
        case finReachesHub(UInt32, UInt32)
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

    /// Partitions the fleet is simulated in, one thread each: `simulation.partitions`, or by default one below
    /// 100,000 devices and two from there. Each partition takes every P-th device and a 1/P share of the hub's
    /// capacity (accept rate, throttles, quotas, ramp and connect window); the results merge.
    public var partitions: Int {
        let chosen = scenario.simulation.partitions
        let auto = scenario.fleet.devices >= 100_000 ? 2 : 1
        return max(1, min(chosen > 0 ? chosen : auto, scenario.fleet.devices))
    }

    public func run() -> SimulationResult {
        let count = partitions
        let board = ProgressBoard(partitions: count, duration: scenario.duration, devices: scenario.fleet.devices)
        let results = Mutex<[SimulationResult?]>(Array(repeating: nil, count: count))
        let scenario = self.scenario
        let (grace, progress, shouldCancel) = (stopGrace, progress, shouldCancel)
        DispatchQueue.concurrentPerform(iterations: count) { k in
            var state = State(scenario: scenario, grace: grace, partition: k, of: count)
            state.board = board
            state.progress = k == 0 ? progress : nil
            state.shouldCancel = shouldCancel
            let result = state.run()
            results.withLock { $0[k] = result }
        }
        return Self.merge(results.withLock { $0.compactMap { $0 } })
    }

    /// One result from the partitions': measurements and hub statistics added, fault records summed.
    static func merge(_ parts: [SimulationResult]) -> SimulationResult {
        var total = parts[0]
        for part in parts.dropFirst() {
            try? total.snapshot.merge(part.snapshot)
            for c in total.cohorts.indices { try? total.cohorts[c].snapshot.merge(part.cohorts[c].snapshot) }
            total.hub.add(part.hub)
            for (f, record) in part.faults.enumerated() where f < total.faults.count {
                total.faults[f].affected += record.affected
                total.faults[f].startNanoseconds = min(total.faults[f].startNanoseconds, record.startNanoseconds)
                total.faults[f].endNanoseconds = max(total.faults[f].endNanoseconds, record.endNanoseconds)
            }
            total.duration = max(total.duration, part.duration)
            total.hitDeadline = total.hitDeadline || part.hitDeadline
            total.cancelled = total.cancelled || part.cancelled
            total.events += part.events
            total.lateConnects += part.lateConnects
        }
        return total
    }
}

/// One simulated device: its state machine, its pending timers, its connection generation (events of an older
/// connection are ignored), what the hub knows of it, and the simulation's bookkeeping. One struct per device so
/// handling an event touches one neighbourhood of memory, not a dozen arrays.
struct SimDevice {
    var machine: DeviceStateMachine
    var timers = TimerSlots()
    var hub = HubSide()
    var generation: UInt32 = 0
    var lastQueued: Int32 = 0
    var cohort: UInt8
    var holdsSlot = false

    init(machine: DeviceStateMachine, cohort: UInt8) {
        self.machine = machine
        self.cohort = cohort
    }
}

/// The partitions' progress, summed for the progress line.
final class ProgressBoard: Sendable {
    private let slots: Mutex<[SimulationProgress]>
    private let devices: Int

    init(partitions: Int, duration: Duration, devices: Int) {
        self.devices = devices
        let empty = SimulationProgress(
            simulated: .zero,
            duration: duration,
            devices: devices,
            finished: 0,
            connectedNow: 0,
            connectAttempts: 0,
            acked: 0,
            events: 0
        )
        slots = Mutex(Array(repeating: empty, count: partitions))
    }

    func post(_ p: SimulationProgress, partition: Int) { slots.withLock { $0[partition] = p } }

    /// The sum over partitions (simulated time: the slowest partition's).
    var total: SimulationProgress {
        slots.withLock { all in
            var t = all[0]
            t.devices = devices
            for p in all.dropFirst() {
                t.simulated = min(t.simulated, p.simulated)
                t.finished += p.finished
                t.connectedNow += p.connectedNow
                t.connectAttempts += p.connectAttempts
                t.acked += p.acked
                t.events += p.events
            }
            return t
        }
    }
}

extension FleetSimulation {
    /// The simulation's whole state, struct-of-arrays per device so a million devices stay small.
    struct State {
        let scenario: Scenario
        let grace: Duration
        /// This partition (every `partitions`-th device from device `partition`).
        let partition: Int
        let partitions: Int
        var board: ProgressBoard?
        var progress: (@Sendable (SimulationProgress) -> Void)?
        var shouldCancel: @Sendable () -> Bool = { false }

        /// Every device of the partition: its machine and what the simulation and the hub keep for it, together.
        var devices: [SimDevice] = []
        /// Each cohort's telemetry QoS (read per message without touching the device's configuration).
        var cohortQoS: [MQTTQoS] = []
        var recorders: [Recorder]
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
        /// The next fault step not yet applied (publishes that arrive before it skip the hub's event queue).
        var nextFaultAt: Instant = .zero
        var faultsApplied = 0
        let rampRate: Double
        let window: Int

        init(scenario: Scenario, grace: Duration, partition: Int = 0, of partitions: Int = 1) {
            self.scenario = scenario
            self.grace = grace
            self.partition = partition
            self.partitions = partitions
            let total = scenario.fleet.devices
            let n = total / partitions + (partition < total % partitions ? 1 : 0)
            let cohorts = scenario.effectiveCohorts
            recorders = cohorts.map { _ in Recorder(bin: scenario.bin) }
            let share = 1 / Double(partitions)
            hub = SimHub(scenario: scenario, share: share)
            rampRate = scenario.fleet.rampRate * share
            window = max(1, scenario.fleet.maxInFlight / partitions)
            rng = SplitMix64(seed: scenario.seed).derived(0x5EED_5117 &+ UInt64(partition))
            halfRTT = scenario.simulation.rtt.nanoseconds / 2
            jitter = UInt64(max(0, scenario.simulation.rttJitter.nanoseconds))
            plan = FaultPlan(scenario.faults)
            faultLog = FaultLog(plan: plan)
            devices.reserveCapacity(n)
            // Room for every timer kind and a few packets in flight per device, reserved up front: pages are only
            // touched as entries are used, and the pool never doubles (a doubling copy briefly needs both buffers).
            wheel.reserveCapacity(n * 12)
            let seeds = SplitMix64(seed: scenario.seed)
            let shared = cohorts.map { SharedDeviceConfig(DeviceConfig(scenario: scenario, cohort: $0)) }
            cohortQoS = shared.map(\.config.qos)
            var bounds: [Int] = []
            var end = 0
            for c in cohorts {
                end += c.devices
                bounds.append(end)
            }
            var c = 0
            for j in 0..<n {
                let index = j * partitions + partition
                while c < bounds.count - 1 && index >= bounds[c] { c += 1 }
                let id = scenario.fleet.deviceID(index)
                let key = (try? shared[c].config.auth?.key(for: id)) ?? nil
                let machine = DeviceStateMachine(
                    deviceID: id,
                    shared: shared[c],
                    seed: seeds.derived(UInt64(index)).state,
                    key: key
                )
                devices.append(SimDevice(machine: machine, cohort: UInt8(clamping: c)))
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
            nextFaultAt = plan.events.first.map { Instant.zero + $0.at } ?? Instant(nanoseconds: .max)
            wheel.schedule(at: Instant.zero + scenario.duration, .stop)
            pump()
            if nextToStart < devices.count { wheel.schedule(at: now + .milliseconds(2), .ramp) }
            let wallStart = ContinuousClock.now
            var lastReport = wallStart
            while finished < devices.count {
                if let fired = wheel.popReady() {
                    if fired.deadline > now { now = fired.deadline }
                    handle(fired.payload, deadline: fired.deadline)
                    events &+= 1
                    if events & 0xFFFF == 0 {
                        if !stopping && shouldCancel() {
                            cancelled = true
                            stopAll()
                        }
                        board?.post(snapshotProgress(), partition: partition)
                        if let progress, let board, ContinuousClock.now - lastReport >= .seconds(1) {
                            lastReport = ContinuousClock.now
                            progress(board.total)
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
                devices: devices.count,
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
                faultLog.applied(
                    FaultPlan.Event(at: .zero, fault: index, step: .end),
                    elapsed: now.nanoseconds,
                    affected: affected
                )
            }
            for i in devices.indices {
                recorders[Int(devices[i].cohort)].notePending(devices[i].machine.pendingMessages)
            }
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
            let n = devices.count
            let rate = rampRate
            let allowed = rate <= 0 ? n : min(n, Int(Double(now.nanoseconds) / 1e9 * rate) + 1)
            while nextToStart < allowed && inFlight < window {
                let i = nextToStart
                nextToStart += 1
                inFlight += 1
                devices[i].holdsSlot = true
                actions.removeAll(keepingCapacity: true)
                devices[i].machine.start(now: now, into: &actions)
                run(device: i)
            }
        }

        mutating func releaseSlot(_ i: Int) {
            guard devices[i].holdsSlot else { return }
            devices[i].holdsSlot = false
            inFlight -= 1
            pump()
        }

        mutating func stopAll() {
            guard !stopping else { return }
            stopping = true
            for i in devices.indices {
                actions.removeAll(keepingCapacity: true)
                devices[i].machine.stop(now: now, into: &actions)
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
                devices[i].timers[kind] = nil
                devices[i].machine.timerFired(kind, deadline: deadline, now: now, into: &actions)
                run(device: i)
            case .syn(let d, let g, let retries):
                let i = Int(d)
                guard g == devices[i].generation else { return }
                if hub.syn(&devices[i].hub, connection: g, now: now) != nil {
                    wheel.schedule(at: now + oneWay(), .established(d, g))
                } else if retries < 6 {
                    // The listener's backlog is full: the SYN is dropped; the kernel sends it again after 1, 2, 4 s...
                    let wait = Duration.seconds(Int64(1) << Int64(retries))
                    wheel.schedule(at: now + wait, .syn(d, g, retries: retries + 1))
                }
            case .established(let d, let g):
                let i = Int(d)
                guard g == devices[i].generation else { return }
                if hub.model.acceptRate <= 0 { _ = hub.syn(&devices[i].hub, connection: g, now: now) }
                devices[i].machine.connectSucceeded(now: now, into: &actions)
                run(device: i)
            case .toHub(let d, let g, let packet):
                hubReceives(packet, device: Int(d), generation: g)
            case .toDevice(let d, let g, let packet):
                let i = Int(d)
                guard g == devices[i].generation, !devices[i].hub.silenced else { return }
                devices[i].machine.packetReceived(packet.packet(qos: scenario.telemetry.qos), now: now, into: &actions)
                run(device: i)
            case .toDeviceThenClose(let d, let g, let packet):
                let i = Int(d)
                guard g == devices[i].generation, !devices[i].hub.silenced else { return }
                devices[i].machine.packetReceived(
                    packet.packet(qos: cohortQoS[Int(devices[i].cohort)]),
                    now: now,
                    into: &actions
                )
                run(device: i)
                // The FIN right behind it (unless the device closed first, on the packet).
                if g == devices[i].generation { handle(.closedByHub(d, g, reset: false), deadline: deadline) }
            case .closedByHub(let d, let g, let reset):
                let i = Int(d)
                guard g == devices[i].generation else { return }
                devices[i].generation &+= 1
                if devices[i].hub.holds(g) { hub.closed(&devices[i].hub, now: now) }
                devices[i].machine.channelClosed(error: reset ? .reset : nil, now: now, into: &actions)
                run(device: i)
            case .finReachesHub(let d, let g):
                if devices[Int(d)].hub.holds(g) { hub.closed(&devices[Int(d)].hub, now: now) }
            case .hubIdle(let d, let g):
                hubIdle(device: Int(d), generation: g)
            case .fault(let k):
                let event = plan.events[Int(k)]
                if faultLog.records[event.fault].startNanoseconds < 0 {
                    for r in recorders { r.faultStarted(at: now) }
                    let fleet = devices
                    storms.mark(group: plan.group(of: event.fault), devices: fleet.count) {
                        fleet[$0].machine.isConnected
                    }
                }
                let affected = apply(event.step, fault: plan.faults[event.fault], index: event.fault)
                faultLog.applied(event, elapsed: now.nanoseconds, affected: affected)
                faultsApplied += 1
                nextFaultAt =
                    faultsApplied < plan.events.count
                    ? Instant.zero + plan.events[faultsApplied].at : Instant(nanoseconds: .max)
            case .ramp:
                pump()
                if nextToStart < devices.count && !stopping { wheel.schedule(at: now + .milliseconds(2), .ramp) }
            case .stop:
                hitDeadline = finished < devices.count
                stopAll()
            case .forceClose:
                for i in devices.indices where devices[i].machine.outcome == nil {
                    devices[i].generation &+= 1
                    if devices[i].hub.link != .none { hub.closed(&devices[i].hub, now: now) }
                    actions.removeAll(keepingCapacity: true)
                    devices[i].machine.channelClosed(now: now, into: &actions)
                    run(device: i)
                }
            }
        }

        mutating func hubReceives(_ packet: HubPacket, device i: Int, generation g: UInt32) {
            guard devices[i].hub.holds(g) else { return }
            let id = devices[i].machine.deviceID
            if hub.isSilent(devices[i].hub, id: id) {
                // Half-open: the bytes vanish; the hub notices only when its idle check finds the silence.
                scheduleIdleCheck(i)
                return
            }
            answer(hub.received(packet, side: &devices[i].hub, id: id, now: now), device: i, at: now)
        }

        /// Sends the hub's answer to device `i`'s current hub connection, from hub time `at`.
        mutating func answer(_ answer: SimHub.Answer, device i: Int, at: Instant) {
            let (d, g) = (UInt32(i), devices[i].hub.connection)
            switch answer {
            case .nothing:
                break
            case .reply(let packet, let delay, let close):
                let leaves = release(i, at: at + delay)
                let arrival = leaves + oneWay()
                wheel.schedule(at: arrival, close ? .toDeviceThenClose(d, g, packet) : .toDevice(d, g, packet))
            case .close(let reset):
                wheel.schedule(at: release(i, at: at) + oneWay(), .closedByHub(d, g, reset: reset))
            }
        }

        /// When an answer due at `at` leaves: not before the answers already waiting on the same connection (as the
        /// test hub orders its delayed writes, so a close never overtakes a held-back PUBACK).
        mutating func release(_ i: Int, at: Instant) -> Instant {
            let leaves = max(at.nanoseconds, devices[i].hub.writesNotBefore)
            devices[i].hub.writesNotBefore = leaves
            return Instant(nanoseconds: leaves)
        }

        /// A publish may be answered when it is sent, for its arrival, when nothing can change the hub's answer in
        /// between: no throttle, quota or fault in force, no fault step before it arrives, and the hub holding the
        /// device's connection. (Saves one event per message; the answer is the one the hub would give.)
        func canAnswerEarly(device i: Int, arrival: Instant) -> Bool {
            let side = devices[i].hub
            return arrival < nextFaultAt && hub.quotas == nil && hub.faults.isEmpty && !side.silenced
                && side.link == .connected && side.connection == devices[i].generation
        }

        mutating func scheduleIdleCheck(_ i: Int) {
            guard !devices[i].hub.idleCheck else { return }
            devices[i].hub.idleCheck = true
            let side = devices[i].hub
            let at = Instant(nanoseconds: Int64(side.lastHeard) * 1_000_000) + hub.idleLimit(side)
            wheel.schedule(at: max(at, now), .hubIdle(UInt32(i), side.connection))
        }

        mutating func hubIdle(device i: Int, generation g: UInt32) {
            devices[i].hub.idleCheck = false
            let side = devices[i].hub
            guard side.holds(g) else { return }
            let limit = Instant(nanoseconds: Int64(side.lastHeard) * 1_000_000) + hub.idleLimit(side)
            guard now >= limit else { return scheduleIdleCheck(i) }
            hub.closed(&devices[i].hub, now: now)
            wheel.schedule(at: now + oneWay(), .closedByHub(UInt32(i), g, reset: false))
        }

        /// A fault step on the hub, as `HubState.apply` does it: returns the connections it affected.
        mutating func apply(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) -> Int {
            var affected = 0
            if let effect = HubFaults.effect(of: fault.kind, step: step) {
                for i in devices.indices
                where devices[i].hub.link != .none && !devices[i].hub.silenced
                    && fault.target.matches(deviceID: devices[i].machine.deviceID, peer: { nil })
                {
                    affected += 1
                    switch effect {
                    case .close, .expire:
                        if effect == .expire { hub.recorder.countTokenExpiry() }
                        let g = devices[i].hub.connection
                        hub.closed(&devices[i].hub, now: now)
                        wheel.schedule(at: now + oneWay(), .closedByHub(UInt32(i), g, reset: false))
                    case .silence:
                        devices[i].hub.silenced = true
                        scheduleIdleCheck(i)
                    }
                }
            }
            switch (fault.kind, step) {
            case (.blackhole, .start):
                for i in devices.indices
                where devices[i].hub.link != .none
                    && fault.target.matches(deviceID: devices[i].machine.deviceID, peer: { nil })
                {
                    affected += 1
                }
                hub.faults.start(hub.partitioned(fault), index: index, now: now)
            case (_, .start):
                hub.faults.start(hub.partitioned(fault), index: index, now: now)
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
            var closed = false
            defer {
                list.removeAll(keepingCapacity: true)
                spareActions.append(list)
                // The channel reports closed right after the close (as NIO's channelInactive, in the same instant).
                if closed {
                    actions.removeAll(keepingCapacity: true)
                    devices[i].machine.channelClosed(now: now, into: &actions)
                    run(device: i)
                }
            }
            for action in list {
                switch action {
                case .connect:
                    devices[i].generation &+= 1
                    if hub.model.acceptRate > 0 {
                        wheel.schedule(at: now + oneWay(), .syn(d, devices[i].generation, retries: 0))
                    } else {
                        // A listener without an accept limit takes every SYN: the handshake completes one round trip
                        // later, and the hub opens the connection then (one event instead of two).
                        wheel.schedule(at: now + oneWay() + oneWay(), .established(d, devices[i].generation))
                    }
                case .publish(let message):
                    let packet = HubPacket.publish(
                        seq: UInt32(truncatingIfNeeded: message.seq),
                        packetID: message.packetID ?? 0,
                        qos: cohortQoS[Int(devices[i].cohort)]
                    )
                    let arrival = now + oneWay()
                    if canAnswerEarly(device: i, arrival: arrival) {
                        let id = devices[i].machine.deviceID
                        answer(
                            hub.received(packet, side: &devices[i].hub, id: id, now: arrival),
                            device: i,
                            at: arrival
                        )
                    } else {
                        wheel.schedule(at: arrival, .toHub(d, devices[i].generation, packet))
                    }
                case .write(let packet):
                    guard let sent = Self.hubPacket(packet) else { continue }
                    var at = now + oneWay()
                    if sent == .connect { at = max(at, Instant(nanoseconds: devices[i].hub.acceptAt)) }
                    wheel.schedule(at: at, .toHub(d, devices[i].generation, sent))
                case .close:
                    if devices[i].hub.holds(devices[i].generation) {
                        wheel.schedule(at: now + oneWay(), .finReachesHub(d, devices[i].generation))
                    }
                    devices[i].generation &+= 1
                    closed = true
                case .schedule(let kind, let at):
                    if let old = devices[i].timers[kind] { wheel.cancel(old) }
                    devices[i].timers[kind] = wheel.schedule(at: at, .timer(d, kind))
                case .cancel(let kind):
                    if let old = devices[i].timers[kind] { wheel.cancel(old) }
                    devices[i].timers[kind] = nil
                case .record(let event):
                    record(event, device: i)
                }
            }
            let queued = Int32(clamping: devices[i].machine.queuedMessages)
            if queued != devices[i].lastQueued {
                recorders[Int(devices[i].cohort)].queueChanged(by: Int(queued - devices[i].lastQueued), at: now)
                devices[i].lastQueued = queued
            }
        }

        mutating func record(_ event: DeviceEvent, device i: Int) {
            let recorder = recorders[Int(devices[i].cohort)]
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
