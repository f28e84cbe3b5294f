import FleetCore
import FleetReport
import FleetSim
import Testing

/// FleetSim's model of pooled AMQP connections (reference §11.1), as `DeviceAMQPPool` runs them over sockets: a
/// connection's loss reaches every device on it, and a connection's handshake serves all the devices it carries.
@Suite("FleetSim: pooled AMQP connections")
struct PooledSimulationTests {
    static let base = """
        seed: 31
        duration: 60s
        hub: {url: embedded, amqp: true}
        auth: {mode: sas, hub_host: myhub.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
        fleet: {devices: 1000, ramp_rate: 0, max_in_flight: 1000}
        telemetry: {messages: 10, interval: 2s}
        sdk: azure-dotnet
        retry: {policy: fixed, base: 500ms}
        """

    @Test("a drop that chooses one device closes its connection: all 500 devices on it fall, the other 500 stay")
    func oneDeviceTakesItsConnection() throws {
        let pooled = try SimTest.yaml(
            Self.base
                + "\namqp: {devices_per_connection: 995, pool_size: 2}\nfaults: [{at: 5s, kind: drop, devices: \"device-00007\"}]"
        )
        let (result, report) = SimTest.simulate(pooled)
        let storm = SimTest.storm(report)
        #expect(storm.affected == 500, "the chosen device's connection carried 500: \(storm.affected)")
        #expect(storm.recovered == 500)
        #expect(result.faults.first?.affected == 1, "the fault chose one device")
        // The same drop without pooling: one device.
        let alone = try SimTest.yaml(Self.base + "\nfaults: [{at: 5s, kind: drop, devices: \"device-00007\"}]")
        #expect(SimTest.storm(SimTest.simulate(alone).1).affected == 1)
    }

    @Test(
        "behind a listener that accepts 400 connections a second, 1,000 pooled devices reconnect through 2 handshakes"
    )
    func handshakesAreShared() throws {
        let limits = "\nsimulation: {accept_rate: 400, accept_backlog: 2048}\nfaults: [{at: 5s, kind: drop}]"
        let pooled = SimTest.storm(
            SimTest.simulate(try SimTest.yaml(Self.base + "\namqp: {devices_per_connection: 995}" + limits)).1
        )
        let unpooled = SimTest.storm(SimTest.simulate(try SimTest.yaml(Self.base + limits)).1)
        #expect(pooled.affected == 1000 && unpooled.affected == 1000)
        #expect(pooled.recovered == 1000 && unpooled.recovered == 1000)
        // After the 500 ms retry delay: 1,000 accepts at 400/s take 2.5 s more; two take 5 ms.
        #expect(unpooled.t90Ns > 2_000_000_000, "unpooled t90 \(unpooled.t90Ns) ns")
        #expect(pooled.t90Ns < 1_000_000_000, "pooled t90 \(pooled.t90Ns) ns")
    }
}

/// Found by the FleetSim-vs-real sweep (scripts/differential.sh, generated scenario 25): a device that reconnected
/// into a blackhole while the hub's idle check of its previous connection was pending never got one for the new
/// connection, so the hub never closed it and the device never came back (the real hub closes it after the CONNECT
/// timeout).
@Suite("FleetSim: reconnecting into a blackhole")
struct BlackholeReconnectSimulationTests {
    @Test("devices dropped by a flap inside a 12 s blackhole all come back once it ends (real: t50 12.5 s, 3 attempts)")
    func devicesComeBackAfterTheBlackhole() throws {
        let scenario = try SimTest.yaml(
            """
            seed: 25
            duration: 45s
            fleet: {devices: 1200, ramp_rate: 500}
            mqtt: {keep_alive: 60s}
            telemetry: {messages: 45, interval: 2s}
            cohorts:
              - {name: c, share: 0.5, sdk: azure-c}
              - {name: dotnet, share: 0.5, sdk: azure-dotnet, retry: {policy: full-jitter, base: 200ms, cap: 20s}}
            faults:
              - {at: 10s, kind: expire-tokens}
              - {at: 13s, kind: blackhole, for: 12s}
              - {at: 13s, kind: flap, for: 3s, period: 2s, down: 500ms}
            """,
            ["simulation.rtt=200us"]
        )
        let (_, report) = SimTest.simulate(scenario)
        let storm = try #require(report.storms.first { $0.fault.hasPrefix("blackhole") })
        #expect(storm.affected == 1200)
        #expect(storm.recovered == 1200, "recovered \(storm.recovered)")
        #expect(storm.t50Ns > 11_000_000_000 && storm.t50Ns < 14_000_000_000, "t50 \(storm.t50Ns) ns")
    }
}
