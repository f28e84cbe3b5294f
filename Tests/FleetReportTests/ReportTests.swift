import FleetMetrics
import Foundation
import Testing

@testable import FleetReport

@Suite("Reports")
struct ReportTests {
    static func sampleSnapshot() -> Snapshot {
        var s = Snapshot()
        for v in 1...1000 {
            LatencyLayout.record(Int64(v) * 1_000_000, in: &s.histograms[Snapshot.connect]!)
            LatencyLayout.record(Int64(v) * 10_000, in: &s.histograms[Snapshot.publishAck]!)
        }
        s.counters.connectAttempts = 1000
        s.counters.connected = 998
        s.counters.refusedByCode = [5: 2]
        s.counters.generated = 10_000
        s.counters.acked = 9_990
        s.counters.failedByReason = ["connection_lost": 4]
        s.counters.pending = 6
        s.counters.outcomes = ["completed": 998, "refused": 2]
        return s
    }

    static let facts = RunFacts(
        profileName: "t",
        seed: 7,
        devices: 1000,
        startedUnixNanoseconds: 1_700_000_000_000_000_000,
        durationNanoseconds: 12_000_000_000,
        target: "mqtt://127.0.0.1:1",
        mqttVersion: "3.1.1"
    )

    @Test func buildAndRoundTrip() throws {
        var hub = HubStats()
        hub.connectionsAccepted = 998
        hub.messagesReceived = 9_996
        hub.messagesByDevice = ["a": 1, "b": 2]
        let report = ReportBuilder.build(facts: Self.facts, snapshot: Self.sampleSnapshot(), hub: hub)
        #expect(report.accounting.pending == 6)
        #expect(report.accounting.imbalance == 0)
        let connect = try #require(report.histograms.first { $0.name == "connect" })
        #expect(connect.count == 1000 && connect.unit == "ns")
        #expect(abs(Double(connect.p50) - 500e6) / 500e6 < 0.002)
        #expect(abs(Double(connect.p99) - 990e6) / 990e6 < 0.002)
        #expect(report.hub.devicesSeen == 2)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("r-\(getpid()).pb").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ReportFile.write(report, to: path)
        let back = try ReportFile.read(path)
        #expect(back == report)
        let text = TextSummary.render(back)
        #expect(text.contains("publish_ack"))
        #expect(text.contains("10000 generated, 9990 acked, 4 failed, 6 pending"))
        #expect(text.contains("2 refused (code 5: 2)"))
        #expect(!text.contains("ACCOUNTING MISMATCH"))
    }

    /// The books are checked from independent counts: pending is what the devices still held, not a difference.
    /// One message lost from the bookkeeping (counted generated, never acked, failed or held) must show.
    @Test func aLostMessageFailsTheAccountingCheck() {
        var snapshot = Self.sampleSnapshot()
        snapshot.counters.pending = 5
        let report = ReportBuilder.build(facts: Self.facts, snapshot: snapshot, hub: nil)
        #expect(report.accounting.imbalance == 1)
        let text = TextSummary.render(report)
        #expect(text.contains("ACCOUNTING MISMATCH: generated 10000 ≠ acked + sent + failed + pending (off by 1)"))
    }

    @Test func foreignAndTruncatedFilesAreRefused() throws {
        let report = ReportBuilder.build(facts: Self.facts, snapshot: Self.sampleSnapshot(), hub: nil)
        let bytes = try report.serializedData()
        for (name, data) in [
            ("truncated", bytes.prefix(bytes.count / 2)), ("text", Data("hello, world\n".utf8)),
            ("empty", Data()), ("random", Data((0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })),
        ] {
            #expect(throws: ReportFileError.self, "\(name)") { try ReportFile.decode(Data(data), path: name) }
        }
        do {
            _ = try ReportFile.decode(Data("hello".utf8), path: "x.pb")
        } catch {
            #expect(error.description.contains("not a FleetStorm report"))
        }
        #expect(throws: ReportFileError.self) { try ReportFile.read("/nonexistent/report.pb") }
    }

    @Test func newerSchemaWarnsButReads() throws {
        var report = ReportBuilder.build(facts: Self.facts, snapshot: Self.sampleSnapshot(), hub: nil)
        report.run.schemaVersion = 9
        var data = try report.serializedData()
        // An unknown field (number 1000, varint) from a future schema is skipped.
        data.append(contentsOf: [0xC0, 0x3E, 0x01])
        let back = try ReportFile.decode(data, path: "future.pb")
        #expect(back.accounting.generated == 10_000)
        #expect(ReportFile.compatibilityWarning(back)?.contains("newer") == true)
    }

    @Test func snapshotMergeIsLossless() throws {
        var a = Self.sampleSnapshot()
        let b = Self.sampleSnapshot()
        try a.merge(b)
        #expect(a.summary(Snapshot.connect).count == 2000)
        #expect(a.summary(Snapshot.connect).p50 == b.summary(Snapshot.connect).p50)
        #expect(a.counters.generated == 20_000)
        #expect(a.counters.failedByReason["connection_lost"] == 8)
        var foreign = Snapshot()
        foreign.histograms["x"] = .init(
            lowestDiscernibleValue: 1,
            highestTrackableValue: 1000,
            numberOfSignificantValueDigits: .two
        )
        #expect(throws: SnapshotError.self) { try a.merge(foreign) }
    }
}
