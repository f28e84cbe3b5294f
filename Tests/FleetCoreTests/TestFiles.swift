import FleetCore
import Foundation

extension ScenarioLoader {
    /// Tests here read profile files themselves (FleetCore reads none; the engine's `ScenarioLoader.files` is not
    /// visible to these tests).
    static var testFiles: ScenarioLoader {
        ScenarioLoader(readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })
    }
}
