import ArgumentParser
import FleetCore
import FleetEngine
import FleetHub
import FleetReport
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

    /// The embedded hub checks exactly the credentials the scenario's devices present. With `hub.tls: true` it
    /// listens with TLS only, on a certificate made for this run, and the devices trust that CA.
    static func embeddedHub(for scenario: inout Scenario) throws(HubError) -> TestHub {
        var configuration = HubConfiguration()
        configuration.auth = HubAuthenticator(matching: scenario.auth)
        configuration.quotas = HubQuotas(scenario.quota)
        configuration.cloudToDeviceInterval = scenario.c2dInterval
        configuration.seriesBin = scenario.bin
        if scenario.tls != nil {
            let bundle = try HubCertificates.generate(host: scenario.auth?.hubHost ?? "fleetstorm.local")
            configuration.tls = try HubTLS(certificatePEM: bundle.serverPEM, keyPEM: bundle.serverKeyPEM)
            configuration.tlsListen = configuration.listen
            configuration.listen = []
            var settings = scenario.tls ?? Scenario.TLS()
            settings.caPEM = bundle.caPEM
            settings.serverName = settings.serverName ?? "localhost"
            scenario.tls = settings
        }
        return TestHub(configuration: configuration)
    }

    /// The first-retry delays the fleet's policies predict, sampled in proportion to the cohorts' sizes (for the
    /// KS distance between what the policy promises and what the run shows).
    static func predictedFirstRetries(_ scenario: Scenario, samples: Int = 10_000) -> [Int64] {
        var rng = SplitMix64(seed: scenario.seed ^ 0x9E37_79B9_7F4A_7C15)
        let cohorts = scenario.effectiveCohorts
        let total = max(1, cohorts.reduce(0) { $0 + $1.devices })
        var out: [Int64] = []
        for c in cohorts {
            let n = samples * c.devices / total
            for _ in 0..<n {
                if let d = c.retry.policy.delay(attempt: 1, previous: nil, using: &rng) { out.append(d.nanoseconds) }
            }
        }
        return out
    }

    func run() async throws {
        var all: [String] = []
        if let hub { all.append("hub.url=\(hub)") }
        if let caFile {
            all.append(
                "hub.ca_file=\(caFile.hasPrefix("/") ? caFile : FileManager.default.currentDirectoryPath + "/" + caFile)"
            )
        }
        if faultProxy { all.append("hub.fault_proxy=true") }
        if let devices { all.append("fleet.devices=\(devices)") }
        if let duration { all.append("duration=\(duration)") }
        if let seed { all.append("seed=\(seed)") }
        if let bin { all.append("bin=\(bin)") }
        all += overrides
        var scenario: Scenario
        do { scenario = try ScenarioLoader.files.load(path: profile, overrides: all) } catch { fail(error.description) }
        var hub: TestHub?
        if scenario.hub.isEmbedded {
            do { hub = try Self.embeddedHub(for: &scenario) } catch { fail(error.description) }
        }
        var runner = FleetRunner(scenario: scenario, hub: hub.map { EmbeddedTestHub(hub: $0) })
        let line = ProgressLine()
        var exporter: MetricsExporter?
        if let metrics {
            let (host, port) = HubCommand.address(metrics, flag: "--metrics")
            let e = MetricsExporter()
            do {
                let bound = try await e.start(host: host, port: port)
                printErr("metrics on http://\(host):\(bound)/metrics")
            } catch { fail("--metrics \(metrics): cannot listen (\(error)); pick a free port") }
            exporter = e
        }
        let quiet = self.quiet
        let live = exporter
        if !quiet || live != nil {
            runner.progress = { p in
                if !quiet { line.update(p) }
                live?.update(p)
            }
        }
        let configured = runner
        let result: RunResult
        do {
            result = try await withSignalCancellation { try await configured.run() }
        } catch let error as FleetRunError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
        if !quiet { line.finish() }
        await exporter?.stop()
        let facts = RunFacts(
            profileName: scenario.name,
            seed: scenario.seed,
            devices: scenario.fleet.devices,
            startedUnixNanoseconds: result.startedUnixNanoseconds,
            durationNanoseconds: result.duration.nanoseconds,
            target: scenario.hub.isEmbedded ? "embedded (\(result.target))" : result.target,
            mqttVersion: scenario.mqtt.version.description,
            hitDeadline: result.hitDeadline,
            cancelled: result.cancelled,
            malformedPackets: result.malformedPackets
        )
        let cohorts = result.cohorts.map {
            ReportBuilder.CohortPart(
                name: $0.name,
                sdk: $0.sdk,
                policy: $0.policy,
                devices: $0.devices,
                snapshot: $0.snapshot
            )
        }
        let report = ReportBuilder.build(
            facts: facts,
            snapshot: result.snapshot,
            hub: result.hub,
            cohorts: cohorts,
            faults: result.faults,
            predictedFirstRetryNanoseconds: Self.predictedFirstRetries(scenario),
            health: result.health,
            scenario: (scenario.redactedYAML, profile, Scenario.redactOverrides(all))
        )
        print(TextSummary.render(report))
        do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
        print("report: \(output)")
    }
}
