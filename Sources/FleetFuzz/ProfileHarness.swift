import FleetCore
import FleetReport
import FleetService

/// A profile from outside: loaded and validated like `fleetstorm validate` does; a valid one of a small fleet is then
/// simulated for at most a minute of virtual time and its report rendered, so a value that passes validation but
/// traps later (a conversion on the first pump, a report figure) is found too.
enum ProfileHarness {
    /// Larger fleets or message counts are validated only: the fuzzer's time goes to inputs, not to simulations.
    static let maxSimulatedDevices = 20
    static let maxSimulatedMessages = 200

    static func run(_ input: [UInt8]) -> String? {
        let text = String(decoding: input, as: UTF8.self)
        guard var scenario = try? ScenarioLoader().load(yaml: text, source: "fuzz.yaml") else { return nil }
        _ = scenario.redactedYAML
        guard scenario.fleet.devices <= maxSimulatedDevices,
            scenario.fleet.devices * scenario.telemetry.messages <= maxSimulatedMessages
        else { return nil }
        scenario.duration = min(scenario.duration, .seconds(60))
        let outcome = SimulateService(scenario: scenario, profile: "fuzz.yaml", overrides: []).run()
        _ = TextSummary.render(outcome.report)
        return nil
    }
}
