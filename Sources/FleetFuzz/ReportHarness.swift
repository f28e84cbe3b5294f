import FleetReport
import Foundation
import SwiftProtobuf

/// A report file from outside: everything `report`, `compare` and `merge` do with one, on the same input twice.
enum ReportHarness {
    static func run(_ input: [UInt8]) -> String? {
        guard let report = try? ReportFile.decode(Data(input), path: "fuzz.pb") else { return nil }
        _ = TextSummary.render(report)
        _ = HTMLReport.render(report)
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        _ = try? report.jsonString(options: options)
        guard !report.hasTune else { return nil }
        _ = Comparison.render([report, report], names: ["a.pb", "b.pb"])
        _ = ComparePage.render([report, report], names: ["a.pb", "b.pb"])
        guard let merged = try? ReportMerge.merge([("a.pb", report), ("b.pb", report)]) else { return nil }
        _ = TextSummary.render(merged)
        _ = HTMLReport.render(merged)
        guard let bytes = try? merged.serializedBytes() as [UInt8] else { return "a merged report does not encode" }
        do { _ = try ReportFile.decode(Data(bytes), path: "merged.pb") } catch {
            return "a merged report does not read back: \(error)"
        }
        return nil
    }
}
