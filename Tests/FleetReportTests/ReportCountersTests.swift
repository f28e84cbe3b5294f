import FleetCore
import FleetMetrics
import Foundation
import SwiftProtobuf
import Testing

@testable import FleetReport

/// The report's counter sections and the run's counters (`FleetCounters`, `HubStats`) are one algebra: a merge reads
/// each report back into them, adds with their own `add`, and writes with the builder's writers. Every field of the
/// sections, as `report.proto` lists them, must survive the way back and forth (a field added to the proto but not to
/// the mapping fails here), and a merge must equal the field-by-field sums, computed here from the reports' JSON
/// without any of the mapping code.
@Suite("Report counters: one merge algebra")
struct ReportCountersTests {
    static let proto: String = {
        let url = ProtoFreshnessTests.repo.appendingPathComponent(
            "Sources/FleetReport/Proto/fleetstorm/report/v1/report.proto"
        )
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// A message's fields from the .proto: (name, type), e.g. ("failed_by_reason", "map<string, uint64>").
    static func fields(of message: String) -> [(name: String, type: String)] {
        guard let start = proto.range(of: "\nmessage \(message) {") else { return [] }
        let body = proto[start.upperBound...].prefix { $0 != "}" }
        return body.split(separator: "\n").compactMap { line in
            let code = line.split(separator: "//").first.map(String.init) ?? ""
            guard code.contains("="), code.hasSuffix(";") else { return nil }
            let left = code.split(separator: "=")[0].trimmingCharacters(in: .whitespaces)
            guard let space = left.lastIndex(of: " ") else { return nil }
            return (String(left[left.index(after: space)...]), String(left[..<space]))
        }
    }

    /// Every field of `message` set to a value drawn from `rng` (map keys small enough for CONNACK codes and
    /// statuses), as a JSON object.
    static func filled(_ message: String, _ rng: inout SplitMix64) -> [String: Any] {
        var json: [String: Any] = [:]
        for (name, type) in fields(of: message) {
            let n = UInt64.random(in: 1...1_000_000, using: &rng)
            switch type {
            case "uint64": json[name] = String(n)
            case "int64": json[name] = "0"
            case "map<string, uint64>": json[name] = ["k\(n % 5)": String(n), "other": "1"]
            case "map<uint32, uint64>": json[name] = [String(n % 250 + 1): String(n), "5": "2"]
            default: Issue.record("\(message).\(name): a field of type \(type) this test cannot fill")
            }
        }
        return json
    }

    static func decode<M: SwiftProtobuf.Message>(_ json: [String: Any], as: M.Type) throws -> M {
        let data = try JSONSerialization.data(withJSONObject: json)
        return try M(jsonUTF8Data: data)
    }

    /// Accounting whose `failed` and `imbalance` follow from its other counts, as every run writes them.
    static func accounting(_ rng: inout SplitMix64) throws -> Fleetstorm_Report_V1_Accounting {
        var a = try decode(filled("Accounting", &rng), as: Fleetstorm_Report_V1_Accounting.self)
        a.failed = a.failedByReason.values.reduce(0, +)
        a.imbalance = Int64(a.generated) - Int64(a.acked + a.sent + a.failed + a.pending)
        return a
    }

    static func twin(_ rng: inout SplitMix64) throws -> Fleetstorm_Report_V1_TwinOperations {
        try decode(filled("TwinOperations", &rng), as: Fleetstorm_Report_V1_TwinOperations.self)
    }

    static func connections(_ rng: inout SplitMix64) throws -> Fleetstorm_Report_V1_Connections {
        try decode(filled("Connections", &rng), as: Fleetstorm_Report_V1_Connections.self)
    }

    @Test("every field of accounting, connections, twin and hub survives report → counters → report")
    func everyFieldRoundTrips() throws {
        var rng = SplitMix64(seed: 51)
        for message in ["Accounting", "Connections", "TwinOperations", "HubStats"] {
            #expect(Self.fields(of: message).count >= 7, "\(message) read from report.proto")
        }
        for _ in 0..<20 {
            let a = try Self.accounting(&rng)
            var n = try Self.connections(&rng)
            let t = try Self.twin(&rng)
            let c = try ReportMerge.counters(
                accounting: a,
                connections: n,
                outcomes: ["done": 3],
                statuses: [],
                transitions: [],
                twin: t,
                what: "r"
            )
            let back = ReportBuilder.sections(c)
            #expect(back.accounting == a)
            n.malformedPackets = 0  // a run fact, summed by the merge on its own
            #expect(back.connections == n)
            #expect(back.twin == t)
            #expect(back.outcomes == ["done": 3])
            let h = try Self.decode(Self.filled("HubStats", &rng), as: Fleetstorm_Report_V1_HubStats.self)
            #expect(ReportBuilder.hubSection(ReportMerge.hubStats(h)) == h)
        }
    }

    @Test("what no run writes is refused with the field named, never rewritten")
    func damagedSectionsAreRefused() throws {
        var rng = SplitMix64(seed: 52)
        let good = try Self.accounting(&rng)
        var unbalanced = good
        unbalanced.imbalance += 1
        var failed = good
        failed.failed += 1
        var code = try Self.connections(&rng)
        code.refusedByCode[300] = 1
        var status = try Self.twin(&rng)
        status.answersByStatus[70_000] = 1
        for (a, n, t, field) in [
            (unbalanced, Fleetstorm_Report_V1_Connections(), nil, "accounting.imbalance"),
            (failed, Fleetstorm_Report_V1_Connections(), nil, "accounting.failed"),
            (good, code, nil, "connections.refused_by_code 300"),
            (good, Fleetstorm_Report_V1_Connections(), status, "twin.answers_by_status 70000"),
        ]
            as [(
                Fleetstorm_Report_V1_Accounting, Fleetstorm_Report_V1_Connections, Fleetstorm_Report_V1_TwinOperations?,
                String
            )]
        {
            #expect {
                _ = try ReportMerge.counters(
                    accounting: a,
                    connections: n,
                    outcomes: [:],
                    statuses: [],
                    transitions: [],
                    twin: t,
                    what: "s.pb"
                )
            } throws: { error in
                "\(error)".contains(field) && "\(error)".contains("s.pb")
            }
        }
    }

