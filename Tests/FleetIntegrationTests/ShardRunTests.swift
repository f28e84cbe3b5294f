import FleetEngine
import FleetMetrics
import FleetReport
import Foundation
import Histogram
import Testing
import Yams

extension IntegrationTests {
    /// Fleets over several processes: `run --processes` (shards and hub workers started by one command), and the
    /// Kubernetes manifests' own command lines run here as the pods would run them.
    @Suite("Shards and hub workers", .serialized)
    struct ShardRunTests {
        /// 3 shards × 2,000 devices and 2 hub worker processes behind one port, a hub-wide drop: one merged report
        /// whose device-side counts the hub's own counts confirm.
        @Test func processesRunShardsAndHubWorkersAsOneRun() throws {
            let output = CLITests.temp("processes.pb")
            let r = try CLITests.run([
                "run", "profiles/hub-drop-storm.yaml", "--devices", "6000", "--processes", "3", "--hub-workers", "2",
                "--set", "telemetry.messages=6", "--set", "telemetry.interval=1s", "--set", "fleet.ramp_rate=3000",
                "--set", "faults=[{at: 4s, kind: drop}]", "--set", "retry.policy=full-jitter",
                "--set", "retry.base=500ms", "--set", "retry.cap=3s", "--bin", "1s", "--quiet", "--output", output,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let m = try ReportFile.read(output)
            #expect(m.run.kind == "merge" && m.run.devices == 6000 && m.run.hubWorkers == 2)
            #expect(
                m.run.shards.map(\.status) == ["ok", "ok", "ok"] && m.run.shards.map(\.devices) == [2000, 2000, 2000]
            )
            let directory = String(output.dropLast(3)) + ".shards"
            let shards = try (0..<3).map { try ReportFile.read("\(directory)/shard-\($0).pb") }
            #expect(shards.map(\.run.firstDevice) == [0, 2000, 4000], "contiguous device ranges")
            #expect(shards.map(\.run.shardIndex) == [0, 1, 2] && shards.allSatisfy { $0.run.shardCount == 3 })
            // Device side and hub side, counted apart: every message acked reached a hub worker.
            #expect(m.accounting.generated == 36_000 && m.accounting.acked == 36_000, "\(m.accounting)")
            #expect(m.hub.messagesReceived >= m.accounting.acked && m.hub.messagesReceived - m.hub.duplicates == 36_000)
            #expect(m.hub.connectionsAccepted == m.connections.accepted, "every accepted CONNECT the devices saw")
            // How many devices were connected when the drop came depends on how fast a busy machine ramps them;
            // the merge must count each shard's affected devices once, whatever that number is (counted apart in
            // each shard process).
            let storm = try #require(m.storms.first { $0.fault == "drop@4s" })
            let shardStorms = try shards.map { shard in try #require(shard.storms.first { $0.fault == "drop@4s" }) }
            #expect(storm.affected > 0 && storm.affected == shardStorms.map(\.affected).reduce(0, +), "\(storm)")
            #expect(storm.recovered == shardStorms.map(\.recovered).reduce(0, +), "\(storm)")
            #expect(storm.recovered == storm.affected, "every dropped device came back")
            let workers = try (0..<2).map {
                try ReportFile.read("\(String(output.dropLast(3))).shards/hub.workers/hub-worker-\($0).pb")
            }
            #expect(
                workers.allSatisfy { $0.hub.connectionsAccepted > 1000 },
                "the kernel spread connections over both workers"
            )
            #expect(workers.map(\.hub.connectionsAccepted).reduce(0, +) == m.hub.connectionsAccepted)
        }

        /// Our own child processes whose command line contains `marker` (a test's unique output path).
        static func children(containing marker: String) -> [Int32] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { Int32($0) }.filter { pid in
                guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
                return String(decoding: data, as: UTF8.self).contains(marker)
            }
        }

        static func shardPID(_ shard: String, marker: String) -> Int32? {
            children(containing: marker).first { pid in
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
                return String(decoding: data, as: UTF8.self).contains("--shard\u{0}\(shard)")
            }
        }

        static func startRun(_ output: String, messages: Int = 300) throws -> (Process, CLITests.OnThread<Data>) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = [
                "run", "profiles/hub-drop-storm.yaml", "--devices", "600", "--processes", "2", "--set",
                "telemetry.messages=\(messages)", "--set", "telemetry.interval=100ms", "--quiet", "--output", output,
            ]
            p.currentDirectoryURL = Env.repo
            p.standardOutput = FileHandle.nullDevice
            let err = Pipe()
            p.standardError = err
            try p.run()
            return (p, CLITests.readAll(err))
        }

