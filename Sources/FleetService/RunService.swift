public import FleetCore
public import FleetEngine
internal import FleetHub
public import FleetReport
internal import Foundation

/// `fleetstorm run` as one library entry point: the embedded hub (with a certificate made for the run when the
/// scenario asks for TLS), the fleet, the report. The CLI parses flags, calls `run`, prints and writes the result.
public struct RunService: Sendable {
    public var scenario: Scenario
    /// The profile's path and the overrides as given (they go into the report, secrets redacted).
    public var profile: String
    public var overrides: [String]
    /// Progress about once a second, and the SDK-style callbacks.
    public var progress: (@Sendable (FleetProgress) -> Void)?
    public var callbacks = DeviceCallbacks()

    public init(scenario: Scenario, profile: String, overrides: [String]) {
        self.scenario = scenario
        self.profile = profile
        self.overrides = overrides
    }

    /// What a run produced: the engine's result and the report built from it.
    public struct Outcome: Sendable {
        public var result: RunResult
        public var report: Fleetstorm_Report_V1_Report
    }

    /// Runs the fleet (cancel the calling task to stop it: the report is still built).
    public func run() async throws -> Outcome {
        var scenario = self.scenario
        var hub: EmbeddedTestHub?
        if scenario.hub.isEmbedded {
            do { hub = EmbeddedTestHub(hub: try Self.embeddedHub(for: &scenario)) } catch {
                throw FleetRunError(.hubFailed, error.description)
            }
        }
        var runner = FleetRunner(scenario: scenario, hub: hub)
        runner.progress = progress
        runner.callbacks = callbacks
        let result = try await runner.run()
        return Outcome(
            result: result,
            report: Self.report(result, scenario: scenario, profile: profile, overrides: overrides)
        )
    }

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

    /// The report of a run.
    static func report(
        _ result: RunResult,
        scenario: Scenario,
        profile: String,
        overrides: [String]
    ) -> Fleetstorm_Report_V1_Report {
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
        return ReportBuilder.build(
            facts: facts,
            snapshot: result.snapshot,
            hub: result.hub,
            cohorts: result.cohorts,
            faults: result.faults,
            predictedFirstRetryNanoseconds: scenario.predictedFirstRetries(),
            health: result.health,
            scenario: (scenario.redactedYAML, profile, Scenario.redactOverrides(overrides))
        )
    }
}
