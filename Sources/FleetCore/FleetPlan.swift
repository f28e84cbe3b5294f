/// One process's fleet as every runner builds it (issue 20's one fleet plan): the device table — which cohort each
/// device belongs to, its id, its seed and its key — and the ramp gate that starts the devices. The engine
/// (`Swarm`), FleetSim and `InMemoryFleet` all build their devices and start them through it, so a device is the same
/// device (id, cohort, random draws, key) whichever runs it, and a shard's device `i` is device `firstIndex + i` of
/// the whole fleet.
public struct FleetPlan: Sendable {
    public let fleet: Scenario.Fleet
    public let cohorts: [Scenario.Cohort]
    /// Cohort `c` holds devices `cohortStarts[c] ..< cohortStarts[c + 1]` (one more entry than cohorts).
    public let cohortStarts: [Int]
    private let seeds: SplitMix64

    public init(_ scenario: Scenario) {
        fleet = scenario.fleet
        cohorts = scenario.effectiveCohorts
        var starts = [0]
        for cohort in cohorts { starts.append(starts[starts.count - 1] + cohort.devices) }
        cohortStarts = starts
        seeds = SplitMix64(seed: scenario.seed)
    }

    /// Devices of this process (the sum of its cohorts).
    public var devices: Int { cohortStarts[cohortStarts.count - 1] }

    /// The cohort of device `index` (the last cohort for an index past the end).
    public func cohort(of index: Int) -> Int {
        // Cohorts are few: the first whose end lies past the index.
        var c = 0
        while c < cohorts.count - 1 && index >= cohortStarts[c + 1] { c += 1 }
        return c
    }

    /// Device `index`'s seed: derived from the run's seed and its place in the whole fleet.
    public func seed(of index: Int) -> UInt64 { seeds.derived(UInt64(fleet.firstIndex + index)).state }

    /// Device `index`'s machine with its cohort's configuration `shared`: its id, seed, and key (derived from the
    /// cohort's SAS settings; none without them).
    public func machine(_ index: Int, shared: SharedDeviceConfig) -> DeviceStateMachine {
        let id = fleet.deviceID(index)
        let key = (try? shared.config.auth?.key(for: id)) ?? nil
        return DeviceStateMachine(deviceID: id, shared: shared, seed: seed(of: index), key: key)
    }
}

/// The pace at which devices start, one rule for every runner: device `i` may start once `i / rate` seconds have
/// passed since the ramp began (all at once with no rate), and at most `window` first connects wait for their
/// CONNACK at a time; a slot is freed when its device's first connect is answered (accepted or refused) or ends.
public struct RampGate: Sendable, Hashable {
    public let devices: Int
    /// New connects per second; 0 or less: no pacing but the window.
    public let rate: Double
    /// Slots for first connects waiting for their answer (an adaptive window moves it).
    public var window: Int
    public private(set) var started = 0
    public private(set) var inFlight = 0

    public init(devices: Int, rate: Double, window: Int) {
        self.devices = max(0, devices)
        self.rate = rate
        self.window = window
    }

    /// How many devices may have started `elapsed` after the ramp began.
    public func allowed(elapsed: Duration) -> Int {
        guard rate > 0 else { return devices }
        return min(devices, Int.saturatingSum(Int(saturating: Double(elapsed.nanoseconds) / 1e9 * rate), 1))
    }

    /// The next device to start now, its slot taken; nil while the ramp or the window holds it back, or when all
    /// have started.
    public mutating func next(elapsed: Duration) -> Int? {
        guard started < allowed(elapsed: elapsed), inFlight < window else { return nil }
        started += 1
        inFlight += 1
        return started - 1
    }

    /// A device that held a slot got its first answer (or ended): the slot is free.
    public mutating func release() { inFlight = max(0, inFlight - 1) }

    /// Every device has started.
    public var done: Bool { started >= devices }
}
