import FleetReport
import Foundation
import Testing

extension SecondLaneTests {
    /// `fleetstorm netlab run`: real links in network namespaces (root with CAP_NET_ADMIN, and nftables; CI has
    /// both). Detection times follow each SDK's keep-alive rule (reference §4.5), recovery waits for the link, and
    /// nothing is left behind.
    @Suite(
        "netlab: real network faults",
        .serialized,
        .enabled(
            if: (getuid() == 0 && Env.which("nft") != nil) || Env.isCI,
            "netlab needs root and nftables (CI has both; .ci/run installs nftables)"
        )
    )
    struct NetlabTests {
        static func profile(_ name: String, faults: String, keepAlive: String = "8s") throws -> String {
            let path = CLITests.temp("\(name).yaml")
            try """
            name: \(name)
            seed: 5
            duration: 90s
            bin: 1s
            fleet: {devices: 40, ramp_rate: 200}
            mqtt: {keep_alive: \(keepAlive)}
            telemetry: {messages: 14, interval: 4s}
            cohorts:
              - {name: dotnet, share: 0.5, sdk: azure-dotnet}
              - {name: python, share: 0.5, sdk: azure-python}
            faults: \(faults)
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        static func leftovers() throws -> [String] {
            let r = try CLITests.run(["netns", "list"], tool: "/usr/sbin/ip")
            return r.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("fsnl-") }
        }

        static func netlab(_ profile: String, output: String) throws -> Fleetstorm_Report_V1_Report {
            #expect(Env.which("nft") != nil, "nftables must be installed in CI")
            let before = try leftovers()
            let r = try CLITests.run(["netlab", "run", profile, "--quiet", "--output", output])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try leftovers() == before, "netlab left namespaces behind")
            return try ReportFile.read(output)
        }

        static func detection(
            _ r: Fleetstorm_Report_V1_Report,
            _ cohort: String
        ) throws -> Fleetstorm_Report_V1_Histogram {
            let c = try #require(r.cohorts.first { $0.name == cohort })
            return try #require(c.histograms.first { $0.name == "outage_detection" }, "\(cohort) detected nothing")
        }

        /// switch-uplink at 6 s, keep-alive 8 s, a message every 4 s. Reference §4.5: .NET pings 2 s (keep-alive/4)
        /// after its last send and waits 30 s → detects 30–34 s after the switch; Python (paho) pings after 8 s
        /// without receiving and waits 8 s → 12–16 s. Both then reconnect over uplink 2 at once.
        @Test func uplinkSwitchIsDetectedByEachSDKsOwnRule() throws {
            let r = try Self.netlab(
                try Self.profile("switch", faults: "[{at: 6s, kind: switch-uplink}]"),
                output: CLITests.temp("switch.pb")
            )
            let dotnet = try Self.detection(r, "dotnet")
            let python = try Self.detection(r, "python")
            #expect(dotnet.count == 20 && python.count == 20)
            let s = 1_000_000_000.0
            #expect(Double(dotnet.p50) / s > 29.5 && Double(dotnet.max) / s < 35, "dotnet \(dotnet)")
            #expect(Double(python.p50) / s > 11.5 && Double(python.max) / s < 17, "python \(python)")
            let storm = try #require(r.storms.first { $0.fault == "switch-uplink@6s" })
            #expect(storm.affected == 40 && storm.recovered == 40)
            #expect(r.accounting.generated == 560 && r.accounting.acked + r.accounting.failed == 560)
            #expect(r.hub.connectionsAccepted == 80, "each device connected twice: before and after the switch")
            let text = TextSummary.render(r)
            #expect(text.contains("cohort dotnet") && text.contains("outage detected: 20"), "\(text)")
        }

        /// link-down for 20 s from 5 s: nobody can be back before the link is (connects are silently lost too);
        /// then link-reset at 42 s for 5 s: the hub side answers with resets, so every device notices at its next
        /// packet (within one 4 s send interval), whatever its keep-alive rule, and is back soon after the window.
        @Test func recoveryWaitsForTheLinkAndResetsAreNoticedAtOnce() throws {
            let r = try Self.netlab(
                try Self.profile(
                    "down-reset",
                    faults: "[{at: 5s, kind: link-down, for: 20s}, {at: 42s, kind: link-reset, for: 5s}]"
                ),
                output: CLITests.temp("down-reset.pb")
            )
            let down = try #require(r.storms.first { $0.fault == "link-down@5s+20s" })
            #expect(down.affected == 40 && down.recovered == 40, "\(down)")
            #expect(Double(down.t50Ns) / 1e9 >= 20, "back before the link came back: \(down)")
            let reset = try #require(r.storms.first { $0.fault == "link-reset@42s+5s" })
            #expect(reset.affected == 40 && reset.recovered == 40, "\(reset)")
            #expect(Double(reset.t100Ns) / 1e9 < 15, "\(reset)")
            for cohort in ["dotnet", "python"] {
                #expect(try Self.detection(r, cohort).count == 40, "\(cohort): 20 detections per fault")
            }
        }

        /// Ctrl-C in the middle of a link-down: the fleet stops and writes its report, and the namespaces go.
        @Test func ctrlCTearsEverythingDown() async throws {
            let before = try Self.leftovers()
            let output = CLITests.temp("netlab-int.pb")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = [
                "netlab", "run", try Self.profile("interrupted", faults: "[{at: 3s, kind: link-down, for: 60s}]"),
                "--quiet", "--output", output,
            ]
            p.currentDirectoryURL = Env.repo
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            try await Task.sleep(for: .seconds(9))
            #expect(try Self.leftovers().count == before.count + 2, "two namespaces while it runs")
            kill(p.processIdentifier, SIGINT)
            while p.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            #expect(p.terminationStatus == 0)
            let r = try ReportFile.read(output)
            #expect(r.run.cancelled && r.run.devices == 40)
            #expect(try Self.leftovers() == before, "netlab left namespaces behind after Ctrl-C")
        }

        @Test func withoutRootItSaysSoInOneLine() throws {
            guard getuid() == 0 else {
                let r = try CLITests.run(["netlab", "run", "profiles/network-switch-real.yaml"])
                #expect(r.status == 1 && r.stderr.contains("root"))
                return
            }
            // As root: a profile netlab cannot take is refused before any namespace exists.
            let before = try Self.leftovers()
            let r = try CLITests.run(["netlab", "run", "profiles/network-switch-real.yaml", "--devices", "20000"])
            #expect(r.status == 1 && r.stderr.contains("9,000"), "\(r.stderr)")
            #expect(try Self.leftovers() == before)
            let plain = try CLITests.run(["run", "profiles/network-switch-real.yaml", "--quiet"])
            #expect(plain.status == 1 && plain.stderr.contains("fleetstorm netlab run"), "\(plain.stderr)")
        }

        @Test func cleanRemovesWhatADeadRunLeft() throws {
            // A namespace as a crashed netlab (PID that does not exist) would have left it.
            let stale = "fsnl-999999-dev"
            _ = try CLITests.run(["netns", "add", stale], tool: "/usr/sbin/ip")
            let r = try CLITests.run(["netlab", "clean"])
            #expect(r.status == 0 && r.stdout.contains(stale), "\(r.stdout)\(r.stderr)")
            #expect(try !Self.leftovers().contains(stale))
            let again = try CLITests.run(["netlab", "clean"])
            #expect(again.status == 0 && again.stdout.contains("nothing to remove"))
        }
    }

    /// `link:` (GSM preset): the emulated slow link shows in every latency.
    @Suite("Slow link emulation")
    struct SlowLinkTests {
        @Test func gsmLinkShowsInPublishLatency() throws {
            let output = CLITests.temp("gsm.pb")
            let r = try CLITests.run([
                "run", "profiles/gsm-uplink.yaml", "--devices", "20", "--set", "telemetry.messages=6",
                "--set", "telemetry.interval=2s", "--quiet", "--output", output,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let report = try ReportFile.read(output)
            #expect(report.accounting.acked == 120)
            let ack = try #require(report.histograms.first { $0.name == "publish_ack" })
            let connect = try #require(report.histograms.first { $0.name == "connect" })
            // One round trip (300 ms) at least, plus jitter (≤ 100 ms each way) and the 64 kbit/s queue.
            #expect(ack.p50 >= 300_000_000 && ack.p50 < 600_000_000, "\(ack)")
            #expect(connect.p50 >= 300_000_000, "CONNECT up and CONNACK down cross the link: \(connect)")
            #expect(r.stdout.contains("over an emulated link (rtt 300ms"), "\(r.stdout)")
        }
    }
}
