import FleetReport
import Foundation
import NIOCore
import NIOPosix
import Testing

extension IntegrationTests {
    /// The `fleetstorm` binary as users run it: exit codes, one-line errors, reports other tools can read.
    @Suite("fleetstorm command line", .serialized)
    struct CLITests {
        static let binary = Env.repo.appendingPathComponent(".build/debug/fleetstorm").path

        struct Output {
            var status: Int32
            var stdout: String
            var stderr: String
        }

        static func run(_ args: [String], tool: String = binary) throws -> Output {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            p.currentDirectoryURL = Env.repo
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
            try p.run()
            let errData = readAll(err)
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return Output(
                status: p.terminationStatus,
                stdout: String(decoding: o, as: UTF8.self),
                stderr: String(decoding: errData.wait(), as: UTF8.self)
            )
        }

        /// Runs several commands at once, each on a thread of its own, and returns their outputs in order: runs that
        /// mostly wait on real time (fault windows) go side by side instead of one after the other.
        static func runTogether(_ commands: [[String]]) throws -> [Output] {
            let runs = commands.map { args in OnThread { Result { try run(args) } } }
            return try runs.map { try $0.wait().get() }
        }

        /// Reads a pipe to its end on another thread (so stdout and stderr cannot block each other).
        static func readAll(_ pipe: Pipe) -> OnThread<Data> {
            OnThread { pipe.fileHandleForReading.readDataToEndOfFile() }
        }

        /// One piece of blocking work on a thread of its own (not the test's task pool, which has a thread per core).
        final class OnThread<Value>: @unchecked Sendable {
            private var value: Value?
            private let done = DispatchSemaphore(value: 0)
            init(_ work: @escaping @Sendable () -> Value) {
                Thread.detachNewThread { [self] in
                    value = work()
                    done.signal()
                }
            }
            func wait() -> Value {
                done.wait()
                return value!
            }
        }

        static func temp(_ name: String) -> String {
            FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-cli-\(getpid())-\(name)").path
        }

        @Test func runWritesAReportThatProtocDecodes() throws {
            let report = Self.temp("run.pb")
            defer { try? FileManager.default.removeItem(atPath: report) }
            let r = try Self.run([
                "run", "profiles/quickstart.yaml", "--devices", "40", "--set", "telemetry.messages=2",
                "--set", "telemetry.interval=20ms", "--output", report, "--quiet",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("messages: 80 generated, 80 acked, 0 failed, 0 pending"))
            #expect(r.stdout.contains("connect               40"))
            let text = try Self.run(["report", report])
            #expect(text.status == 0)
            #expect(text.stdout.contains("80 acked"))
            let json = try Self.run(["report", report, "--format", "json"])
            #expect(json.stdout.contains("\"acked\": \"80\"") || json.stdout.contains("\"acked\":\"80\""))

            guard Env.which("protoc") != nil || Env.isCI else { return }  // a machine without protoc checks the rest
            let protoc = try #require(
                Env.which("protoc"),
                "protoc not found on \(ProcessInfo.processInfo.environment["PATH"] ?? "")"
            )
            let decode = Process()
            decode.executableURL = URL(fileURLWithPath: "/bin/sh")
            decode.arguments = [
                "-c",
                "\(protoc) --proto_path=Sources/FleetReport/Proto --decode fleetstorm.report.v1.Report fleetstorm/report/v1/report.proto < \(report)",
            ]
            decode.currentDirectoryURL = Env.repo
            let pipe = Pipe()
            decode.standardOutput = pipe
            try decode.run()
            let decoded = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            decode.waitUntilExit()
            #expect(decode.terminationStatus == 0)
            #expect(decoded.contains("profile_name: \"quickstart\""))
            #expect(decoded.contains("acked: 80"))
        }

