import ArgumentParser
import FleetReport
import Foundation
import SwiftProtobuf

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print a saved report.",
        discussion: """
            Examples:
              fleetstorm report fleetstorm-report.pb
              fleetstorm report fleetstorm-report.pb --format json
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "A report written by `fleetstorm run` or `fleetstorm hub --output`.")
    var file: String

    @Option(help: "text or json.")
    var format: Format = .text

    func run() throws {
        let report: Fleetstorm_Report_V1_Report
        do { report = try ReportFile.read(file) } catch { fail(error.description) }
        if let warning = ReportFile.compatibilityWarning(report) { printErr(warning) }
        switch format {
        case .text:
            print(TextSummary.render(report))
        case .json:
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            do { print(try report.jsonString(options: options)) } catch {
                fail("\(file): cannot render JSON: \(error)")
            }
        }
    }
}
