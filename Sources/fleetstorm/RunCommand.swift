import ArgumentParser
import FleetCore
import FleetEngine
import FleetHub
import FleetReport
import FleetService
import FleetTelemetry
import Foundation

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a fleet profile against the embedded test hub (default) or an MQTT broker.",
        discussion: """
            Examples:
              fleetstorm run profiles/quickstart.yaml
              fleetstorm run profiles/quickstart.yaml --devices 200 --set telemetry.messages=5 --output small.pb
              fleetstorm run profiles/quickstart.yaml --hub mqtt://127.0.0.1:1883
              fleetstorm run profiles/hub-drop-storm.yaml --hub mqtt://127.0.0.1:1883 --fault-proxy
              fleetstorm run profiles/quickstart.yaml --hub mqtts://127.0.0.1:8883 --ca-file certs/ca.pem
            Durations read like 250ms, 10s, 5m. --set takes any profile key (see profiles/README.md).
            """
    )

    @Argument(help: "The fleet profile (YAML), e.g. profiles/quickstart.yaml.")
    var profile: String

    @Option(help: "Target: embedded (default: the profile's hub.url), mqtt://HOST:PORT or mqtts://HOST:PORT.")
    var hub: String?

    @Option(help: "CA certificate (PEM) the devices trust for mqtts:// (overrides hub.ca_file).")
    var caFile: String?

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

    @Option(help: "Where to write the protobuf report.")
    var output: String = "fleetstorm-report.pb"

    @Option(name: .customLong("set"), help: "Override a profile value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "No live progress line.")
    var quiet = false

    @Option(help: "Serve live Prometheus metrics at http://HOST:PORT/metrics during the run, e.g. 127.0.0.1:9464.")
    var metrics: String?

    /// The flags as profile overrides (validated by the loader exactly like the file), then the --set items.
    var profileOverrides: [String] {
        var all: [String] = []
        if let hub { all.append("hub.url=\(hub)") }
        if let caFile {
            let absolute = caFile.hasPrefix("/") ? caFile : FileManager.default.currentDirectoryPath + "/" + caFile
            all.append("hub.ca_file=\(absolute)")
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
        } catch { fail("--metrics \(metrics): cannot listen (\(error)); pick a free port") }
        return exporter
    }

    func run() async throws {
        let all = profileOverrides
        let scenario: Scenario
        do { scenario = try ScenarioLoader.files.load(path: profile, overrides: all) } catch { fail(error.description) }
        var service = RunService(scenario: scenario, profile: profile, overrides: all)
        let (line, quiet, live) = (ProgressLine(), quiet, await startMetrics())
        if !quiet || live != nil {
            service.progress = { p in
                if !quiet { line.update(p) }
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
        do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
        print("report: \(output)")
    }
}