        @Test(
            "bad input: one line naming the key, non-zero exit",
            arguments: [
                (["run", "profiles/quickstart.yaml", "--set", "fleet.devices=abc"], "fleet.devices"),
                (["run", "profiles/quickstart.yaml", "--devices", "-4"], "--devices"),
                (["run", "profiles/quickstart.yaml", "--devices=-4"], "fleet.devices"),
                (["run", "profiles/quickstart.yaml", "--duration", "10x"], "duration"),
                (["run", "profiles/quickstart.yaml", "--set", "fleet.colour=red"], "fleet.colour"),
                (["run", "profiles/quickstart.yaml", "--hub", "http://x"], "hub.url"),
                (["run", "no/such/profile.yaml"], "no/such/profile.yaml"),
                (["report", "Package.swift"], "not a FleetStorm report"),
                (["hub", "--listen", "nonsense"], "--listen nonsense"),
                (["simulate", "profiles/quickstart.yaml", "--set", "simulation.rtt=fast"], "simulation.rtt"),
                (["simulate", "profiles/quickstart.yaml", "--devices", "20000000"], "fleet.devices"),
                (["tune", "profiles/quickstart.yaml", "--vary", "retry.base"], "expected key=value1,value2"),
                (["tune", "profiles/quickstart.yaml", "--vary", "retry.sauce=1,2"], "retry.sauce"),
                (
                    ["tune", "profiles/quickstart.yaml", "--vary", "retry.base=1s,2s", "--objective", "fastest"],
                    "--objective"
                ),
                (
                    ["tune", "profiles/quickstart.yaml", "--vary", "retry.base=1s,2s", "--objective", "recovery"],
                    "connect limit"
                ),
                (["tune", "profiles/quickstart.yaml", "--vary", "retry.base=1s", "--tier", "Z9"], "--tier Z9"),
            ]
        )
        func badInput(args: [String], mentions: String) throws {
            let r = try Self.run(args)
            #expect(r.status != 0)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "expected one line, got:\n\(r.stderr)")
            #expect(r.stderr.contains(mentions), "\(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"))
        }

