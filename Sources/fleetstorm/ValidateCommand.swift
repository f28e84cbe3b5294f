import ArgumentParser
import FleetCore

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check fleet profiles without running them.",
        discussion: """
            Examples:
              fleetstorm validate profiles/*.yaml
              fleetstorm validate --key-table
            --key-table prints the profile schema's key tables (every key's default and meaning; the reader takes
            each key's type and range from the same schema): the tables of profiles/README.md, which a test keeps
            equal to it.
            """
    )

    @Argument(help: "Profiles to check.")
    var profiles: [String] = []

    @Flag(help: "Print the profile key table and the netlab link table (Markdown), as profiles/README.md shows them.")
    var keyTable = false

    @Option(name: .customLong("set"), help: "Override a profile value: key.path=value (repeatable).")
    var overrides: [String] = []

    func validate() throws {
        guard keyTable || !profiles.isEmpty else {
            throw ValidationError("name the profiles to check, e.g. fleetstorm validate profiles/*.yaml")
        }
    }

    func run() throws {
        if keyTable {
            print(ProfileSchema.markdown(.profile))
            print(ProfileSchema.markdown(.link), terminator: "")
        }
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