        static func waitForShards(_ marker: String) async throws {
            for _ in 0..<200 {
                if shardPID("0/2", marker: marker) != nil && shardPID("1/2", marker: marker) != nil { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestFailure("the shard processes did not start")
        }

        /// A shard killed mid-run: the run ends with status 3, the merged report names the shard with its signal and
        /// keeps the other shard's data.
        @Test func aShardThatDiesIsNamedAndTheOthersAreKept() async throws {
            let output = CLITests.temp("dies.pb")
            let marker = String(output.dropLast(3))  // the children write into \(marker).shards/
            let (p, err) = try Self.startRun(output, messages: 120)
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            try await Self.waitForShards(marker)
            try await Task.sleep(for: .seconds(6))
            let victim = try #require(Self.shardPID("1/2", marker: marker))
            kill(victim, SIGKILL)
            while p.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            let stderr = String(decoding: err.wait(), as: UTF8.self)
            #expect(p.terminationStatus == 3, "\(stderr)")
            let m = try ReportFile.read(output)
            #expect(m.run.shards.map(\.status) == ["ok", "killed by signal 9"], "\(m.run.shards)")
            #expect(m.run.devices == 300 && m.accounting.generated > 0, "shard 0's data is kept")
            #expect(m.run.shards[1].detail.contains("no report"))
            #expect(Self.children(containing: marker).isEmpty, "no process is left behind")
        }

        /// Ctrl-C to the parent reaches every shard and the hub workers once: each stops its devices and writes its
        /// report, and the merged report says the run was interrupted.
        @Test func ctrlCIsForwardedToEveryChild() async throws {
            let output = CLITests.temp("interrupted.pb")
            let marker = String(output.dropLast(3))
            let (p, err) = try Self.startRun(output)
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            try await Self.waitForShards(marker)
            try await Task.sleep(for: .seconds(6))
            kill(p.processIdentifier, SIGINT)
            while p.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            let stderr = String(decoding: err.wait(), as: UTF8.self)
            #expect(p.terminationStatus == 0, "\(stderr)")
            let m = try ReportFile.read(output)
            #expect(m.run.cancelled && m.run.shards.map(\.status) == ["cancelled", "cancelled"])
            // How many devices connected in 6 s depends on the machine's load; the hub workers' reports joined the
            // merge when the hub side counts every CONNECT the devices saw accepted (counted apart).
            #expect(m.run.devices == 600 && m.connections.accepted > 0, "\(m.connections)")
            #expect(m.hub.connectionsAccepted >= m.connections.accepted, "the hub's report joined the merge")
            #expect(m.accounting.generated == m.accounting.acked + m.accounting.failed + m.accounting.pending)
            #expect(Self.children(containing: marker).isEmpty, "no process is left behind")
        }

        @Test func planThatCannotFitIsRefusedBeforeAnythingStarts() throws {
            let limits = Preflight.Limits(descriptors: 1_000_000, portRange: 32768...60999)
            do {
                try Preflight.check(
                    devices: 30_000,
                    sourceAddresses: 1,
                    embeddedHub: false,
                    proxy: false,
                    limits: limits
                )
                Issue.record("30,000 connections from one address passed")
            } catch {
                #expect(error.code == .portLimit)
                #expect(
                    error.description.contains("28232") && error.description.contains("at least 2 addresses"),
                    "\(error)"
                )
            }
            try Preflight.check(devices: 50_000, sourceAddresses: 2, embeddedHub: false, proxy: false, limits: limits)
            let small = Preflight.Limits(descriptors: 20_000, portRange: 32768...60999)
            try Preflight.check(devices: 19_936, sourceAddresses: 0, embeddedHub: false, proxy: false, limits: small)
            #expect(throws: FleetRunError.self) {
                try Preflight.check(devices: 9_969, sourceAddresses: 5, embeddedHub: true, proxy: false, limits: small)
            }
            let descriptors = try CLITests.run(["run", "profiles/quickstart.yaml", "--devices", "15000", "--quiet"])
            #expect(descriptors.status == 1)
            #expect(
                descriptors.stderr.contains("descriptors") && descriptors.stderr.contains("--processes"),
                "\(descriptors.stderr)"
            )
            let shards = try CLITests.run([
                "run", "profiles/quickstart.yaml", "--devices", "40000", "--processes", "1", "--quiet",
            ])
            #expect(shards.status == 1 && shards.stderr.contains("--processes 3"), "\(shards.stderr)")
            for (args, words) in [
                (["--shard", "4/4"], "--shard \"4/4\""), (["--shards", "2"], "JOB_COMPLETION_INDEX"),
                (["--start-at", "tomorrow"], "Unix time"), (["--processes", "2", "--shard", "0/2"], "drop --shard"),
                (["--hub-workers", "2"], "--processes"),
            ] {
                let r = try CLITests.run(["run", "profiles/quickstart.yaml", "--quiet"] + args)
                #expect(r.status != 0 && r.stderr.contains(words), "\(args): \(r.stderr)")
            }
        }
    }
}
