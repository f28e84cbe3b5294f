import FleetMetrics
import FleetReport
import Foundation
import Histogram
import Testing
import Yams

extension SecondLaneTests {
    /// deploy/kubernetes: the manifests validate offline against a pinned Kubernetes version, and the command lines
    /// their pods run, read from the manifests themselves, run here with the environment Kubernetes gives them
    /// (JOB_COMPLETION_INDEX per pod, FLEETSTORM_START_AT): 4 shards, the hub, then the merge Job.
    @Suite("Kubernetes manifests", .serialized)
    struct KubernetesTests {
        static let directory = Env.repo.appendingPathComponent("deploy/kubernetes")
        static let kubernetesVersion = "1.30.0"

        static func manifests() throws -> [String: [String: Any]] {
            var out: [String: [String: Any]] = [:]
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path)
            where file.hasSuffix(".yaml") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                for case let doc as [String: Any] in try Yams.load_all(yaml: text) {
                    let kind = doc["kind"] as? String ?? "?"
                    let name = (doc["metadata"] as? [String: Any])?["name"] as? String ?? "?"
                    out["\(kind)/\(name)"] = doc
                }
            }
            return out
        }

        /// The one container of a workload: its command + args, and its literal env values.
        static func container(_ doc: [String: Any]?) throws -> (argv: [String], env: [String: String]) {
            let spec = try #require(
                ((doc?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
            )
            let c = try #require((spec["containers"] as? [[String: Any]])?.first)
            let argv = (c["command"] as? [String] ?? []) + (c["args"] as? [String] ?? [])
            var env: [String: String] = [:]
            for e in c["env"] as? [[String: Any]] ?? [] {
                if let n = e["name"] as? String, let v = e["value"] as? String { env[n] = v }
            }
            return (argv, env)
        }

        static var validator: String? { Env.which("kubernetes-validate") }

        @Test(.enabled(if: validator != nil || Env.isCI, "kubernetes-validate not installed (.ci/run installs it)"))
        func manifestsValidateAndTheValidatorBites() throws {
            let tool = try #require(Self.validator, "kubernetes-validate must be installed in CI")
            let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter {
                $0.hasSuffix(".yaml")
            }
            #expect(files.count >= 5)
            let ok = try CLITests.run(
                ["-k", Self.kubernetesVersion, "--strict"]
                    + files.map { Self.directory.appendingPathComponent($0).path },
                tool: tool
            )
            #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
            // The same Job with a misspelt field must fail: the check is not a no-op.
            let broken = CLITests.temp("broken-job.yaml")
            defer { try? FileManager.default.removeItem(atPath: broken) }
            let job = try String(contentsOf: Self.directory.appendingPathComponent("shards-job.yaml"), encoding: .utf8)
            try job.replacingOccurrences(
                of: "completionMode: Indexed",
                with: "completionMode: Indexed\n  completionz: 4"
            )
            .write(toFile: broken, atomically: true, encoding: .utf8)
            let bad = try CLITests.run(["-k", Self.kubernetesVersion, "--strict", broken], tool: tool)
            #expect(bad.status != 0, "\(bad.stdout)")
        }

        @Test func podCommandLinesRunLocallyAndTheMergeIsTheSumOfTheShards() async throws {
            let all = try Self.manifests()
            let profileText = try #require(
                ((all["ConfigMap/fleetstorm-profile"]?["data"]) as? [String: String])?["profile.yaml"]
            )
            let hub = try Self.container(all["Deployment/fleetstorm-hub"])
            let shards = try Self.container(all["Job/fleetstorm-shards"])
            let merge = try Self.container(all["Job/fleetstorm-merge"])
            let jobSpec = try #require(all["Job/fleetstorm-shards"]?["spec"] as? [String: Any])
            let completions = try #require(jobSpec["completions"] as? Int)
            #expect(jobSpec["completionMode"] as? String == "Indexed")
            #expect(
                shards.argv.contains("--shards")
                    && shards.argv[shards.argv.firstIndex(of: "--shards")! + 1] == "\(completions)"
            )

            // What differs between a pod and this machine: the mounts' paths, the hub Service's address.
            let root = CLITests.temp("k8s")
            try? FileManager.default.removeItem(atPath: root)
            try FileManager.default.createDirectory(atPath: root + "/reports", withIntermediateDirectories: true)
            try profileText.write(toFile: root + "/profile.yaml", atomically: true, encoding: .utf8)
            let port = try Env.freePort()
            func local(_ argv: [String]) -> [String] {
                argv.map {
                    $0.replacingOccurrences(of: "/etc/fleetstorm/", with: root + "/")
                        .replacingOccurrences(of: "/reports/", with: root + "/reports/")
                        .replacingOccurrences(of: "0.0.0.0:1883", with: "127.0.0.1:\(port)")
                        .replacingOccurrences(of: "fleetstorm-hub:1883", with: "127.0.0.1:\(port)")
                        .replacingOccurrences(of: "fleetstorm ", with: CLITests.binary + " ")
                }
            }
            let startAt = String(Int(Date().timeIntervalSince1970) + 4)
            var hubEnv = hub.env
            hubEnv["FLEETSTORM_START_AT"] = startAt  // as the README says: set before each rehearsal
            #expect(hub.argv.first == "fleetstorm" && shards.argv.first == "fleetstorm")
            let hubProcess = try Self.start(CLITests.binary, Array(local(hub.argv).dropFirst()), env: hubEnv)
            defer { if hubProcess.isRunning { kill(hubProcess.processIdentifier, SIGKILL) } }
            try await Self.waitForListener(port: port)
            var pods: [Process] = []
            for index in 0..<completions {
                var env = shards.env
                env["FLEETSTORM_START_AT"] = startAt
                env["JOB_COMPLETION_INDEX"] = String(index)  // what an Indexed Job gives each pod
                pods.append(try Self.start(CLITests.binary, Array(local(shards.argv).dropFirst()), env: env))
            }
            for p in pods {
                Self.wait(p)
                #expect(p.terminationStatus == 0, "a shard pod failed")
            }
            kill(hubProcess.processIdentifier, SIGTERM)  // kubectl delete deployment: SIGTERM, the hub writes hub.pb
            Self.wait(hubProcess)
            #expect(hubProcess.terminationStatus == 0)
            let mergeRun = try Self.start(merge.argv[0], Array(local(merge.argv).dropFirst()), env: [:])
            Self.wait(mergeRun)
            #expect(mergeRun.terminationStatus == 0, "the merge Job's command failed")

            let parts = try (0..<completions).map { try ReportFile.read("\(root)/reports/shard-\($0).pb") }
            let hubReport = try ReportFile.read("\(root)/reports/hub.pb")
            let m = try ReportFile.read("\(root)/reports/fleet.pb")
            #expect(FileManager.default.fileExists(atPath: "\(root)/reports/fleet.html"))
            try Self.expectSum(m, parts, hub: hubReport)
        }

        /// The merged report against the shards summed here, field by field, and against the hub's own counts.
        static func expectSum(
            _ m: Fleetstorm_Report_V1_Report,
            _ parts: [Fleetstorm_Report_V1_Report],
            hub: Fleetstorm_Report_V1_Report
        ) throws {
            func sum(_ f: (Fleetstorm_Report_V1_Report) -> UInt64) -> UInt64 { parts.map(f).reduce(0, +) }
            #expect(m.run.devices == 1000 && sum(\.run.devices) == 1000)
            #expect(m.run.shards.map(\.status) == Array(repeating: "ok", count: parts.count))
            #expect(m.accounting.generated == sum(\.accounting.generated) && m.accounting.generated == 6000)
            #expect(m.accounting.acked == sum(\.accounting.acked))
            #expect(m.connections.attempts == sum(\.connections.attempts))
            #expect(m.connections.accepted == sum(\.connections.accepted))
            #expect(
                m.hub.connectionsAccepted == hub.hub.connectionsAccepted
                    && hub.hub.connectionsAccepted == m.connections.accepted
            )
            #expect(hub.hub.devicesSeen == 1000 && hub.hub.messagesReceived - hub.hub.duplicates == 6000)
            // Histograms: decoded from hdr_v2 and added here, then compared at every percentile.
            for h in m.histograms {
                var total: Histogram<UInt64>?
                for p in parts {
                    for s in p.histograms where s.name == h.name && s.attempt == h.attempt && s.phase == h.phase {
                        let d = try HdrV2.decode(Array(s.hdrV2))
                        if total == nil { total = d } else { total!.add(d) }
                    }
                }
                let mine = try HdrV2.decode(Array(h.hdrV2))
                let theirs = try #require(total, "\(h.name) has no shard histogram")
                #expect(mine.totalCount == theirs.totalCount && h.count == theirs.totalCount, "\(h.name)")
                for q in [50.0, 90.0, 99.0, 99.9, 100.0] {
                    #expect(mine.valueAtPercentile(q) == theirs.valueAtPercentile(q), "\(h.name) p\(q)")
                }
            }
            // Series: the shards started at one instant (FLEETSTORM_START_AT), so bins line up one to one.
            for s in m.series.series {
                let sources = s.name.hasPrefix("hub_") ? [hub] : parts
                var expected = Array(repeating: UInt64(0), count: s.values.count)
                for p in sources {
                    guard let own = p.series.series.first(where: { $0.name == s.name }) else { continue }
                    let shift = Int((p.run.startedUnixNs - m.run.startedUnixNs + m.series.binNs / 2) / m.series.binNs)
                    #expect(shift == 0, "\(s.name): a shard started a bin late")
                    for (i, v) in own.values.enumerated() where shift + i < expected.count { expected[shift + i] += v }
                }
                #expect(s.values == expected, "series \(s.name)")
            }
            let storm = try #require(m.storms.first { $0.fault == "drop@5s" })
            #expect(storm.affected == 1000 && storm.recovered == 1000, "\(storm)")
        }

        static func start(_ tool: String, _ args: [String], env: [String: String]) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool.hasPrefix("/") ? tool : Env.which(tool) ?? tool)
            p.arguments = args
            p.currentDirectoryURL = Env.repo
            var environment = ProcessInfo.processInfo.environment
            environment["JOB_COMPLETION_INDEX"] = nil
            environment["FLEETSTORM_SHARDS"] = nil
            for (k, v) in env { environment[k] = v }
            p.environment = environment
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            return p
        }

        /// Waits for a child without Foundation's waitUntilExit (it spins a core on a thread with no run loop work).
        static func wait(_ p: Process) {
            while p.isRunning { usleep(20_000) }
        }

        static func waitForListener(port: Int) async throws {
            for _ in 0..<200 {
                if (try? CLITests.run(["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"], tool: "/bin/bash"))?.status == 0 {
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw TestFailure("the hub did not listen on \(port)")
        }
    }
}
