import FleetReport
import Foundation
import Testing

extension IntegrationTests {
    /// Readers nobody here wrote decode our reports: Python (protoc --python_out + PyPI protobuf + hdrhistogram, which
    /// also recomputes storm numbers from the raw series) and C (protoc-c + libprotobuf-c).
    @Suite("Reports read by Python and C", .serialized)
    struct InteropTests {
        static let proto = Env.repo.appendingPathComponent("Sources/FleetReport/Proto").path
        static let clients = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients").path

        /// Made once for both readers (never deleted mid-suite: the temp directory is the test's).
        static let shared = Result { try stormReport() }

        /// A small storm: 200 devices, full jitter, a hub drop at 1 s and a second at 3 s.
        static func stormReport() throws -> String {
            let path = CLITests.temp("interop.pb")
            let r = try CLITests.run([
                "run", "profiles/hub-drop-storm.yaml", "--devices", "200", "--set", "retry.policy=full-jitter", "--set",
                "retry.base=300ms", "--set", "telemetry.messages=25", "--set", "telemetry.interval=200ms", "--set",
                "faults=[{at: 1s, kind: drop}, {at: 3s, kind: drop, fraction: 0.5}]", "--quiet", "--output", path,
            ])
            guard r.status == 0 else { throw TestFailure("run failed: \(r.stderr)") }
            return path
        }

        @Test(
            .enabled(
                if: (try? RealClientTests.run("/usr/bin/env", ["python3", "-c", "import google.protobuf, hdrh"]).status)
                    == 0
                    || Env.isCI,
                "PyPI protobuf and hdrhistogram not installed (.ci/run installs them)"
            )
        )
        func pythonDecodesAndRecomputes() throws {
            let python = try #require(Env.which("python3"))
            _ = try #require(Env.which("protoc"), "protoc not found; .ci/run installs protobuf-compiler")
            let report = try Self.shared.get()
            let r = try RealClientTests.run(python, ["\(Self.clients)/report_reader.py", Self.proto, report])
            #expect(r.status == 0, "\(r.out) \(r.err)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            #expect((json["problems"] as? [String]) == [])
            #expect((json["histograms"] as? Int ?? 0) >= 6, "connect, publish_ack, reconnect, retry delays, offsets")
            let storms = try #require(json["storms"] as? [[String: Any]])
            #expect(storms.count == 3 && (storms[0]["affected"] as? Int) == 200)
        }

        @Test(.enabled(if: Env.which("protoc-c") != nil || Env.isCI, "protoc-c not installed (.ci/run installs it)"))
        func cReadsTheSameCounts() throws {
            let protocC = try #require(
                Env.which("protoc-c"),
                "protoc-c not found; .ci/run installs protobuf-c-compiler"
            )
            let cc = try #require(Env.which("cc") ?? Env.which("gcc"))
            let report = try Self.shared.get()
            let dir = CLITests.temp("c-reader")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let gen = try RealClientTests.run(
                protocC,
                ["--proto_path=\(Self.proto)", "--c_out=\(dir)", "fleetstorm/report/v1/report.proto"]
            )
            #expect(gen.status == 0, "\(gen.err)")
            let build = try RealClientTests.run(
                cc,
                [
                    "-I\(dir)", "\(Self.clients)/report_reader.c", "\(dir)/fleetstorm/report/v1/report.pb-c.c",
                    "-lprotobuf-c",
                    "-o", "\(dir)/report_reader",
                ]
            )
            #expect(build.status == 0, "\(build.err)")
            let read = try RealClientTests.run("\(dir)/report_reader", [report])
            #expect(read.status == 0, "\(read.err)")
            let mine = try ReportFile.read(report)
            let attempts = mine.series.series.first { $0.name == "attempts" }?.values.reduce(0, +) ?? 0
            let expected =
                "devices=\(mine.run.devices) generated=\(mine.accounting.generated) acked=\(mine.accounting.acked) "
                + "histograms=\(mine.histograms.count) histogram_count=\(mine.histograms.map(\.count).reduce(0, +)) "
                + "hdr_bytes=\(mine.histograms.map(\.hdrV2.count).reduce(0, +)) attempts=\(attempts) "
                + "storms=\(mine.storms.count) faults=\(mine.faults.count) hub_received=\(mine.hub.messagesReceived)"
            #expect(read.out.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        }
    }
}
