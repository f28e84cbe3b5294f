import FleetCore
import FleetMetrics
import FleetReport
import FleetService
import FleetSim
import Foundation

/// Helpers shared by the FleetSim tests: profiles by path or inline YAML, and a simulation's report.
enum SimTest {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let loader = ScenarioLoader(readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })

    static func profile(_ name: String, _ overrides: [String] = []) throws -> Scenario {
        try loader.load(path: root.appendingPathComponent("profiles/\(name)").path, overrides: overrides)
    }

    static func yaml(_ text: String, _ overrides: [String] = []) throws -> Scenario {
        try loader.load(yaml: text, source: "test.yaml", overrides: overrides)
    }

    static func simulate(_ scenario: Scenario) -> (SimulationResult, Fleetstorm_Report_V1_Report) {
        let outcome = SimulateService(scenario: scenario, profile: "test.yaml", overrides: []).run()
        return (outcome.result, outcome.report)
    }

    /// The report's storm record for the first fault group.
    static func storm(_ r: Fleetstorm_Report_V1_Report) -> Fleetstorm_Report_V1_Storm {
        r.storms.first { $0.fault != "run" } ?? r.storms[0]
    }
}
