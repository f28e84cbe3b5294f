import ArgumentParser
import FleetReport
import Foundation

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge shard reports losslessly into one (histograms added, series aligned, storms recomputed).",
        discussion: """
            Example (two processes, each with half the fleet, against one standalone hub):
              fleetstorm run profiles/hub-drop-storm.yaml --hub mqtt://127.0.0.1:1883 --fault-proxy --set fleet.id_prefix=a- --output a.pb
              fleetstorm run profiles/hub-drop-storm.yaml --hub mqtt://127.0.0.1:1883 --fault-proxy --set fleet.id_prefix=b- --output b.pb
              fleetstorm merge a.pb b.pb --output fleet.pb
            Series are aligned on each shard's wall-clock start (to the nearest bin); shards need the same --bin.
            """
    )

    @Argument(help: "Two or more reports written by `fleetstorm run` (the shards).")
    var files: [String]

    @Option(help: "Where to write the merged report.")
    var output: String

    func run() throws {
        guard files.count >= 2 else {
            fail("merge needs at least two reports, e.g. fleetstorm merge a.pb b.pb --output all.pb")
        }
        var reports: [(name: String, report: Fleetstorm_Report_V1_Report)] = []
        for f in files {
            do { reports.append((f, try ReportFile.read(f))) } catch { fail(error.description) }
            if let warning = ReportFile.compatibilityWarning(reports[reports.count - 1].report) { printErr(warning) }
        }
        let merged: Fleetstorm_Report_V1_Report
        do { merged = try ReportMerge.merge(reports) } catch { fail(error.description) }
        print(TextSummary.render(merged))
        do { try ReportFile.write(merged, to: output) } catch { fail(error.description) }
        print("report: \(output)")
    }
}
