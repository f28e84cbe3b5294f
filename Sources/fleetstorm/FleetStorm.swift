import ArgumentParser
import FleetReport

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
        subcommands: [RunCommand.self, HubCommand.self, ReportCommand.self, ValidateCommand.self]
    )
}
