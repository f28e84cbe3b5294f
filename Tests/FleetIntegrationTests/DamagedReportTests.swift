import FleetReport
import Foundation
import Testing

extension IntegrationTests {
    /// A damaged or crafted report is one error line naming the file and what is wrong, exit code 1, never a signal;
    /// a merge with an unreadable input writes nothing.
    @Suite("Damaged reports")
    struct DamagedReportTests {
        /// A shard report with one field set to a value no run writes.
        static func damaged(_ name: String, _ change: (inout Fleetstorm_Report_V1_Report) -> Void) throws -> String {
            let (good, _) = try MergeTests.shards.get()
            var report = try ReportFile.read(good)
            change(&report)
            let path = CLITests.temp("damaged-\(name).pb")
            try ReportFile.write(report, to: path)
            return path
        }

        static let cases: [(String, @Sendable (inout Fleetstorm_Report_V1_Report) -> Void, String)] = [
            ("duration", { $0.run.durationNs = .max }, "beyond any real run"),
            ("start", { $0.run.startedUnixNs = .min }, "beyond any real run"),
            ("series", { $0.series.series[0].values[0] = .max }, "beyond any real run"),
            ("nan-rate", { $0.storms[0].peakAttemptRate = .nan }, "not a number a run writes"),
            ("bin", { $0.series.binNs = 1 }, "bins are 1 ms to 1 h"),
            (
                "histogram", { $0.histograms[0].hdrV2 = Data([0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 4, 1, 2, 3, 4]) },
                "histogram"
            ),
        ]

        @Test(arguments: 0..<cases.count)
        func reportAndMergeRefuseItInOneLine(index: Int) throws {
            let (name, change, words) = Self.cases[index]
            let path = try Self.damaged(name, change)
            defer { try? FileManager.default.removeItem(atPath: path) }
            for format in ["text", "json", "html"] {
                let r = try CLITests.run(["report", path, "--format", format])
                #expect(r.status == 1, "\(name) \(format): \(r.stderr)")
                let lines = r.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains(path) && lines[0].contains(words), "\(r.stderr)")
            }
            let (good, _) = try MergeTests.shards.get()
            let merged = CLITests.temp("damaged-merge-\(name).pb")
            let m = try CLITests.run(["merge", good, path, "--output", merged])
            #expect(m.status == 1 && m.stderr.contains(path), "\(m.stderr)")
            #expect(!FileManager.default.fileExists(atPath: merged), "a merge with an unreadable input wrote a report")
        }
    }
}
