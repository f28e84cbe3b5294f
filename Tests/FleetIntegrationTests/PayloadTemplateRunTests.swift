import FleetReport
import Foundation
import Testing

extension IntegrationTests {
    /// profiles/thermostat-fleet.yaml end to end: what the embedded hub and mosquitto receive, read back by Python's
    /// json (Clients/check_thermostats.py checks every variable), the per-kind report, and run = simulate bytes.
    @Suite("Payload templates and message mixes, run", .serialized)
    struct PayloadTemplateRunTests {
        static let checker = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/check_thermostats.py")
            .path
        /// The profile, smaller and faster: 60 devices × 20 messages, 50 ms apart (about 60 diagnostics of 65 KB).
        static let shrink = [
            "--devices", "60", "--set", "telemetry.messages=20", "--set", "telemetry.interval=50ms", "--quiet",
        ]

        static func python() throws -> String {
            try #require(Env.which("python3"), "python3 not found")
        }

        /// The checker's counts (it exits 1 naming the first problem).
        static func check(_ mode: String, _ file: String) throws -> [String: Int] {
            let r = try CLITests.run([checker, mode, file], tool: try python())
            #expect(r.status == 0, "\(r.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
            return object.compactMapValues { ($0 as? NSNumber)?.intValue }
        }

        @Test("the embedded hub's sample holds valid JSON with every variable in range; the report counts both kinds")
        func embeddedHub() throws {
            let (sample, report) = (CLITests.temp("thermo.jsonl"), CLITests.temp("thermo.pb"))
            defer { for f in [sample, report] { try? FileManager.default.removeItem(atPath: f) } }
            let r = try CLITests.run(
                ["run", "profiles/thermostat-fleet.yaml", "--sample", sample, "--output", report] + Self.shrink
            )
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("messages: 1200 generated"), "\(r.stdout)")
            let counts = try Self.check("sample", sample)
            // The first 1,000 in arrival order and each of the 60 devices' last.
            #expect((counts["reading"] ?? 0) + (counts["diagnostics"] ?? 0) == 1_060, "\(counts)")
            #expect(counts["devices"] == 60)
            #expect((counts["largest_step"] ?? 9) <= 1, "a walk of step 0.15 moves less than 1 per message")
            let decoded = try ReportFile.read(report)
            let a = decoded.accounting
            // Counted per kind apart from the totals: the kinds add up to them.
            #expect(a.generatedByKind.values.reduce(0, +) == a.generated)
            #expect(a.ackedByKind["reading"] == a.acked, "QoS 1 readings are the acknowledged ones")
            #expect(a.ackedByKind["diagnostics"] == 0 && a.sent == a.generatedByKind["diagnostics"])
            let diagnostics = Double(a.generatedByKind["diagnostics"] ?? 0) / Double(a.generated)
            #expect(diagnostics > 0.02 && diagnostics < 0.09, "weight 5 of 100: \(diagnostics)")
            let readings = decoded.histograms.first { $0.name == "publish_ack" && $0.kind == "reading" }
            #expect(readings?.count == a.ackedByKind["reading"])
        }

