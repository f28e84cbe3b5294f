import FleetCore
import FleetReport
import FleetService
import FleetSim
import Foundation
import Testing

extension IntegrationTests {
    /// Trust: the same profile and seed over real sockets against the embedded hub and in FleetSim agree within
    /// 10 % on the storm's peak attempt rate (busiest second), t90 and attempts per device. The test-sized version
    /// of profiles/storm-capacity.yaml (README, "Simulation against reality"): a drop-all, an outage, and a
    /// connect throttle that paces the recovery.
    @Suite("Simulation against reality")
    struct SimVersusRealTests {
        static let profile = """
            name: sim-vs-real
            seed: 8
            duration: 60s
            fleet: {devices: 1000, ramp_rate: 500}
            telemetry: {messages: 4, interval: 5s}
            sdk: azure-dotnet
            faults:
              - {at: 5s, kind: drop}
              - {at: 5s, kind: outage, for: 5s}
              - {at: 5s, kind: throttle, connect_rate: 100, for: 30s}
            """

        static func close(_ a: Double, _ b: Double, _ what: String) {
            let relative = abs(a - b) / max(abs(a), abs(b), 1e-9)
            #expect(relative <= 0.10, "\(what): real \(a), simulated \(b) (\(Int(relative * 100)) % apart)")
        }

        /// Over AMQP too (CBS with SAS tokens): FleetSim adds the handshake's round trips; the storm's shape is the
        /// hub's and the retry policy's, as over MQTT.
        static let amqp = """

            hub: {url: embedded, amqp: true}
            auth: {mode: sas, hub_host: myhub.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
            """

        /// Pooled (reference §11.1): 995 devices per connection, so the fleet rides 2 connections; the drop takes
        /// each connection's devices at once and reconnecting devices share a connection's handshake.
        static let pooled =
            Self.amqp + """

                amqp: {devices_per_connection: 995}
                """

        /// Over AMQP the pooled case only: it runs the same handshakes as an unpooled device (CBS, attach) plus the
        /// shared connection's, and an unpooled case costs CI another half minute while `AMQPHandshakeTests` already
        /// counts the unpooled handshake's round trips on the two bridges in lock step.
        @Test(arguments: ["mqtt", "amqp-pooled"])
        func simulatedStormAgreesWithTheRealOne(transport: String) async throws {
            let yaml =
                Self.profile + (transport == "amqp-pooled" ? Self.pooled : "")
            let scenario = try ScenarioLoader().load(yaml: yaml, source: "sim-vs-real")
            #expect(scenario.hub.amqp == (transport != "mqtt"))
            let real = try await RunService(scenario: scenario, profile: "sim-vs-real", overrides: []).run().report
            let simulated = SimulateService(scenario: scenario, profile: "sim-vs-real", overrides: []).run().report
            let (r, s) = (try #require(TuneRanking.mainStorm(real)), try #require(TuneRanking.mainStorm(simulated)))
            #expect(r.affected == 1000 && s.affected == 1000)
            Self.close(r.peakAttemptRate1S, s.peakAttemptRate1S, "peak attempt rate (1 s)")
            Self.close(Double(r.t90Ns), Double(s.t90Ns), "t90")
            Self.close(r.attemptsPerDevice, s.attemptsPerDevice, "attempts per device")
            // Both sides of each run count the same: the real hub and the simulated one.
            #expect(real.accounting.acked == 4000 && simulated.accounting.acked == 4000)
            #expect(simulated.run.kind == "simulation" && real.run.kind == "run")
        }
    }
}
