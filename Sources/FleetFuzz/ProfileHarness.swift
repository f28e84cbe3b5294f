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
        if let problem = readsBack(scenario) { return problem }
        guard scenario.fleet.devices <= maxSimulatedDevices,
            scenario.fleet.devices * scenario.telemetry.messages <= maxSimulatedMessages
        else { return nil }
        scenario.duration = min(scenario.duration, .seconds(60))
        let outcome = SimulateService(scenario: scenario, profile: "fuzz.yaml", overrides: []).run()
        _ = TextSummary.render(outcome.report)
        return nil
    }

    /// The report's effective profile of a valid profile is a profile that reads back to the same scenario (its
    /// group key put back; a registry's keys are not in it, so such a profile is not checked).
    static func readsBack(_ scenario: Scenario) -> String? {
        var text = scenario.redactedYAML
        switch scenario.auth?.keys {
        case .registry?: return nil
        case .groupKey(let key)?:
            text = text.replacingOccurrences(of: "group_key: \"(redacted)\"", with: "group_key: \(key)")
        default: break
        }
        let again: Scenario
        do {
            again = try ScenarioLoader().load(yaml: text, source: "fuzz.yaml")
        } catch {
            return "the effective profile does not read back: \(error)"
        }
        return again == scenario ? nil : "the effective profile reads back as another scenario"
    }
}
