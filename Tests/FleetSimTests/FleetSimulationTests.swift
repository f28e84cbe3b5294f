import FleetCore
import FleetMetrics
import FleetReport
import FleetService
import FleetSim
import Foundation
import Testing

/// FleetSim drives the real device state machines against a model of the test hub. These tests check it from
/// quantities counted on both sides independently (the devices' recorders and the simulated hub's), against the
/// profile's own rules, and for determinism.
@Suite("FleetSim")
struct FleetSimulationTests {
    static let outageProfile = """
        name: sim-outage
        seed: 4
        duration: 2m
        fleet: {devices: 2000, ramp_rate: 1000}
        telemetry: {messages: 20, interval: 1s}
        sdk: azure-dotnet
        faults:
          - {at: 4s, kind: drop}
          - {at: 4s, kind: outage, for: 6s}
        """

    @Test("the same scenario and seed give the same report, byte for byte")
    func deterministic() throws {
        let s = try SimTest.yaml(Self.outageProfile)
        let a = try SimTest.simulate(s).1.serializedData()
        let b = try SimTest.simulate(s).1.serializedData()
        #expect(a == b)
        let other = try SimTest.simulate(try SimTest.yaml(Self.outageProfile, ["seed=5"])).1.serializedData()
        #expect(a != other, "another seed draws other retry jitter")
    }

    @Test("devices and hub count the same connections and messages; every message is accounted for")
    func independentCountsAgree() throws {
        let (result, report) = SimTest.simulate(try SimTest.yaml(Self.outageProfile))
        let c = result.snapshot.counters
        let hub = result.hub
        // Counted by the devices' recorders and by the hub model, separately.
        #expect(c.connected == hub.connectionsAccepted)
        #expect(c.refused == hub.connectionsRefused)
        #expect(hub.refusedByReason["outage"] == hub.connectionsRefused)
        // Every acknowledged message reached the hub (a message can reach it and lose its PUBACK to the drop).
        #expect(hub.messagesReceived >= c.acked)
        #expect(hub.messagesReceived - hub.duplicates <= c.generated)
        // Pending is counted from what each machine holds, not as a difference.
        #expect(c.generated == c.acked + c.sent + c.failed + c.pending)
        #expect(c.generated == 2000 * 20)
        #expect(c.finishedDevices == 2000)
        #expect(report.run.kind == "simulation")
        // The drop affected exactly the devices connected at 4 s; the storm saw all of them back.
        let drop = try #require(result.faults.first { $0.kind == "drop" })
        let storm = SimTest.storm(report)
        #expect(storm.affected == drop.affected)
        #expect(storm.recovered == storm.affected)
        // .NET retries transient refusals; with a 6 s outage every device needs several attempts.
        #expect(storm.attemptsPerDevice > 3)
        #expect(storm.t100Ns > 6_000_000_000)
    }

    @Test("the listener's accept rate and backlog: connects queue, dropped SYNs come back after 1 s, 2 s, ...")
    func acceptCapacity() throws {
        let base = """
            name: accept
            duration: 1m
            fleet: {devices: 400, ramp_rate: 0, max_in_flight: 400}
            telemetry: {messages: 1, interval: 1s}
            simulation: {rtt: 2ms}
            """
        let free = SimTest.simulate(try SimTest.yaml(base)).0
        let limited = SimTest.simulate(
            try SimTest.yaml(base, ["simulation.accept_rate=100", "simulation.accept_backlog=50"])
        ).0
        let freeConnect = try #require(free.snapshot.histograms["connect"])
        let slowConnect = try #require(limited.snapshot.histograms["connect"])
        // Unlimited: SYN, SYN-ACK, CONNECT, CONNACK = two round trips.
        #expect(freeConnect.valueAtPercentile(100) <= 4_100_000)
        // 400 connects through 100 accepts/s with room for 50 waiting: the rest are dropped and retried by the
        // kernel after 1 s, 2 s, ...; the last connects take seconds.
        #expect(slowConnect.valueAtPercentile(99) > 2_000_000_000)
        #expect(limited.snapshot.counters.connected == 400)
        #expect(limited.hub.connectionsAccepted == 400)
    }

    @Test("two partitions give the same storm as one, within a few per cent")
    func partitionsAgree() throws {
        let one = SimTest.simulate(
            try SimTest.yaml(Self.outageProfile, ["fleet.devices=20000", "simulation.partitions=1"])
        )
        let two = SimTest.simulate(
            try SimTest.yaml(Self.outageProfile, ["fleet.devices=20000", "simulation.partitions=2"])
        )
        let (a, b) = (SimTest.storm(one.1), SimTest.storm(two.1))
        // The ramp is split too, so the devices connected at the drop differ by a few.
        #expect(abs(Double(a.affected) - Double(b.affected)) / Double(a.affected) < 0.005)
        #expect(abs(a.attemptsPerDevice - b.attemptsPerDevice) / a.attemptsPerDevice < 0.02)
        #expect(abs(Double(a.t90Ns - b.t90Ns)) / Double(a.t90Ns) < 0.05)
        #expect(one.0.snapshot.counters.acked == two.0.snapshot.counters.acked)
        #expect(two.0.snapshot.counters.generated == 20000 * 20)
    }

