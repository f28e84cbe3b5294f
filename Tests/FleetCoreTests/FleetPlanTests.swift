import FleetCore
import Testing

/// The fleet plan every runner builds its devices from, and the ramp gate every runner starts them through, against
/// simple models: the cohort of each device against a walk over the cohorts' sizes, a shard's devices against the
/// same devices of the whole fleet, and the gate against a model that counts started devices and slots by hand.
@Suite("Fleet plan and ramp gate")
struct FleetPlanTests {
    static let profile = """
        seed: 42
        fleet: {devices: 1000}
        auth: {mode: sas, hub_host: h.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
        cohorts:
          - {name: a, devices: 250, sdk: azure-dotnet}
          - {name: b, devices: 1, sdk: azure-c}
          - {name: c, devices: 499, sdk: azure-node}
          - {name: d, devices: 250, sdk: azure-java}
        """

    @Test("each device's cohort, id and seed; a shard's devices are the whole fleet's, one for one")
    func deviceTable() throws {
        let scenario = try ScenarioLoader().load(yaml: Self.profile, source: "p.yaml")
        let plan = FleetPlan(scenario)
        #expect(plan.devices == 1000 && plan.cohorts.count == 4)
        // The model: walk the cohorts' sizes.
        var expected: [Int] = []
        for (c, cohort) in scenario.effectiveCohorts.enumerated() {
            expected += Array(repeating: c, count: cohort.devices)
        }
        #expect((0..<plan.devices).map { plan.cohort(of: $0) } == expected)
        #expect(Set(expected) == [0, 1, 2, 3], "the one-device cohort has its device")
        let shared = plan.cohorts.map { SharedDeviceConfig(DeviceConfig(scenario: scenario, cohort: $0)) }
        let seeds = Set((0..<plan.devices).map { plan.seed(of: $0) })
        #expect(seeds.count == plan.devices, "every device draws from its own stream")
        for shardIndex in 0..<3 {
            let shard = try scenario.sharded(Shard(index: shardIndex, count: 3))
            let part = FleetPlan(shard)
            let range = Shard(index: shardIndex, count: 3).range(of: 1000)
            #expect(part.devices == range.count)
            let partShared = part.cohorts.map { SharedDeviceConfig(DeviceConfig(scenario: shard, cohort: $0)) }
            for i in [0, part.devices / 2, part.devices - 1] {
                let whole = range.lowerBound + i
                #expect(part.seed(of: i) == plan.seed(of: whole))
                #expect(part.cohort(of: i) == plan.cohort(of: whole), "shard \(shardIndex) device \(i)")
                let a = part.machine(i, shared: partShared[part.cohort(of: i)])
                let b = plan.machine(whole, shared: shared[plan.cohort(of: whole)])
                #expect(a.deviceID == b.deviceID)
                #expect(a.deviceID == scenario.fleet.deviceID(whole))
            }
        }
    }

    @Test(
        "the gate against a model: starts by the ramp's clock, never more than the window waiting",
        arguments: [
            UInt64(1), 2, 3, 4, 5, 6,
        ]
    )
    func gateAgainstModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let devices = Int.random(in: 0...300, using: &rng)
        let rate = [0, 0.5, 10, 250, 1e9][Int.random(in: 0..<5, using: &rng)]
        var gate = RampGate(devices: devices, rate: rate, window: Int.random(in: 1...50, using: &rng))
        var started = 0
        var waiting = 0
        var elapsed = Duration.zero
        for _ in 0..<3_000 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4:
                // Time passes: sparse steps and far jumps.
                elapsed += Bool.random(using: &rng) ? .milliseconds(Int.random(in: 0...40, using: &rng)) : .seconds(30)
            case 4..<6:
                if waiting > 0 {
                    waiting -= 1
                    gate.release()
                }
            case 6:
                if Bool.random(using: &rng) { gate.window = Int.random(in: 1...50, using: &rng) }
            default:
                // The model: device k may start once k / rate seconds have passed, the window permitting.
                let byClock =
                    rate <= 0 ? devices : min(devices, Int(Double(elapsed.nanoseconds) / 1e9 * rate) + 1)
                let next = gate.next(elapsed: elapsed)
                if started < byClock && waiting < gate.window {
                    #expect(next == started, "seed \(seed): device \(started) may start")
                    started += 1
                    waiting += 1
                } else {
                    #expect(next == nil, "seed \(seed): held back (started \(started), waiting \(waiting))")
                }
            }
            #expect(gate.started == started && gate.inFlight == waiting)
            #expect(gate.done == (started == devices))
        }
    }

    @Test("a ramp far past its end allows every device: the count saturates instead of wrapping")
    func farPastTheEnd() {
        let gate = RampGate(devices: 1_000, rate: 1e9, window: 10)
        // 1e9/s for about 292 years is more starts than an Int holds: the count saturates, plus one stays Int.max.
        #expect(gate.allowed(elapsed: .seconds(Int64.max / 2)) == 1_000)
        #expect(gate.allowed(elapsed: .zero) == 1)
        #expect(RampGate(devices: 5, rate: 0, window: 1).allowed(elapsed: .zero) == 5)
    }
}
