internal import FleetMetrics
public import Foundation
internal import SwiftProtobuf

/// A report file that cannot be read or written. One line for the user.
public struct ReportFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Reading and writing reports as protobuf files.
public enum ReportFile {
    public static func write(_ report: Fleetstorm_Report_V1_Report, to path: String) throws(ReportFileError) {
        let data: Data
        do { data = try report.serializedData() } catch {
            throw ReportFileError(path: path, reason: "cannot encode the report: \(error)")
        }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ReportFileError(path: path, reason: "cannot write (\(error.localizedDescription))")
        }
    }

    public static func read(_ path: String) throws(ReportFileError) -> Fleetstorm_Report_V1_Report {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ReportFileError(path: path, reason: "cannot read the file (does it exist?)")
        }
        return try decode(data, path: path)
    }

    /// Decodes and sanity-checks: a file that parses as protobuf by accident but lacks a run header is refused.
    public static func decode(_ data: Data, path: String) throws(ReportFileError) -> Fleetstorm_Report_V1_Report {
        let report: Fleetstorm_Report_V1_Report
        do { report = try Fleetstorm_Report_V1_Report(serializedBytes: data) } catch {
            throw ReportFileError(path: path, reason: "not a FleetStorm report (protobuf decoding failed: \(error))")
        }
        guard report.hasRun, report.run.schemaVersion >= 1, !report.run.toolVersion.isEmpty else {
            throw ReportFileError(path: path, reason: "not a FleetStorm report (no run header)")
        }
        try validate(report, path: path)
        return report
    }

    /// The plausibility checks every report read passes (and every merge result, before it is written): integers and
    /// numbers a run can write, bins of a run's width, histograms that decode.
    public static func validate(_ report: Fleetstorm_Report_V1_Report, path: String) throws(ReportFileError) {
        if let problem = ReportBounds.check(report) { throw ReportFileError(path: path, reason: problem) }
        if !report.series.series.isEmpty && !(1_000_000...3_600_000_000_000).contains(report.series.binNs) {
            throw ReportFileError(
                path: path,
                reason:
                    "series bin_ns \(report.series.binNs): a run's bins are 1 ms to 1 h (damaged or not FleetStorm's)"
            )
        }
        for h in report.histograms + report.cohorts.flatMap(\.histograms) where !h.hdrV2.isEmpty {
            do { _ = try HdrV2.decode([UInt8](h.hdrV2)) } catch {
                throw ReportFileError(path: path, reason: "histogram \(h.name): \(error)")
            }
        }
    }

    /// A warning when the report was written by a newer schema (its unknown fields are ignored).
    public static func compatibilityWarning(_ report: Fleetstorm_Report_V1_Report) -> String? {
        guard report.run.schemaVersion > ReportBuilder.schemaVersion else { return nil }
        return "warning: report schema \(report.run.schemaVersion) is newer than this tool's "
            + "(\(ReportBuilder.schemaVersion)); fields it does not know are ignored"
    }
}