        @Test func hubOnAPortInUseIsOneClearLine() throws {
            let blocker = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: try Env.freePort()).wait()
            defer { try? blocker.close().wait() }
            let port = blocker.localAddress?.port ?? 0
            let r = try Self.run(["hub", "--listen", "127.0.0.1:\(port)", "--duration", "1s"])
            #expect(r.status != 0)
            #expect(
                r.stderr
                    == "error: cannot listen on 127.0.0.1:\(port): address already in use (pick another port, or stop what listens there)\n"
            )
        }

        @Test func policyPrintsSampledDelaysWithinTheReferenceBounds() throws {
            let r = try Self.run([
                "policy", "azure-dotnet", "--attempts", "8", "--samples", "500", "--seed", "3", "--format", "json",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            #expect(json["policy"] as? String == "azure-dotnet")
            let attempts = try #require(json["attempts"] as? [[String: Any]])
            #expect(attempts.count == 8)
            let bounds: [(Double, Double)] = [
                (100, 100), (180, 219), (340, 457), (660, 933), (1300, 1885), (2580, 3789), (5140, 7597),
                (10_000, 10_000),
            ]
            for (entry, (lo, hi)) in zip(attempts, bounds) {
                let delays = try #require(entry["delays_ms"] as? [Double])
                #expect(delays.count == 500)
                #expect(delays.allSatisfy { $0 >= lo && $0 <= hi }, "attempt \(entry["attempt"] ?? "?")")
            }
            let again = try Self.run([
                "policy", "azure-dotnet", "--attempts", "8", "--samples", "500", "--seed", "3", "--format", "json",
            ])
            #expect(again.stdout == r.stdout, "same seed, same draws")
            let table = try Self.run(["policy", "azure-c", "--attempts", "7"])
            #expect(table.stdout.contains("7          30000"))
            let list = try Self.run(["policy", "--list"])
            for name in [
                "azure-dotnet", "azure-java", "azure-node", "azure-c", "azure-python", "full-jitter",
                "decorrelated-jitter",
                "custom", "none",
            ] {
                #expect(list.stdout.contains("\(name): "), "\(name) missing from --list")
            }
            let bad = try Self.run(["policy", "full-jitter", "--set", "cap=soon"])
            #expect(bad.status != 0)
            #expect(
                bad.stderr == "error: policy full-jitter: cap: expected a duration like 250ms or 10s, got \"soon\"\n"
            )
        }

        @Test func helpShowsExamples() throws {
            for args in [
                ["--help"], ["run", "--help"], ["hub", "--help"], ["report", "--help"], ["validate", "--help"],
                ["compare", "--help"], ["merge", "--help"], ["policy", "--help"], ["simulate", "--help"],
                ["tune", "--help"],
            ] {
                let r = try Self.run(args)
                #expect(r.status == 0)
                #expect(r.stdout.contains("fleetstorm "), "\(args)")
                #expect(r.stdout.contains("Example"), "\(args) shows no example")
            }
        }

        /// `simulate` and `tune` end to end: a report `report` reads back (text and HTML), a tune report compare refuses.
        @Test func simulateAndTuneWriteReportsTheReportCommandReads() throws {
            let sim = Self.temp("sim.pb")
            let r = try Self.run([
                "simulate", "profiles/hub-outage.yaml", "--devices", "3000", "--quiet", "--output", sim,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("FleetStorm simulation \"hub-outage\" — 3000 devices"))
            #expect(r.stdout.contains("messages: 120000 generated, 120000 acked"))
            let text = try Self.run(["report", sim])
            #expect(text.status == 0 && text.stdout.contains("simulated hub (rtt 1ms"))
            let tune = Self.temp("tune.pb")
            let t = try Self.run([
                "tune", "profiles/storm-capacity.yaml", "--devices", "500", "--repeat", "2", "--quiet", "--output",
                tune,
                "--vary", "retry.policy=azure-dotnet,full-jitter", "--max-connect-rate", "400",
            ])
            #expect(t.status == 0, "\(t.stderr)")
            #expect(t.stdout.contains("2 settings × 2 seeds"))
            #expect(t.stdout.contains("recommended: retry.policy=") || t.stdout.contains("no setting kept"))
            let html = try Self.run(["report", tune, "--format", "html"])
            #expect(html.status == 0 && html.stdout.contains("id=\"pareto\""))
            let compare = try Self.run(["compare", tune, sim])
            #expect(compare.status != 0 && compare.stderr.contains("tune report"))
        }

        @Test func validateChecksEveryProfile() throws {
            let profiles = try FileManager.default.contentsOfDirectory(
                atPath: Env.repo.appendingPathComponent("profiles").path
            )
            .filter { $0.hasSuffix(".yaml") }.map { "profiles/\($0)" }
            let r = try Self.run(["validate"] + profiles)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.split(separator: "\n").count == profiles.count)
        }

        /// `run --metrics`: Prometheus text while the run goes on, read by Python's urllib (not our code).
        @Test func liveMetricsInPrometheusFormat() throws {
            let port = try Env.freePort()
            let report = Self.temp("metrics.pb")
            defer { try? FileManager.default.removeItem(atPath: report) }
            let run = try BackgroundFleetstorm(
                [
                    "run", "profiles/quickstart.yaml", "--devices", "50", "--set", "telemetry.messages=30", "--set",
                    "telemetry.interval=100ms", "--quiet", "--metrics", "127.0.0.1:\(port)", "--output", report,
                ],
                until: "/metrics"
            )
            #expect(run.banner.contains("metrics on http://127.0.0.1:\(port)/metrics"), "\(run.banner)")
            let python = try #require(Env.which("python3"))
            let fetch = try RealClientTests.run(
                python,
                [
                    "-c",
                    "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())",
                    "http://127.0.0.1:\(port)/metrics",
                ]
            )
            #expect(fetch.status == 0, "\(fetch.err)")
            for name in [
                "fleetstorm_devices_connected", "fleetstorm_connect_attempts_total", "fleetstorm_loop_lag_p99_seconds",
                "fleetstorm_messages_acked_total",
            ] {
                #expect(fetch.out.contains("# TYPE \(name) "), "\(name) missing: \(fetch.out)")
            }
            let missing = try RealClientTests.run(
                python,
                [
                    "-c",
                    "import urllib.request,urllib.error,sys\ntry:\n urllib.request.urlopen(sys.argv[1])\nexcept urllib.error.HTTPError as e:\n print(e.code)",
                    "http://127.0.0.1:\(port)/nothing",
                ]
            )
            #expect(missing.out.trimmingCharacters(in: .whitespacesAndNewlines) == "404")
            #expect(run.wait() == 0)
        }

        /// `hub --faults FILE`: the standalone hub plays the timeline from its own start and reports each fault;
        /// the run's report keeps the scenario with its group key redacted.
        @Test func standaloneHubPlaysAFaultFile() throws {
            let port = try Env.freePort()
            let faults = Self.temp("faults.yaml")
            let hubReport = Self.temp("hub-faults.pb")
            let runReport = Self.temp("run-faults.pb")
            defer { for f in [faults, hubReport, runReport] { try? FileManager.default.removeItem(atPath: f) } }
            try "faults:\n  - {at: 1500ms, kind: drop}\n  - {at: 1500ms, kind: outage, for: 300ms}\n"
                .write(toFile: faults, atomically: true, encoding: .utf8)
            let hub = try BackgroundFleetstorm(
                [
                    "hub", "--listen", "127.0.0.1:\(port)", "--faults", faults, "--output", hubReport, "--duration",
                    "60s",
                ],
                until: "listening"
            )
            let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
            let r = try Self.run([
                "run", "profiles/quickstart.yaml", "--hub", "mqtt://127.0.0.1:\(port)", "--devices", "20", "--set",
                "telemetry.messages=30", "--set", "telemetry.interval=100ms", "--set", "retry.policy=fixed", "--set",
                "retry.base=100ms", "--set", "auth.mode=sas", "--set", "auth.group_key=\(key)", "--output", runReport,
                "--quiet",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let (status, summary) = hub.terminate()
            #expect(status == 0)
            #expect(summary.contains("drop@1.5s"), "\(summary)")
            let report = try ReportFile.read(hubReport)
            #expect(report.faults.map(\.kind) == ["drop", "outage"])
            #expect(report.faults.first?.affected == 20, "every device was connected at 1.5 s")
            #expect((report.faults.last?.affected ?? 0) >= 1, "reconnects met the outage")
            #expect(report.hub.refusedByReason["outage"] == report.faults.last?.affected)
            let run = try ReportFile.read(runReport)
            #expect(run.scenario.yaml.contains("group_key: \"(redacted)\""))
            #expect(run.scenario.overrides.contains("auth.group_key=(redacted)"))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: runReport))
            #expect(bytes.range(of: Data(key.utf8)) == nil, "the key is nowhere in the report")
        }

        @Test func standaloneHubServesARunAndReportsOnSIGTERM() throws {
            let port = try Env.freePort()
            let hubReport = Self.temp("hub.pb")
            defer { try? FileManager.default.removeItem(atPath: hubReport) }
            let hub = try BackgroundFleetstorm(
                ["hub", "--listen", "127.0.0.1:\(port)", "--output", hubReport, "--duration", "60s"],
                until: "listening"
            )
            #expect(hub.banner.contains("mqtt://127.0.0.1:\(port)"))

            let runReport = Self.temp("against-hub.pb")
            defer { try? FileManager.default.removeItem(atPath: runReport) }
            let r = try Self.run([
                "run", "profiles/quickstart.yaml", "--hub", "mqtt://127.0.0.1:\(port)", "--devices", "25",
                "--set", "telemetry.messages=2", "--set", "telemetry.interval=20ms", "--output", runReport, "--quiet",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("50 acked"))

            let (status, summary) = hub.terminate()
            #expect(status == 0)
            #expect(summary.contains("50 messages from 25 devices"), "\(summary)")
            let report = try Self.run(["report", hubReport])
            #expect(report.stdout.contains("25 connections accepted"))
        }

        /// A hub that refuses devices says why while it happens, once per reason (rate-limited), with the fix; the
        /// secret never appears.
        @Test func standaloneHubExplainsRefusalsLive() throws {
            let port = try Env.freePort()
            let hub = try BackgroundFleetstorm(
                [
                    "hub", "--listen", "127.0.0.1:\(port)", "--group-key", RealClientTests.groupKey, "--duration",
                    "60s",
                ],
                until: "listening"
            )
            // The devices name another host in their username and token: every CONNECT is refused.
            let r = try Self.run([
                "run", "profiles/quickstart.yaml", "--hub", "mqtt://127.0.0.1:\(port)", "--devices", "30",
                "--set", "auth.mode=sas", "--set", "auth.group_key=\(RealClientTests.groupKey)", "--set",
                "auth.hub_host=localhost", "--set", "retry.policy=none", "--set", "telemetry.messages=1", "--quiet",
                "--output", Self.temp("refused.pb"),
            ])
            // No device connected: the run says why in one line (the most common refusal and the keys that fix it)
            // and exits 1, after its summary and report (nothing measured is lost).
            #expect(r.status == 1, "\(r.stderr)")
            let last = r.stderr.split(separator: "\n").last ?? ""
            #expect(
                last.hasPrefix("error: no device connected (30 attempts): 30 refused with CONNACK 5 (not authorized)")
                    && last.contains("--set auth.hub_host=HOST"),
                "\(r.stderr)"
            )
            #expect(r.stdout.contains("report: "), "the summary and the report come first")
            #expect(!r.stderr.contains(RealClientTests.groupKey) && !r.stdout.contains(RealClientTests.groupKey))
            _ = hub.terminate()
            let log = hub.stderrText
            let lines = log.split(separator: "\n").filter { $0.hasPrefix("refused: ") }
            #expect(
                lines.first?.contains("username host \"localhost\" is not this hub's host \"fleetstorm.local\"") == true
                    && lines.first?.contains("--host localhost") == true,
                "\(log)"
            )
            #expect(lines.count >= 1 && lines.count <= 2, "30 refusals in one burst are one line: \(lines)")
            #expect(!log.contains(RealClientTests.groupKey))
        }
    }
}
