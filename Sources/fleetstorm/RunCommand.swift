import ArgumentParser
import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetReport
import FleetService
import FleetTelemetry
import Foundation

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a fleet profile against the embedded test hub (default), an MQTT broker or an IoT hub.",
        discussion: """
            Examples:
              fleetstorm run profiles/quickstart.yaml
              fleetstorm run profiles/quickstart.yaml --devices 200 --set telemetry.messages=5 --output small.pb
              fleetstorm run profiles/quickstart.yaml --hub mqtt://127.0.0.1:1883
              fleetstorm run profiles/hub-drop-storm.yaml --hub mqtt://127.0.0.1:1883 --fault-proxy
              fleetstorm run profiles/quickstart.yaml --hub mqtts://127.0.0.1:8883 --ca-file certs/ca.pem
              fleetstorm run profiles/https-telemetry.yaml --devices 100
              fleetstorm run profiles/hub-outage.yaml --devices 6000 --processes 3
              fleetstorm run profiles/jitter-storm.yaml --ui 127.0.0.1:8080
              fleetstorm run profiles/quickstart.yaml --hub mqtt://127.0.0.1:1883 --shard 1/4 --start-at $(( $(date +%s) + 5 ))
            A shard takes a contiguous range of device ids and 1/N of the ramp rate and connect window; in a
            Kubernetes Indexed Job use --shards N (the index comes from JOB_COMPLETION_INDEX).
            Durations read like 250ms, 10s, 5m. --set takes any profile key (see profiles/README.md).
            --ui HOST:PORT serves a live page of the run (open http://HOST:PORT/ in a browser while it runs).
            """
    )

    @Argument(help: "The fleet profile (YAML), e.g. profiles/quickstart.yaml.")
    var profile: String

    @Option(
        help:
            "Target: embedded (default: the profile's hub.url), mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT/PATH, wss://HOST:PORT/PATH or https://HOST:PORT."
    )
    var hub: String?

    @Option(help: "CA certificate (PEM) the devices trust for mqtts://, wss:// and https:// (overrides hub.ca_file).")
    var caFile: String?

    @Option(
        help:
            "X.509 devices: the directory of their certificates and keys, from hub --generate-device-certs (sets auth.mode x509 and auth.certificates)."
    )
    var deviceCerts: String?

    @Flag(help: "Put the TCP fault proxy in front of an external broker so the profile's faults apply to it.")
    var faultProxy = false

    @Option(help: "Number of devices (overrides fleet.devices).")
    var devices: String?

    @Option(help: "Hard bound on the run, e.g. 90s (overrides duration).")
    var duration: String?

    @Option(help: "Seed of every random draw (overrides seed).")
    var seed: String?

    @Option(help: "Time-series bin width, 1ms to 10s (overrides bin; default 100ms).")
    var bin: String?

    @Option(
        help: "Where to write the protobuf report; a path ending in / is a directory (a shard writes shard-I.pb there)."
    )
    var output: String = "fleetstorm-report.pb"

    @Option(name: .customLong("set"), help: "Override a profile value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "No live progress line.")
    var quiet = false

    @Option(help: "Run only shard I of N (0-based): a contiguous range of the fleet's device ids, e.g. 0/4.")
    var shard: String?

    @Option(help: "Number of shards, the index taken from JOB_COMPLETION_INDEX (Kubernetes); or set FLEETSTORM_SHARDS.")
    var shards: String?

    @Option(help: "Start the fleet at this Unix time (seconds), so shards start together; or set FLEETSTORM_START_AT.")
    var startAt: String?

    @Option(
        help: "Split the fleet over N local shard processes (and hub worker processes for the embedded hub), merged."
    )
    var processes: Int?

    @Option(
        help: "Hub worker processes for --processes with the embedded hub (default: as the descriptor limit needs)."
    )
    var hubWorkers: Int?

    @Flag(help: "Progress as JSON lines on stderr (for a parent process; implies no progress line).")
    var progressJson = false

    @Option(help: "Serve live Prometheus metrics at http://HOST:PORT/metrics during the run, e.g. 127.0.0.1:9464.")
    var metrics: String?

    @Option(help: "Serve a live page at http://HOST:PORT/ during the run: the report's charts, updated every second.")
    var ui: String?

    @Option(
        help:
            "Write what the embedded hub received to this file (JSON lines: the first 1,000 messages and each device's last)."
    )
    var sample: String?

    /// The flags as profile overrides (validated by the loader exactly like the file), then the --set items.
    var profileOverrides: [String] {
        var all: [String] = []
        if let hub { all.append("hub.url=\(hub)") }
        if let caFile {
            let absolute = caFile.hasPrefix("/") ? caFile : FileManager.default.currentDirectoryPath + "/" + caFile
            all.append("hub.ca_file=\(absolute)")
        }
        if let deviceCerts {
            let absolute =
                deviceCerts.hasPrefix("/") ? deviceCerts : FileManager.default.currentDirectoryPath + "/" + deviceCerts
            all += ["auth.mode=x509", "auth.certificates=\(absolute)"]
        }
        if faultProxy { all.append("hub.fault_proxy=true") }
        if let devices { all.append("fleet.devices=\(devices)") }
        if let duration { all.append("duration=\(duration)") }
        if let seed { all.append("seed=\(seed)") }
        if let bin { all.append("bin=\(bin)") }
        return all + overrides
    }

    /// The Prometheus endpoint of --metrics, listening (nil without the flag).
    func startMetrics() async -> MetricsExporter? {
        guard let metrics else { return nil }
        let (host, port) = HubCommand.address(metrics, flag: "--metrics")
        let exporter = MetricsExporter()
        do {
            let bound = try await exporter.start(host: host, port: port)
            printErr("metrics on http://\(host):\(bound)/metrics")
        } catch { fail("--metrics \(metrics): cannot listen: \(TestHub.explain(error))") }
        return exporter
    }

    /// The live page of --ui, listening (nil without the flag).
    func startLivePage() async -> LivePage? {
        guard let ui else { return nil }
        let (host, port) = HubCommand.address(ui, flag: "--ui")
        let page = LivePage(page: LiveReport.page, body: "<p id=\"live-state\">Starting the run…</p>")
        do {
            let bound = try await page.start(host: host, port: port)
            printErr("live page on http://\(host):\(bound)/")
        } catch { fail("--ui \(ui): cannot listen: \(TestHub.explain(error))") }
        return page
    }

    func run() async throws {
        let all = profileOverrides
        let scenario: Scenario
        do { scenario = try ScenarioLoader.files.load(path: profile, overrides: all) } catch { fail(error.description) }
        if let why = scenario.needsNetlab { fail(why) }
        let environment = ProcessInfo.processInfo.environment
        let startAt = parseStartAt(
            startAt ?? environment["FLEETSTORM_START_AT"],
            flag: startAt == nil ? "FLEETSTORM_START_AT" : "--start-at"
        )
        if let processes {
            if shard != nil || shards != nil { fail("--processes starts its own shards: drop --shard / --shards") }
            try await runLocalShards(scenario: scenario, overrides: all, processes: processes, startAt: startAt)
            return
        }
        if hubWorkers != nil { fail("--hub-workers goes with --processes N") }
        if let sample, !scenario.hub.isEmbedded {
            fail(
                "--sample \(sample) keeps what the embedded hub received; this run goes to \(scenario.hub): "
                    + "sample on that hub (fleetstorm hub --sample FILE) or subscribe to it (mosquitto_sub)"
            )
        }
        let selected: Shard?
        switch Shard.resolve(shard: shard, shards: shards, environment: environment) {
        case .success(let s): selected = s
        case .failure(let e): fail("\(shard == nil ? "" : "--shard ")\(e.description)")
        }
        var service = RunService(scenario: scenario, profile: profile, overrides: all)
        service.shard = selected
        service.startAtUnixNanoseconds = startAt
        service.sample = sample.map { _ in MessageSample() }
        let (line, quiet, live, json) = (ProgressLine(), quiet || progressJson, await startMetrics(), progressJson)
        let page = await startLivePage()
        if let page {
            service.live = { report, elapsed in
                page.update(body: LiveReport.body(report, elapsedSeconds: Double(elapsed.nanoseconds) / 1e9))
            }
        }
        if let startAt, !quiet {
            // A wait of seconds or minutes before anything happens is said, not left silent.
            let wait = Double(startAt) / 1e9 - Date().timeIntervalSince1970
            if wait >= 1 {
                let when = Date(timeIntervalSince1970: Double(startAt) / 1e9).formatted(.iso8601)
                printErr(
                    "waiting \(Int(saturating: wait.rounded())) s for the shared start (--start-at, \(when)); Ctrl-C stops"
                )
            }
        }
        if !quiet || live != nil || json {
            service.progress = { p in
                if json { JSONProgress.write(p) } else if !quiet { line.update(p) }
                live?.update(p)
            }
        }
        let configured = service
        let report: Fleetstorm_Report_V1_Report
        do {
            report = try await withSignalCancellation { try await configured.run() }.report
        } catch let error as FleetRunError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
        if !quiet { line.finish() }
        await live?.stop()
        print(TextSummary.render(report))
        let path = Self.reportPath(output, shard: selected)
        do { try ReportFile.write(report, to: path) } catch { fail(error.description) }
        print("report: \(path)")
        if let sample, let kept = configured.sample { HubCommand.writeSample(kept, to: sample) }
        if let page {
            page.finish(body: LiveReport.body(report, elapsedSeconds: Double(report.run.durationNs) / 1e9, final: path))
            // A watching browser gets a moment to fetch the final state, unless Ctrl-C asked to stop now (the page
            // then says the run has ended when its next fetch finds no server).
            if !report.run.cancelled { await page.awaitFinalFetch(limit: .seconds(3)) }
            await page.stop()
        }
        if let why = NoConnection.explain(report, x509: scenario.auth?.usesX509 == true) { fail(why) }
    }

    /// `--output DIR/`: the directory (made if missing) and a name per shard, so every pod of an Indexed Job can be
    /// given the same command line.
    static func reportPath(_ output: String, shard: Shard?) -> String {
        guard output.hasSuffix("/") else { return output }
        try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        return output + (shard.map { "shard-\($0.index).pb" } ?? "fleetstorm-report.pb")
    }

    /// --processes N: the shards and hub workers as child processes of this binary, one merged report.
    func runLocalShards(scenario: Scenario, overrides: [String], processes: Int, startAt: Int64?) async throws {
        if let sample { fail("--sample \(sample) keeps one process's messages: sample a single run (no --processes)") }
        if metrics != nil || ui != nil {
            fail(
                "--\(metrics != nil ? "metrics" : "ui") shows one process's run: use it on a shard (--shard I/N), not with --processes"
            )
        }
        let plan: LocalShardPlan
        do {
            plan = try LocalShardPlan.make(
                scenario: scenario,
                processes: processes,
                hubWorkers: hubWorkers,
                limits: .current()
            )
        } catch { fail(error.description) }
        let output = Self.reportPath(self.output, shard: nil)
        let directory = output.hasSuffix(".pb") ? String(output.dropLast(3)) + ".shards" : output + ".shards"
        printErr(
            "\(plan.shards) shard processes (≤ \(plan.devicesPerShard) devices each)"
                + (plan.hubWorkers > 0 ? ", \(plan.hubWorkers) hub worker processes" : "")
                + "; their reports in \(directory)/"
        )
        var service = LocalShardsService(
            executable: currentExecutablePath(),
            profile: profile,
            scenario: scenario,
            overrides: overrides,
            plan: plan,
            directory: directory
        ) { printErr($0) }
        service.startAtUnixNanoseconds = startAt
        let line = ProgressLine()
        if !quiet { service.progress = { line.update($0) } }
        let configured = service
        let report: Fleetstorm_Report_V1_Report
        do { report = try await withSignalCancellation { try await configured.run() } } catch let error as FleetRunError
        {
            fail(error.description)
        }
        if !quiet { line.finish() }
        print(TextSummary.render(report))
        do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
        print("report: \(output)")
        let failed = report.run.shards.filter { $0.status != "ok" && $0.status != "cancelled" }
        if !failed.isEmpty { Foundation.exit(3) }
        if let why = NoConnection.explain(report) { fail(why) }
    }
}
