import ArgumentParser
import FleetCore

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check fleet profiles without running them.",
        discussion: """
            Example:
              fleetstorm validate profiles/*.yaml
            """
    )

    @Argument(help: "Profiles to check.")
    var profiles: [String]

    @Option(name: .customLong("set"), help: "Override a profile value: key.path=value (repeatable).")
    var overrides: [String] = []

    func run() throws {
        for path in profiles {
            do {
                let s = try ScenarioLoader.files.load(path: path, overrides: overrides)
                print("\(path): ok (\(s.name): \(s.fleet.devices) devices, \(s.telemetry.messages) messages each)")
            } catch {
                fail(error.description)
            }
        }
    }
}