    /// The sums of every numeric leaf of the JSON objects, by path (maps' entries by key).
    static func leafSums(_ objects: [[String: Any]], into sums: inout [String: Double], prefix: String = "") {
        for object in objects {
            for (key, value) in object {
                let path = prefix + key
                if let nested = value as? [String: Any] {
                    leafSums([nested], into: &sums, prefix: path + ".")
                } else if let text = value as? String, let number = Double(text) {
                    sums[path, default: 0] += number
                } else if let number = value as? NSNumber {
                    sums[path, default: 0] += number.doubleValue
                }
            }
        }
    }

    static func json<M: SwiftProtobuf.Message>(_ m: M) throws -> [String: Any] {
        let data = try m.jsonUTF8Data()
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    @Test("a merge's counter sections, totals, cohorts and hub, equal the field-by-field sums of its reports")
    func mergeEqualsFieldSums() throws {
        var rng = SplitMix64(seed: 53)
        var reports: [(name: String, report: Fleetstorm_Report_V1_Report)] = []
        for i in 0..<3 {
            var r = Fleetstorm_Report_V1_Report()
            r.run.kind = "run"
            r.run.startedUnixNs = 1_700_000_000_000_000_000
            r.run.durationNs = 5_000_000_000
            r.accounting = try Self.accounting(&rng)
            r.connections = try Self.connections(&rng)
            r.twin = try Self.twin(&rng)
            r.hub = try Self.decode(Self.filled("HubStats", &rng), as: Fleetstorm_Report_V1_HubStats.self)
            r.outcomes = ["done": UInt64(i + 1), "gave_up_\(i)": 1]
            var cohort = Fleetstorm_Report_V1_Cohort()
            cohort.name = "dotnet"
            cohort.devices = 10
            cohort.accounting = try Self.accounting(&rng)
            cohort.connections = try Self.connections(&rng)
            cohort.connections.malformedPackets = 0
            cohort.twin = try Self.twin(&rng)
            r.cohorts = [cohort]
            reports.append(("r\(i).pb", r))
        }
        let merged = try ReportMerge.merge(reports)
        func expectSums(_ section: (Fleetstorm_Report_V1_Report) throws -> [String: Any], _ what: String) throws {
            var want: [String: Double] = [:]
            Self.leafSums(try reports.map { try section($0.report) }, into: &want)
            var got: [String: Double] = [:]
            Self.leafSums([try section(merged)], into: &got)
            #expect(got == want, "\(what)")
        }
        try expectSums({ try Self.json($0.accounting) }, "accounting")
        try expectSums({ try Self.json($0.connections) }, "connections")
        try expectSums({ try Self.json($0.twin) }, "twin")
        try expectSums({ try Self.json($0.hub) }, "hub")
        try expectSums({ try Self.json($0.cohorts[0].accounting) }, "cohort accounting")
        try expectSums({ try Self.json($0.cohorts[0].connections) }, "cohort connections")
        try expectSums({ try Self.json($0.cohorts[0].twin) }, "cohort twin")
        #expect(merged.outcomes == ["done": 6, "gave_up_0": 1, "gave_up_1": 1, "gave_up_2": 1])
        #expect(merged.cohorts.map(\.devices) == [30])
    }
}
