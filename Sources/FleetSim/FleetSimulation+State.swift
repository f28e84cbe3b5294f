internal import CPrefetch
internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetMetrics
internal import NIOCore

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
        var sample: MessageSample?

        /// Every device of the partition: its machine and what the simulation and the hub keep for it, together.
        var devices: [SimDevice] = []
        /// Each cohort's telemetry QoS (read per message without touching the device's configuration).
        var cohortQoS: [MQTTQoS] = []
        let recorders: [Recorder]
        /// The same recorders, unretained, for the per-event paths: `recorders` keeps them alive for the whole run,
        /// so reading one needs no retain and release per recorded event.
        let unretained: [Unmanaged<Recorder>]
        var hub: SimHub
        var wheel = TimerWheel<Event>(tick: .microseconds(100))
        /// Packets, SYNs and FINs in flight, in arrival order (see `send(at:_:)`), and the last arrival queued.
        var wire = CircularBuffer<WireEvent>(initialCapacity: 1024)
        var wireLast: Int64 = .min
        /// How far ahead an arrival may be to go on the wire: a round trip and the hub's answer delays.
        let wireHorizon: Int64
        var now: Instant = .zero
        var rng: SplitMix64
        /// The order in which a fault's step reaches the connections it chooses: the test hub walks its connection
        /// table, whose order has nothing to do with device ids, so neither does this (a stream of its own, so the
        /// network's draws stay as they were).
        var hubOrder: SplitMix64
        let halfRTT: Int64
        let jitter: UInt64
        /// Over AMQP, the round trips a connect takes before the hub sees the device's credentials and after it
        /// accepted them, beyond MQTT's one (`AMQPDeviceBridge.handshakeRoundTrips`); zero over MQTT.
        var handshake: [(beforeCredentials: Int, afterAcceptance: Int)] = []
        /// The same for a device joining an open pooled connection.
        let pooledHandshake: (beforeCredentials: Int, afterAcceptance: Int)
        /// Pooled AMQP connections of this partition, and per cohort its first device here, its pools' count (0:
        /// a connection per device) and where they start in `pools`.
        var pools: [SimPool] = []
        var poolLayout: [(start: Int, end: Int, count: Int, first: Int)] = []
        let plan: FaultPlan
        var faultLog: FaultLog
        var storms = StormMarks()
        /// The actions the machines being driven returned, as a stack (see `run(device:from:)`).
        var actions: [DeviceAction] = []

        /// The ramp and the window (the partition's share of them), as the engine's.
        var gate: RampGate
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

        init(scenario: Scenario, grace: Duration, partition: Int = 0, of partitions: Int = 1) {
            self.scenario = scenario
            self.grace = grace
            self.partition = partition
            self.partitions = partitions
            let total = scenario.fleet.devices
            let n = total / partitions + (partition < total % partitions ? 1 : 0)
            let cohorts = scenario.effectiveCohorts
            recorders = cohorts.map { Recorder(bin: scenario.bin, kinds: scenario.mix(of: $0).map(\.name)) }
            unretained = recorders.map { Unmanaged.passUnretained($0) }
            hub = SimHub(scenario: scenario, partitions: partitions)
            let pace = scenario.fleet.pace(share: partitions)
            gate = RampGate(devices: n, rate: pace.rampRate, window: pace.window)
            rng = SplitMix64(seed: scenario.seed).derived(0x5EED_5117 &+ UInt64(partition))
            hubOrder = SplitMix64(seed: scenario.seed).derived(0x0D0E_0F10 &+ UInt64(partition))
            halfRTT = scenario.simulation.rtt.nanoseconds / 2
            jitter = UInt64(max(0, scenario.simulation.rttJitter.nanoseconds))
            let (cbs, sasl) = AMQPDeviceBridge.authentication(scenario.auth)
            handshake = cohorts.map { $0.amqp ? AMQPDeviceBridge.handshakeRoundTrips(cbs: cbs, sasl: sasl) : (0, 0) }
            pooledHandshake = AMQPDeviceBridge.handshakeRoundTrips(cbs: cbs, pooled: true)
            let model = scenario.simulation
            wireHorizon =
                2 * (halfRTT + Int64(jitter)) + max(0, model.connackDelay.nanoseconds)
                + max(0, model.pubackDelay.nanoseconds)
            plan = FaultPlan(scenario.faults)
            faultLog = FaultLog(plan: plan)
            devices.reserveCapacity(n)
            // Room for every timer kind and a few packets in flight per device, reserved up front: pages are only
            // touched as entries are used, and the pool never doubles (a doubling copy briefly needs both buffers).
            wheel.reserveCapacity(n * 12)
            let plan = FleetPlan(scenario)
            let shared = cohorts.map { SharedDeviceConfig(DeviceConfig(scenario: scenario, cohort: $0)) }
            cohortQoS = shared.map(\.config.qos)
            for j in 0..<n {
                // Partition p takes every P-th device of the fleet.
                let index = j * partitions + partition
                let c = plan.cohort(of: index)
                devices.append(SimDevice(machine: plan.machine(index, shared: shared[c]), cohort: UInt8(clamping: c)))
            }
            layOutPools(cohorts)
            actions.reserveCapacity(16)
        }

        /// `count` round trips, each drawn as two one-way delays.
        mutating func roundTrips(_ count: Int) -> Duration {
            var total = Duration.zero
            for _ in 0..<count { total += oneWay() + oneWay() }
            return total
        }

        /// One-way network delay: half the round trip plus up to `rtt_jitter`.
        mutating func oneWay() -> Duration {
            let extra = jitter > 0 ? Int64(rng.next() % jitter) : 0
            return .exactly(nanoseconds: halfRTT + extra)
        }

        mutating func run() -> SimulationResult {
            for (k, event) in plan.events.enumerated() {
                wheel.schedule(at: Instant.zero + event.at, .fault(Int32(k)))
            }
            nextFaultAt = plan.events.first.map { Instant.zero + $0.at } ?? Instant(nanoseconds: .max)
            wheel.schedule(at: Instant.zero + scenario.duration, .stop)
            pump()
            if !gate.done { wheel.schedule(at: now + .milliseconds(2), .ramp) }
            let wallStart = ContinuousClock.now
            var lastReport = wallStart
            while finished < devices.count {
                if let fired = wheel.popReady() {
                    // What arrives on the wire first goes first.
                    while let head = wire.first, head.at <= fired.deadline.nanoseconds {
                        takeWireHead(lastReport: &lastReport)
                    }
                    prefetch(wheel.nextReady)
                    step(fired.payload, at: fired.deadline, lastReport: &lastReport)
                    continue
                }
                // The wheel's next tick holds timers due after the tick before it: an arrival up to then goes first.
                let wake = wheel.nextWakeup()
                if let head = wire.first, wake.map({ head.at <= $0.nanoseconds - wheel.tickNanoseconds }) ?? true {
                    takeWireHead(lastReport: &lastReport)
                    continue
                }
                guard let wake else { break }
                wheel.advance(to: wake)
            }
            return finish()
        }

        /// Handles one event due at `at` (a wheel timer's deadline, or a wire arrival), with the progress line and
        /// the cancellation check every 65,536 events.
        @inline(__always)
        mutating func step(_ event: FleetSimulation.Event, at: Instant, lastReport: inout ContinuousClock.Instant) {
            if at > now { now = at }
            handle(event, deadline: at)
            events &+= 1
            guard events & 0xFFFF == 0 else { return }
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

        /// Handles the wire's next arrival, prefetching the devices of the two after it: a fault step reaches its
        /// connections in random order (as the test hub does), so the arrivals after it touch devices all over
        /// memory, and one event's work is shorter than a miss takes.
        @inline(__always)
        mutating func takeWireHead(lastReport: inout ContinuousClock.Instant) {
            let head = wire.removeFirst()
            prefetch(wire.first?.event)
            if wire.count > 1 { prefetch(wire[wire.index(wire.startIndex, offsetBy: 1)].event) }
            step(head.event, at: Instant(nanoseconds: head.at), lastReport: &lastReport)
        }

        /// Asks the CPU to load the device of the event handled next while this one is handled: at a million devices
        /// their state is far beyond the caches, and every event starts with a miss otherwise.
        @inline(__always)
        mutating func prefetch(_ event: FleetSimulation.Event?) {
            guard let d = event?.device else { return }
            devices.withUnsafeBufferPointer { buffer in
                let base = UnsafeRawPointer(buffer.baseAddress! + Int(d))
                var offset = 0
                while offset < MemoryLayout<SimDevice>.size {
                    fleetstorm_prefetch(base + offset)
                    offset += 64
                }
            }
        }

        /// Sends what arrives at `at` (a packet, SYN or FIN). With a fixed one-way delay, arrivals come in the order
        /// they were sent, so they queue on the wire in arrival order and skip the wheel (most events are packets).
        /// One that would arrive before the last one queued (jitter, a listener's accept queue, an answer held
        /// back) or beyond the wire's horizon goes on the wheel instead.
        mutating func send(at: Instant, _ event: FleetSimulation.Event) {
            let t = at.nanoseconds
            if t >= wireLast && t - now.nanoseconds <= wireHorizon {
                wire.append(WireEvent(at: t, event: event))
                wireLast = t
            } else {
                wheel.schedule(at: at, event)
            }
        }

        func snapshotProgress() -> SimulationProgress {
            var counters = FleetCounters()
            var connected: UInt64 = 0
            for r in recorders {
                counters.add(r.counters)
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
            // Every part comes from recorders of one layout: merging cannot fail.
            let (total, cohorts) = (try? CohortSnapshot.split(scenario, parts)) ?? (Snapshot(), [])
            return SimulationResult(
                snapshot: total,
                cohorts: cohorts,
                hub: hub.core.recorder.stats,
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
            while let i = gate.next(elapsed: now - .zero) {
                devices[i].holdsSlot = true
                let base = actions.count
                devices[i].machine.start(now: now, into: &actions)
                run(device: i, from: base)
            }
        }

        mutating func releaseSlot(_ i: Int) {
            guard devices[i].holdsSlot else { return }
            devices[i].holdsSlot = false
            gate.release()
            pump()
        }

        mutating func stopAll() {
            guard !stopping else { return }
            stopping = true
            for i in devices.indices {
                let base = actions.count
                devices[i].machine.stop(now: now, into: &actions)
                run(device: i, from: base)
            }
            wheel.schedule(at: now + grace, .forceClose)
        }
    }
}
