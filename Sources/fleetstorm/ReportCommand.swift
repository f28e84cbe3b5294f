import ArgumentParser
import FleetReport
import Foundation
import SwiftProtobuf

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print a saved report.",
        discussion: """
            Examples (the run writes fleetstorm-report.pb):
              fleetstorm run profiles/quickstart.yaml
              fleetstorm report fleetstorm-report.pb
              fleetstorm report fleetstorm-report.pb --format json
              fleetstorm report fleetstorm-report.pb --format html --output report.html
            The HTML report is one self-contained file (inline SVG charts, no scripts, nothing fetched).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, html }

    @Argument(help: "A report written by `fleetstorm run` or `fleetstorm hub --output`.")
    var file: String

    @Option(help: "text, json (protobuf JSON: zero values left out) or html (one self-contained page with charts).")
    var format: Format = .text

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    func run() throws {
        let report: Fleetstorm_Report_V1_Report
        do { report = try ReportFile.read(file) } catch { fail(error.description) }
        if let warning = ReportFile.compatibilityWarning(report) { printErr(warning) }
        let text: String
        switch format {
        case .text:
            text = TextSummary.render(report) + "\n"
        case .json:
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            do { text = try report.jsonString(options: options) + "\n" } catch {
                fail("\(file): cannot render JSON: \(error)")
            }
        case .html:
            text = HTMLReport.render(report)
        }
        writeOutput(text, to: output)
    }
}
