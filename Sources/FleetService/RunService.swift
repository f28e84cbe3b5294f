public import FleetCore
public import FleetEngine
internal import FleetHub
public import FleetHubCore
internal import FleetMetrics
public import FleetReport
internal import Foundation

/// `fleetstorm run` as one library entry point: the embedded hub (with a certificate made for the run when the
/// scenario asks for TLS), the fleet, the report. The CLI parses flags, calls `run`, prints and writes the result.
public struct RunService: Sendable {
    /// The whole fleet's scenario (a shard runs its share of it).
    public var scenario: Scenario
    /// This process's share of the fleet (nil: all of it).
    public var shard: Shard?
    /// Wall-clock start (Unix nanoseconds) shared by every shard (nil: at once).
    public var startAtUnixNanoseconds: Int64?
    /// The profile's path and the overrides as given (they go into the report, secrets redacted).
    public var profile: String
    public var overrides: [String]
    /// Progress about once a second, and the SDK-style callbacks.
    public var progress: (@Sendable (FleetProgress) -> Void)?
    public var callbacks = DeviceCallbacks()
    /// About once a second, the report of the run so far and the time since its start (`run --ui`; nil: none made).
    public var live: (@Sendable (Fleetstorm_Report_V1_Report, Duration) -> Void)?
    /// The embedded hub keeps what the devices sent here (`run --sample FILE`; nil: nothing kept).
    public var sample: MessageSample?

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
        if let why = scenario.needsNetlab { throw FleetRunError(.netlab, why) }
        if let shard {
            do { scenario = try scenario.sharded(shard) } catch {
                throw FleetRunError(.shard, "--shard \(shard): \(error)")
            }
        }
        var hub: EmbeddedTestHub?
        if scenario.hub.isEmbedded {
            hub = try Self.embeddedTestHub(for: &scenario, sample: sample)
        }
        var runner = FleetRunner(scenario: scenario, hub: hub)
        runner.progress = progress
        runner.callbacks = callbacks
        if let live {
            let (running, started) = (scenario, Int64(saturating: Date().timeIntervalSince1970 * 1e9))
            runner.snapshots = { sample in
                live(Self.interimReport(sample, scenario: running, started: started), sample.elapsed)
            }
        }
        runner.startAtUnixNanoseconds = startAtUnixNanoseconds
        let result = try await runner.run()
        return Outcome(
            result: result,
            report: Self.report(
                result,
                scenario: scenario,
                whole: self.scenario,
                profile: profile,
                overrides: overrides
            )
        )
    }

    /// The embedded hub checks exactly the credentials the scenario's devices present. With `hub.tls: true` (or
    /// `hub.https: true`, the HTTPS device API) it listens with TLS only, on a certificate made for this run, and the devices trust that CA.
    /// The embedded hub a run of `scenario` talks to, as the engine's adapter (the scenario gains the run's CA when
    /// the hub listens with TLS).
    public static func embeddedTestHub(
        for scenario: inout Scenario,
        sample: MessageSample? = nil
    ) throws(FleetRunError) -> EmbeddedTestHub {
        do { return EmbeddedTestHub(hub: try embeddedHub(for: &scenario, sample: sample)) } catch {
            throw FleetRunError(.hubFailed, error.description)
        }
    }

    static func embeddedHub(for scenario: inout Scenario, sample: MessageSample? = nil) throws(HubError) -> TestHub {
        var configuration = HubConfiguration(scenario: scenario)
        configuration.sample = sample
        let webSocket = scenario.hub.webSocketPath != nil
        if scenario.auth?.usesX509 == true && scenario.tls == nil {
            throw HubError(
                address: "-",
                reason: "auth.mode x509: devices present certificates in the TLS handshake; set hub.tls: true"
            )
        }
        if scenario.tls != nil {
            let bundle = try HubCertificates.generate(host: scenario.auth?.hubHost ?? "fleetstorm.local")
            // X.509 devices without certificate files: a fleet CA for the run, which the hub trusts, and a
            // certificate per device.
            var devices: [String: DeviceAuth.Certificate] = [:]
            var clientCAs: String?
            if case .x509(let directory) = scenario.auth?.keys {
                if let directory {
                    guard let ca = try? String(contentsOfFile: directory + "/ca.pem", encoding: .utf8) else {
                        throw HubError(address: directory, reason: "auth.certificates: no ca.pem in \(directory)")
                    }
                    clientCAs = ca
                } else {
                    let ca = try DeviceCertificates.makeCA()
                    let fleet = scenario.fleet
                    devices = try DeviceCertificates.issue((0..<fleet.devices).map { fleet.deviceID($0) }, by: ca)
                    clientCAs = ca.certificatePEM
                }
            }
            configuration.tls = try HubTLS(
                certificatePEM: bundle.serverPEM,
                keyPEM: bundle.serverKeyPEM,
                clientCertificates: clientCAs
            )
            if scenario.hub.https {
                configuration.httpsListen = configuration.listen
            } else if webSocket {
                // MQTT or AMQP over WebSockets: the WebSocket front serves both (by subprotocol).
                configuration.wssListen = configuration.listen
            } else if scenario.hub.amqp && !scenario.mixesTransports {
                configuration.amqpsListen = configuration.listen
            } else {
                configuration.tlsListen = configuration.listen
            }
            configuration.listen = []
            var settings = scenario.tls ?? Scenario.TLS()
            settings.caPEM = bundle.caPEM
            settings.deviceCertificates = devices
            settings.serverName = settings.serverName ?? "localhost"
            scenario.tls = settings
        }
        if webSocket && scenario.tls == nil {
            configuration.wsListen = configuration.listen
            configuration.listen = []
        }
        if scenario.hub.amqp && !webSocket && scenario.tls == nil && !scenario.mixesTransports {
            configuration.amqpListen = configuration.listen
            configuration.listen = []
        }
        // MQTT and AMQP cohorts in one run: one port serves both, told apart by each connection's first byte.
        configuration.mqttListenersServeAMQP = scenario.mixesTransports
        return TestHub(configuration: configuration)
    }

    /// The report of a run.
    static func report(
        _ result: RunResult,
        scenario: Scenario,
        whole: Scenario? = nil,
        profile: String,
        overrides: [String]
    ) -> Fleetstorm_Report_V1_Report {
        var facts = RunFacts(
            profileName: scenario.name,
            seed: scenario.seed,
            devices: scenario.fleet.devices,
            startedUnixNanoseconds: result.startedUnixNanoseconds,
            durationNanoseconds: result.duration.nanoseconds,
            target: (scenario.hub.isEmbedded ? "embedded (\(result.target))" : result.target)
                + (scenario.link.map {
                    " over an emulated link (rtt \($0.rtt.formatted), loss \($0.loss)\($0.bitsPerSecond.map { ", \(Int($0)) bit/s" } ?? ""))"
                } ?? ""),
            mqttVersion: scenario.mqtt.version.description,
            hitDeadline: result.hitDeadline,
            cancelled: result.cancelled,
            malformedPackets: result.malformedPackets
        )
        facts.shard = scenario.fleet.shard
        facts.firstDevice = scenario.fleet.firstIndex
        facts.fleetDevices = scenario.fleet.wholeFleetDevices ?? scenario.fleet.devices
        return ReportBuilder.build(
            facts: facts,
            snapshot: result.snapshot,
            hub: result.hub,
            cohorts: result.cohorts,
            faults: result.faults,
            predictedRetryNanoseconds: scenario.predictedRetries(),
            health: result.health,
            scenario: (Self.yaml(scenario, whole: whole), profile, Scenario.redactOverrides(overrides))
        )
    }

    /// The report of a run still going: what the devices and the embedded hub have seen so far and the faults
    /// started (no generator health yet).
    static func interimReport(_ sample: LiveSample, scenario: Scenario, started: Int64) -> Fleetstorm_Report_V1_Report {
        let facts = RunFacts(
            profileName: scenario.name,
            seed: scenario.seed,
            devices: scenario.fleet.devices,
            startedUnixNanoseconds: started,
            durationNanoseconds: sample.elapsed.nanoseconds,
            target: scenario.hub.description,
            mqttVersion: scenario.mqtt.version.description
        )
        return ReportBuilder.build(facts: facts, snapshot: sample.snapshot, hub: sample.hub, faults: sample.faults)
    }

    /// What ran: the whole fleet's profile, and for a shard a first comment line naming its share.
    static func yaml(_ scenario: Scenario, whole: Scenario?) -> String {
        guard let shard = scenario.fleet.shard, let whole else { return scenario.redactedYAML }
        let first = scenario.fleet.firstIndex
        return "# shard \(shard) of this fleet: devices \(first) ..< \(first + scenario.fleet.devices) "
            + "(ramp rate and connect window divided by \(shard.count))\n" + whole.redactedYAML
    }
}
