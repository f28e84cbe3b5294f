import FleetCore
import FleetReport
import FleetService
import Foundation
import Testing

extension IntegrationTests {
    /// Devices' twin operations over real sockets against the embedded hub on S3 (twin reads 500/s, updates 250/s;
    /// reference §5.1) with a short burst: 1,000 devices reporting every second are 1,000 PATCHes/s against 250/s,
    /// and the drop at 9 s sends 1,000 GETs at once against 500/s. The same profile and seed in FleetSim agree on
    /// what the throttles decided (a load the throttles dominate, so a debug build's slower loop changes little).
    @Suite("Twin operations: a fleet against the hub's twin throttles", .serialized)
    struct TwinRunTests {
        static let profile = """
            name: twin-storm
            seed: 4
            duration: 20s
            sdk: azure-dotnet
            hub: {url: embedded, tier: S3, burst_seconds: 0.2, max_shaping_delay: 1s}
            fleet: {devices: 1000, ramp_rate: 500}
            telemetry: {messages: 2, interval: 5s, stay_connected: true}
            twin: {get_on_connect: true, report_interval: 1s, timeout: 10s}
            faults:
              - {at: 9s, kind: drop}
            """

        /// The same overload over AMQP (reference §11.2, the twin sender and receiver on `/devices/{id}/twin`) at a
        /// fifth of the scale: S1 (twin reads 100/s, updates 50/s) and 200 devices, so updates are 4× the throttle as
        /// above; half .NET devices pooled 20 to a connection, half C devices with a connection each. At 1,000 devices
        /// on S3 a debug build spent 24 s of CPU in the 20 s run (MQTT: 9 s; `perf`: a third of it in the AMQP codec) and its
        /// device loop fell behind (GENERATOR LIMITED), so on CI's busy machine the real run offered fewer retries:
        /// 3,806 answered 429 against FleetSim's 5,117 (2026-12-07). Measured 2026-12-07 (debug, idle and beside two
        /// busy loops): real 905–1,075 answered 429, 2,306–2,506 requests; FleetSim 992 and 2,450.
        static let amqpProfile = """
            name: twin-storm-amqp
            seed: 4
            duration: 20s
            sdk: azure-dotnet
            hub: {url: embedded, amqp: true, tier: S1, burst_seconds: 0.2, max_shaping_delay: 1s}
            auth: {mode: sas, hub_host: fleetstorm.local, group_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
            fleet: {devices: 200, ramp_rate: 100}
            telemetry: {messages: 2, interval: 5s, stay_connected: true}
            twin: {get_on_connect: true, report_interval: 1s, timeout: 10s}
            cohorts:
              - {name: pooled, share: 0.5, sdk: azure-dotnet, amqp: {devices_per_connection: 20}}
              - {name: single, share: 0.5, sdk: azure-c}
            faults:
              - {at: 9s, kind: drop}
            """

        /// Each side counts on its own: the devices count the answers they got (and requests left unanswered), the
        /// hub counts what it answered and refused. Every answer the hub wrote reached its device or was still on its
        /// way when the device lost its connection or stopped.
        static func checkBooks(_ r: Fleetstorm_Report_V1_Report, _ what: String) {
            let t = r.twin
            let answers = t.answersByStatus.values.reduce(0, +)
            #expect(t.requests == answers + t.unanswered, "\(what): requests \(t.requests) ≠ answered + unanswered")
            #expect(t.operations == t.completed + t.gaveUp + t.openAtStop, "\(what): operations \(t.operations)")
            let hubAnswered = r.hub.twinGets + r.hub.twinPatches + r.hub.throttledTwinRequests
            #expect(answers <= hubAnswered && hubAnswered <= answers + t.unanswered, "\(what): hub \(hubAnswered)")
            #expect(t.answersByStatus[429, default: 0] > 0, "\(what): 1,000 PATCHes/s into 250/s: \(t)")
            #expect(r.hub.throttledTwinRequests >= t.answersByStatus[429, default: 0])
            #expect(t.answersByStatus[200, default: 0] <= r.hub.twinGets)
            // Some reports give up at their 10 s timeout.
            #expect(t.completed > 0 && t.gaveUp > 0, "\(what): \(t)")
            let histograms = r.histograms.filter { $0.name == "twin_get" || $0.name == "twin_patch" }
            #expect(histograms.map(\.count).reduce(0, +) == t.completed, "one latency per completed operation")
        }

        @Test("a fleet 4× over the twin update throttle, over sockets and in FleetSim", arguments: ["mqtt", "amqp"])
        func twinStormOverSocketsAndInFleetSim(transport: String) async throws {
            let profile = transport == "amqp" ? Self.amqpProfile : Self.profile
            let scenario = try ScenarioLoader().load(yaml: profile, source: "twin-storm")
            let real = try await RunService(scenario: scenario, profile: "twin-storm", overrides: []).run().report
            // FleetSim told loopback's round trip, as scripts/sim-vs-real.sh does.
            let simScenario = try ScenarioLoader().load(
                yaml: profile,
                source: "twin-storm",
                overrides: ["simulation.rtt=200us"]
            )
            let simulated = SimulateService(scenario: simScenario, profile: "twin-storm", overrides: []).run().report
            Self.checkBooks(real, "real \(transport)")
            Self.checkBooks(simulated, "simulated \(transport)")
            #expect(real.hub.twinGets > 0 && real.hub.twinPatches > 0, "the hub served both operations")
            // The two agree on what the throttle decided.
            // The 429 count follows when each retry lands against the shaping queue, which moves with the loop's
            // timing: measured against FleetSim's 2,078, the real runs gave 2,156 (debug), 2,348 and 2,447 (release),
            // so it is held to 25 %; completed operations and requests to the sweep's 15 %.
            for (label, r, s, tolerance) in [
                ("completed", real.twin.completed, simulated.twin.completed, 0.15),
                (
                    "429", real.twin.answersByStatus[429, default: 0], simulated.twin.answersByStatus[429, default: 0],
                    0.25
                ),
                ("requests", real.twin.requests, simulated.twin.requests, 0.15),
            ] {
                let apart = abs(Double(r) - Double(s)) / max(Double(r), Double(s), 20)
                #expect(apart <= tolerance, "\(transport) \(label): real \(r), simulated \(s)")
            }
            #expect(TextSummary.render(real).contains("twin: "), "the text summary says what the twin did")
            // Both headers name the protocol the devices spoke (a simulation's too).
            let header = transport == "amqp" ? "devices, AMQP 1.0," : "devices, MQTT 3.1.1,"
            #expect(TextSummary.render(real).contains(header) && TextSummary.render(simulated).contains(header))
        }
    }
}
