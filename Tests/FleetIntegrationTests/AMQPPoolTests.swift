import FleetCore
import FleetEngine
import FleetHub
import FleetService
import Testing

extension IntegrationTests {
    /// Pooled AMQP connections against the embedded hub (reference §11.1: the .NET SDK carries up to 995 devices on
    /// one connection).
    @Suite("AMQP pooled connections")
    struct AMQPPoolTests {
        @Test(
            "2,000 devices at 995 per connection ride 3 connections; a drop takes every device down, 3 new connections bring all 2,000 back, each counted once"
        )
        func pooledDrop() async throws {
            let scenario = try ScenarioLoader().load(
                yaml: """
                    seed: 995
                    duration: 90s
                    hub: {url: embedded, amqp: true}
                    auth: {mode: sas, hub_host: myhub.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
                    fleet: {devices: 2000, ramp_rate: 0, max_in_flight: 2000}
                    telemetry: {messages: 16, interval: 500ms, qos: 1}
                    sdk: azure-dotnet
                    amqp: {devices_per_connection: 995}
                    retry: {policy: fixed, base: 200ms}
                    faults: [{at: 5s, kind: drop}]
                    """,
                source: "amqp-pool"
            )
            let outcome = try await RunService(scenario: scenario, profile: "amqp-pool", overrides: []).run()
            let c = outcome.result.snapshot.counters
            let hub = try #require(outcome.result.hub)
            #expect(c.outcomes == ["completed": 2000])
            #expect(c.generated == 32_000)
            #expect(c.acked == 32_000)
            // Network connections, counted by the hub's AMQP front: 3 before the drop, 3 after (2,000 / 995 → 3).
            #expect(hub.amqpConnections == 6, "AMQP connections opened: \(hub.amqpConnections)")
            // Devices, counted apart by the devices and by the hub's sessions: each in once, and once more after the
            // drop.
            #expect(c.reconnects == 2000)
            #expect(c.connected == 4000)
            #expect(hub.connectionsAccepted == 4000)
            let storm = try #require(outcome.report.storms.first { $0.fault != "run" })
            #expect(storm.affected == 2000, "every device once: \(storm.affected)")
            #expect(storm.losses == 2000, "one loss per device: \(storm.losses)")
            #expect(storm.recovered == 2000)
            #expect(hub.protocolErrors == 0)
        }

        @Test(
            "a drop that chooses one pooled device closes its whole connection: the 500 devices on it fall and return, the other 500 stay (as FleetSim models it)"
        )
        func oneDeviceTakesItsConnection() async throws {
            let scenario = try ScenarioLoader().load(
                yaml: """
                    seed: 31
                    duration: 60s
                    hub: {url: embedded, amqp: true}
                    auth: {mode: sas, hub_host: myhub.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
                    fleet: {devices: 1000, ramp_rate: 0, max_in_flight: 1000}
                    telemetry: {messages: 10, interval: 500ms, qos: 1}
                    sdk: azure-dotnet
                    amqp: {devices_per_connection: 995, pool_size: 2}
                    retry: {policy: fixed, base: 200ms}
                    faults: [{at: 3s, kind: drop, devices: "device-00007"}]
                    """,
                source: "amqp-pool-one"
            )
            let outcome = try await RunService(scenario: scenario, profile: "amqp-pool-one", overrides: []).run()
            let c = outcome.result.snapshot.counters
            let hub = try #require(outcome.result.hub)
            #expect(c.acked == 10_000)
            #expect(hub.amqpConnections == 3, "2 connections, then the dropped one again: \(hub.amqpConnections)")
            #expect(c.reconnects == 500)
            let storm = try #require(outcome.report.storms.first { $0.fault != "run" })
            #expect(storm.affected == 500, "the chosen device's connection carried 500: \(storm.affected)")
            #expect(storm.recovered == 500)
        }
    }
}