        @Test("against mosquitto, a mosquitto_sub subscriber receives every message as valid JSON")
        func mosquittoSubscriber() throws {
            let broker = try Mosquitto(
                binary: try #require(Env.which("mosquitto"), "mosquitto not found; .ci/run installs it")
            )
            let subscriber = try #require(Env.which("mosquitto_sub"), "mosquitto_sub not found; .ci/run installs it")
            let publisher = try #require(Env.which("mosquitto_pub"), "mosquitto_pub not found; .ci/run installs it")
            let received = CLITests.temp("mosquitto-sub.txt")
            _ = FileManager.default.createFile(atPath: received, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: received) }
            let sub = Process()
            sub.executableURL = URL(fileURLWithPath: subscriber)
            sub.arguments = [
                "-h", "127.0.0.1", "-p", String(broker.port), "-t", "devices/+/messages/events/#", "-t", "probe/ready",
                "-q", "1", "-v",
            ]
            sub.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: received))
            try sub.run()
            defer { if sub.isRunning { kill(sub.processIdentifier, SIGKILL) } }
            func lines() -> [Substring] {
                ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n")
            }
            // Subscribed once a probe published after it starts comes back (mosquitto_sub writes each message out).
            var subscribed = false
            for _ in 0..<100 where !subscribed {
                _ = try CLITests.run(
                    ["-h", "127.0.0.1", "-p", String(broker.port), "-t", "probe/ready", "-m", "x"],
                    tool: publisher
                )
                usleep(100_000)
                subscribed = lines().contains { $0.hasPrefix("probe/ready") }
            }
            #expect(subscribed, "mosquitto_sub subscribed within 10 s")
            let r = try CLITests.run(
                ["run", "profiles/thermostat-fleet.yaml", "--hub", "mqtt://127.0.0.1:\(broker.port)"] + Self.shrink
                    + ["--output", CLITests.temp("thermo-mosquitto.pb")]
            )
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("messages: 1200 generated, "), "\(r.stdout)")
            // The run has ended: the broker has forwarded (or is forwarding) all 1,200; wait for them, bounded.
            var messages: [Substring] = []
            for _ in 0..<300 {
                messages = lines().filter { $0.hasPrefix("devices/") }
                if messages.count >= 1_200 { break }
                usleep(100_000)
            }
            kill(sub.processIdentifier, SIGKILL)
            try messages.joined(separator: "\n").write(toFile: received, atomically: true, encoding: .utf8)
            let counts = try Self.check("mosquitto", received)
            #expect((counts["reading"] ?? 0) + (counts["diagnostics"] ?? 0) == 1_200, "\(counts)")
            #expect(counts["devices"] == 60)
        }

        /// Each (device, message id)'s body without its `ts` (the time differs between a run and a simulation).
        static func bodies(_ file: String, sample kind: String) throws -> [String: NSDictionary] {
            var out: [String: NSDictionary] = [:]
            for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
                let m = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                guard m["sample"] as? String == kind, let body = m["body"] as? String else { continue }
                var parsed = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                parsed["ts"] = nil
                out["\(m["device"] ?? "")#\(m["mid"] ?? "")"] = parsed as NSDictionary
            }
            return out
        }

        @Test("the same seed gives the same bodies over sockets and in FleetSim (the mix's kinds, random values, walk)")
        func runEqualsSimulate() throws {
            let (real, simulated) = (CLITests.temp("real.jsonl"), CLITests.temp("sim.jsonl"))
            defer { for f in [real, simulated] { try? FileManager.default.removeItem(atPath: f) } }
            let runs = try CLITests.runTogether([
                ["run", "profiles/thermostat-fleet.yaml", "--sample", real, "--output", CLITests.temp("r.pb")]
                    + Self.shrink,
                [
                    "simulate", "profiles/thermostat-fleet.yaml", "--sample", simulated, "--output",
                    CLITests.temp("s.pb"),
                ]
                    + Self.shrink,
            ])
            for r in runs { #expect(r.status == 0, "\(r.stderr)") }
            let (a, b) = (try Self.bodies(real, sample: "last"), try Self.bodies(simulated, sample: "last"))
            #expect(a.count == 60)
            #expect(a == b, "each device's last body")
            let (firstA, firstB) = (try Self.bodies(real, sample: "first"), try Self.bodies(simulated, sample: "first"))
            let common = Set(firstA.keys).intersection(firstB.keys)
            #expect(common.count >= 500, "\(common.count) messages in both samples")
            #expect(common.allSatisfy { firstA[$0] == firstB[$0] })
            // Another seed, other bodies.
            let other = CLITests.temp("other.jsonl")
            defer { try? FileManager.default.removeItem(atPath: other) }
            let r = try CLITests.run(
                [
                    "simulate", "profiles/thermostat-fleet.yaml", "--seed", "8", "--sample", other, "--output",
                    CLITests.temp("o.pb"),
                ] + Self.shrink
            )
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try Self.bodies(other, sample: "last") != b)
        }

        @Test("a template mistake is one line naming the profile's line and column")
        func templateErrorOnTheCommandLine() throws {
            let profile = CLITests.temp("bad-template.yaml")
            defer { try? FileManager.default.removeItem(atPath: profile) }
            try """
            telemetry:
              template: |
                {"t": {{walk min=30 max=20 step=1}}}
            """.write(toFile: profile, atomically: true, encoding: .utf8)
            for command in ["validate", "run", "simulate"] {
                let r = try CLITests.run([command, profile])
                #expect(r.status != 0)
                #expect(
                    r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                        == "error: \(profile):3:29: telemetry.template: walk max: must be more than min (30.0), got 20.0",
                    "\(command): \(r.stderr)"
                )
            }
        }
    }
}
