public import FleetCore
internal import FleetHubCore
public import FleetMQTT
public import FleetMetrics
internal import NIOCore

/// Devices wired to hub sessions in memory, in virtual time: the same `DeviceStateMachine`, `HubSession`, codec and
/// `TimerWheel` as a real run, with a fixed one-way latency instead of sockets. Deterministic.
public struct InMemoryFleet {
    /// Events carry the connection generation they belong to; events of an older connection are ignored.
    enum Event {
        case deviceTimer(Int, DeviceTimer)
        case connected(Int, Int)
        case toHub(Int, Int, ByteBuffer)
        case toDevice(Int, Int, ByteBuffer)
        case closed(Int, Int)
        case drop(Int)
    }

    public private(set) var machines: [DeviceStateMachine]
    private var hubSessions: [HubSession?]
    private var decoders: [MQTTDecoder]
    private var hubDecoders: [MQTTDecoder]
    private var timers: [[TimerHandle?]]
    private var generation: [Int]
    private var events = TimerWheel<Event>(tick: .microseconds(100))
    public private(set) var now: Instant = .zero
    public let recorder = Recorder()
    private var hubRecorder = HubRecorder()
    /// What the hub sessions saw.
    public var hubStats: HubStats { hubRecorder.stats }
    /// One-way network latency.
    public var latency: Duration
    /// Every packet the devices wrote, in order (for assertions).
    public private(set) var deviceWrites: [(device: Int, packet: MQTTPacket)] = []

    public init(scenario: Scenario, latency: Duration = .milliseconds(5)) {
        // The devices as every runner builds them (`FleetPlan`): cohorts, ids, seeds, keys.
        let plan = FleetPlan(scenario)
        let shared = plan.cohorts.map { SharedDeviceConfig(DeviceConfig(scenario: scenario, cohort: $0)) }
        let config = shared[0].config
        machines = (0..<plan.devices).map { plan.machine($0, shared: shared[plan.cohort(of: $0)]) }
        hubSessions = Array(repeating: nil, count: machines.count)
        decoders = Array(repeating: MQTTDecoder(version: config.version), count: machines.count)
        hubDecoders = Array(repeating: MQTTDecoder(), count: machines.count)
        timers = Array(repeating: Array(repeating: nil, count: DeviceTimer.allCases.count), count: machines.count)
        generation = Array(repeating: 0, count: machines.count)
        self.latency = latency
    }

    /// The network drops device `index`'s connection at `instant` (both sides see it close).
    public mutating func scheduleDrop(device index: Int, at instant: Instant) {
        events.schedule(at: instant, .drop(index))
    }

    /// Starts every device at `start + index * spacing`, then runs events until none are left or `until` passes.
    public mutating func run(spacing: Duration = .zero, until limit: Instant) {
        for i in machines.indices {
            var actions: [DeviceAction] = []
            now = Instant.zero + spacing * i
            machines[i].start(now: now, into: &actions)
            apply(actions, device: i)
        }
        now = .zero
        while now < limit {
            guard let wake = events.nextWakeup() else { break }
            now = max(now, wake)
            events.advance(to: now)
            while let fired = events.popReady() { handle(fired.payload, deadline: fired.deadline) }
        }
    }

    private mutating func handle(_ event: Event, deadline: Instant) {
        var actions: [DeviceAction] = []
        switch event {
        case .deviceTimer(let i, let kind):
            timers[i][Int(kind.rawValue)] = nil
            machines[i].timerFired(kind, deadline: deadline, now: now, into: &actions)
            apply(actions, device: i)
        case .connected(let i, let gen):
            guard gen == generation[i] else { return }
            hubSessions[i] = HubSession()
            hubDecoders[i] = MQTTDecoder()
            machines[i].connectSucceeded(now: now, into: &actions)
            apply(actions, device: i)
        case .toHub(let i, let gen, var bytes):
            guard gen == generation[i], var session = hubSessions[i] else { return }
            var hubActions: [HubAction] = []
            while let packet = try? hubDecoders[i].decode(buffer: &bytes) {
                session.packetReceived(packet, now: now, into: &hubActions)
            }
            hubSessions[i] = session
            let encoder = MQTTEncoder(version: session.version ?? .v311)
            for a in hubActions {
                switch a {
                case .write(let p):
                    events.schedule(at: now + latency, .toDevice(i, gen, (try? encoder.encode(p)) ?? ByteBuffer()))
                case .close:
                    hubSessions[i] = nil
                    events.schedule(at: now + latency, .closed(i, gen))
                case .record(let e):
                    hubRecorder.record(e, peer: nil, at: now)
                case .twin, .deliverCloudToDevice, .cloudToDeviceAcked:
                    break  // simulated devices use neither twins nor C2D
                }
            }
        case .toDevice(let i, let gen, var bytes):
            guard gen == generation[i] else { return }
            do {
                while let packet = try decoders[i].decode(buffer: &bytes) {
                    machines[i].packetReceived(packet, now: now, into: &actions)
                }
            } catch {
                machines[i].protocolViolation(now: now, into: &actions)
            }
            apply(actions, device: i)
        case .closed(let i, let gen):
            guard gen == generation[i] else { return }
            generation[i] += 1
            hubSessions[i] = nil
            machines[i].channelClosed(now: now, into: &actions)
            apply(actions, device: i)
        case .drop(let i):
            handle(.closed(i, generation[i]), deadline: deadline)
        }
    }

    private mutating func apply(_ actions: [DeviceAction], device i: Int) {
        for var action in actions {
            // In memory the telemetry message travels as a packet value.
            if case .publish(let message) = action { action = .write(machines[i].packet(for: message)) }
            switch action {
            case .publish:
                break
            case .connect:
                events.schedule(at: now + latency * 2, .connected(i, generation[i]))
            case .write(let packet):
                deviceWrites.append((i, packet))
                let encoder = MQTTEncoder(version: machines[i].config.version)
                guard let bytes = try? encoder.encode(packet) else { continue }
                events.schedule(at: now + latency, .toHub(i, generation[i], bytes))
            case .close:
                hubSessions[i] = nil
                events.schedule(at: now, .closed(i, generation[i]))
            case .schedule(let kind, let at):
                if let old = timers[i][Int(kind.rawValue)] { events.cancel(old) }
                timers[i][Int(kind.rawValue)] = events.schedule(at: at, .deviceTimer(i, kind))
            case .cancel(let kind):
                if let old = timers[i][Int(kind.rawValue)] { events.cancel(old) }
                timers[i][Int(kind.rawValue)] = nil
            case .record(let event):
                recorder.record(event, at: now)
            }
        }
    }
}
