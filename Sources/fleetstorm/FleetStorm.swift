import ArgumentParser
import FleetReport
import Foundation

@main
struct FleetStorm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetstorm",
        abstract: "Rehearse IoT reconnect storms: a simulated device fleet against an emulated IoT hub.",
        discussion: """
            Example (1,000 devices against the embedded test hub, report in fleetstorm-report.pb):
              fleetstorm run profiles/quickstart.yaml
              fleetstorm report fleetstorm-report.pb
            """,
        version: ReportBuilder.toolVersion,
        subcommands: [
            RunCommand.self, SimulateCommand.self, TuneCommand.self, HubCommand.self, ReportCommand.self,
            CompareCommand.self, MergeCommand.self, NetlabCommand.self,
            PolicyCommand.self,
            ValidateCommand.self,
        ]
    )

    /// Like ArgumentParser's entry point, but a usage error is one line on stderr (help and --version unchanged).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let first = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let message = first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
            printErr("error: \(message) (see fleetstorm --help)")
            Foundation.exit(code.rawValue)
        }
    }
}
