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
            if code == .success {
                widenHelpToExamples()
                exit(withError: error)
            }
            let first = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let message = first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
            printErr("error: \(message) (see fleetstorm --help)")
            Foundation.exit(code.rawValue)
        }
    }

    /// Help is wrapped to the terminal's width (80 columns when output is not a terminal), and an example wrapped
    /// in the middle breaks when pasted: the width is at least the longest line of any command's examples.
    static func widenHelpToExamples() {
        func discussions(_ command: any ParsableCommand.Type) -> [String] {
            [command.configuration.discussion] + command.configuration.subcommands.flatMap(discussions)
        }
        let widest = discussions(FleetStorm.self).flatMap { $0.split(separator: "\n") }.map(\.count).max() ?? 0
        var size = winsize()
        let terminal = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
        let current = ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) } ?? terminal
        if widest + 1 > current { setenv("COLUMNS", String(widest + 1), 1) }
    }
}
