internal import Dispatch
public import FleetCore
public import FleetHubCore
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
public typealias SimulatedCohort = CohortSnapshot

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
        /// A pooled AMQP connection (pool, its generation): its SYN reaches the hub, TCP is up, AMQP open is done.
        case poolSyn(UInt32, UInt32, retries: UInt8)
        case poolEstablished(UInt32, UInt32)
        case poolOpen(UInt32, UInt32)
        /// A device's session on an open pooled connection: as `established` for a device with its own.
        case sessionReady(UInt32, UInt32)
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
    /// Keeps the first messages and each device's last (`simulate --sample FILE`): bodies written as the devices
    /// send them (nil: no body is ever written, as packets carry none here).
    public var sample: MessageSample?

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
        let (grace, progress, shouldCancel, sample) = (stopGrace, progress, shouldCancel, sample)
        DispatchQueue.concurrentPerform(iterations: count) { k in
            var state = State(scenario: scenario, grace: grace, partition: k, of: count)
            state.board = board
            state.sample = sample
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

extension FleetSimulation.Event {
    /// The device the event is for (nil: the fleet's own events).
    var device: UInt32? {
        switch self {
        case .timer(let d, _), .syn(let d, _, _), .established(let d, _), .toHub(let d, _, _), .toDevice(let d, _, _),
            .toDeviceThenClose(let d, _, _), .closedByHub(let d, _, _), .finReachesHub(let d, _), .hubIdle(let d, _),
            .sessionReady(let d, _):
            d
        case .fault, .ramp, .stop, .forceClose, .poolSyn, .poolEstablished, .poolOpen:
            nil
        }
    }
}

/// An arrival on the wire: when, and what.
struct WireEvent {
    var at: Int64
    var event: FleetSimulation.Event
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
    /// On a pooled AMQP connection: waiting for it to open, or holding a session on it.
    var pooled = SimPool.Phase.none

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
