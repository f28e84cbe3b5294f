import FleetCore
import FleetEngine
import FleetService
import Testing

extension IntegrationTests {
    /// Cohorts on MQTT and on AMQP in one run: the embedded hub serves both on one port, telling them apart by each
    /// connection's first byte.
    @Suite("MQTT and AMQP cohorts in one run")
    struct MixedTransportTests {
        @Test(
            "100 MQTT devices and 100 AMQP devices pooled 50 per connection: all in, every message acked, 2 AMQP connections"
        )
        func mixedCohorts() async throws {
            let scenario = try ScenarioLoader().load(
                yaml: """
                    seed: 7
                    duration: 60s
                    hub: {url: embedded}
                    auth: {mode: sas, hub_host: myhub.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
                    fleet: {devices: 200, ramp_rate: 0, max_in_flight: 200}
                    telemetry: {messages: 5, interval: 100ms, qos: 1}
                    cohorts:
                      - {name: mqtt, devices: 100, sdk: azure-python}
                      - {name: amqp, devices: 100, sdk: azure-dotnet, transport: amqp, amqp: {devices_per_connection: 50}}
                    """,
                source: "mixed"
            )
            #expect(scenario.mixesTransports)
            let outcome = try await RunService(scenario: scenario, profile: "mixed", overrides: []).run()
            let c = outcome.result.snapshot.counters
            let hub = try #require(outcome.result.hub)
            #expect(c.outcomes == ["completed": 200])
            #expect(c.acked == 1000)
            #expect(hub.connectionsAccepted == 200)
            #expect(hub.amqpConnections == 2)
            #expect(hub.messagesReceived == 1000)
            #expect(hub.protocolErrors == 0)
        }

        @Test("a cohort's transport: named values only, another than the hub's only with the embedded hub")
        func transportKey() throws {
            let cases: [(String, String)] = [
                (
                    "hub: {url: embedded}\ncohorts: [{name: a, devices: 10, transport: carrier-pigeon}]",
                    "cohorts[0].transport"
                ),
                (
                    "hub: {url: \"mqtt://127.0.0.1:1883\"}\ncohorts: [{name: a, devices: 10, transport: amqp}]",
                    "cohorts[0].transport"
                ),
                (
                    "hub: {url: embedded, websocket: true}\ncohorts: [{name: a, devices: 10, transport: amqp}]",
                    "cohorts[0].transport"
                ),
                (
                    "hub: {url: embedded}\ncohorts: [{name: a, devices: 10, amqp: {devices_per_connection: 5}}]",
                    "cohorts[0].amqp.devices_per_connection"
                ),
            ]
            for (yaml, key) in cases {
                do {
                    _ = try ScenarioLoader().load(yaml: "fleet: {devices: 10}\n" + yaml, source: "t")
                    Issue.record("loaded: \(yaml)")
                } catch {
                    #expect(error.key == key, "\(yaml): \(error)")
                }
            }
        }
    }
}