    @Test("cancelling stops every device as Ctrl-C stops a run; the accounting still balances")
    func cancel() throws {
        var simulation = FleetSimulation(scenario: try SimTest.yaml(Self.outageProfile, ["fleet.devices=3000"]))
        let calls = Counter()
        // Asked every 65,536 events: stop on the second question (in the middle of the storm).
        simulation.shouldCancel = { calls.next() >= 2 }
        let result = simulation.run()
        let c = result.snapshot.counters
        #expect(result.cancelled)
        #expect(c.finishedDevices == 3000)
        #expect(c.generated == c.acked + c.sent + c.failed + c.pending)
        #expect(c.generated < 3000 * 20)
    }

    @Test("a throttle shapes CONNACKs and refuses past its queue, as the test hub does")
    func throttle() throws {
        let s = try SimTest.yaml(
            """
            name: throttled
            duration: 3m
            hub: {url: embedded, tier: S1, units: 1, burst_seconds: 2, max_shaping_delay: 5s}
            fleet: {devices: 1500, ramp_rate: 0, max_in_flight: 1500}
            telemetry: {messages: 2, interval: 5s}
            sdk: azure-dotnet
            """
        )
        let (result, _) = SimTest.simulate(s)
        let hub = result.hub
        #expect(hub.shapedConnects > 0)
        #expect(hub.throttledConnects > 0)
        #expect(hub.refusedByReason["throttled"] == hub.throttledConnects)
        #expect(result.snapshot.counters.refused == hub.connectionsRefused)
        // 3.1.1 cannot refuse one message: a throttled send closes the connection, and the device reconnects.
        #expect(result.snapshot.counters.connected == hub.connectionsAccepted)
        #expect(result.snapshot.counters.outcomes["completed"] == 1500, "every device gets through in the end")
    }

    @Test("random fault plans, SDKs and sizes: nothing traps, every device ends once, both sides agree")
    func randomPlans() throws {
        let kinds = [
            "{kind: drop}", "{kind: outage, for: 3s}", "{kind: outage, for: 2s, refuse: reset}",
            "{kind: blackhole, for: 4s}", "{kind: flap, for: 6s, period: 2s, down: 1s}",
            "{kind: throttle, for: 5s, connect_rate: 50, send_rate: 200}", "{kind: slow-connack, for: 3s, delay: 2s}",
            "{kind: slow-puback, for: 3s, delay: 1s}", "{kind: network-switch, fraction: 0.5}",
            "{kind: disable, for: 2s, fraction: 0.2}",
            "{kind: reject-auth, for: 2s, fraction: 0.3}", "{kind: expire-tokens}",
        ]
        let sdks = ["azure-dotnet", "azure-java", "azure-node", "azure-c", "azure-python", "mqtt"]
        var rng = SplitMix64(seed: 77)
        for round in 0..<12 {
            var faults: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 2...12, using: &rng)
                let kind = kinds.randomElement(using: &rng)!
                faults.append("  - {at: \(at)s, " + kind.dropFirst())
            }
            let devices = Int.random(in: 50...600, using: &rng)
            let sdk = sdks.randomElement(using: &rng)!
            let yaml = """
                name: random-\(round)
                seed: \(round)
                duration: 40s
                fleet: {devices: \(devices), ramp_rate: \(Int.random(in: 0...500, using: &rng))}
                mqtt: {keep_alive: 10s, version: "\(Bool.random(using: &rng) ? "5" : "3.1.1")"}
                telemetry: {messages: \(Int.random(in: 0...15, using: &rng)), interval: 1s, qos: \(Int.random(in: 0...1, using: &rng))}
                sdk: \(sdk)
                simulation: {rtt: \(Int.random(in: 1...80, using: &rng))ms, rtt_jitter: 5ms, partitions: \(Int.random(in: 1...3, using: &rng))}
                faults:
                \(faults.joined(separator: "\n"))
                """
            let scenario = try SimTest.yaml(yaml)
            let (result, _) = SimTest.simulate(scenario)
            let c = result.snapshot.counters
            #expect(c.finishedDevices == UInt64(devices), "round \(round): \(yaml)")
            #expect(c.generated == c.acked + c.sent + c.failed + c.pending, "round \(round)")
            #expect(c.connected == result.hub.connectionsAccepted, "round \(round)")
            #expect(
                c.refused == result.hub.connectionsRefused - (result.hub.refusedByReason["reset"] ?? 0),
                "round \(round)"
            )
        }
    }
}

/// A thread-safe counter for callbacks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
