import ArgumentParser
import FleetReport
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs side by side: storm shape, recovery, latency p99s and accounting, with changes.",
        discussion: """
            Examples:
              fleetstorm run profiles/hub-drop-storm.yaml --set retry.policy=full-jitter --output jitter.pb
              fleetstorm run profiles/hub-drop-storm.yaml --set retry.policy=exponential --output nojitter.pb
              fleetstorm compare jitter.pb nojitter.pb
              fleetstorm compare jitter.pb nojitter.pb --format html --output compare.html
            Changes are relative to the first report. --storm picks the fault (0 = the first) when a run has several.
            The HTML page is one self-contained file: each run in one colour, attempts and connected devices aligned at
            the storm's start, latency by percentile, retry delays beside each policy's prediction, and the table.
            """
    )

    @Argument(help: "Two or more reports written by `fleetstorm run`.")
    var files: [String]

    @Option(help: "Which fault's storm to compare (0-based; runs without faults use the whole run).")
    var storm: Int = 0

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, html }

    @Option(help: "text (a table) or html (one self-contained page with charts and the table).")
    var format: Format = .text

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    func run() throws {
        guard files.count >= 2 else { fail("compare needs at least two reports, e.g. fleetstorm compare a.pb b.pb") }
        guard storm >= 0 else { fail("--storm \(storm): expected 0 or more") }
        var reports: [Fleetstorm_Report_V1_Report] = []
        for f in files {
            do { reports.append(try ReportFile.read(f)) } catch { fail(error.description) }
            if reports.last?.hasTune == true {
                fail("\(f) is a tune report: it compares its settings itself (fleetstorm report \(f)); compare runs")
            }
            if let warning = ReportFile.compatibilityWarning(reports[reports.count - 1]) { printErr(warning) }
        }
        let names = files.map { URL(fileURLWithPath: $0).lastPathComponent }
        let text =
            switch format {
            case .text: Comparison.render(reports, names: names, stormIndex: storm) + "\n"
            case .html: ComparePage.render(reports, names: names, stormIndex: storm)
            }
        writeOutput(text, to: output)
    }
}
