import ArgumentParser
import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetReport
import FleetService
import Foundation

struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Run the test hub standalone until SIGINT/SIGTERM (or --duration).",
        discussion: """
            Examples:
              fleetstorm hub --listen 127.0.0.1:1883 --output hub-report.pb
              fleetstorm hub --generate-cert certs --host myhub.local
              fleetstorm hub --generate-device-certs certs/devices --devices 100
              fleetstorm hub --tls-listen 127.0.0.1:8883 --tls-cert certs/server.pem --tls-key certs/server-key.pem --host myhub.local --x509-ca certs/devices/ca.pem
              fleetstorm hub --listen 127.0.0.1:1883 --tls-listen 127.0.0.1:8883 --tls-cert certs/server.pem --tls-key certs/server-key.pem --host myhub.local --group-key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
              fleetstorm hub --listen 127.0.0.1:1883 --faults faults.yaml --tier S1
              fleetstorm hub --https-listen 127.0.0.1:8443 --tls-cert certs/server.pem --tls-key certs/server-key.pem --host myhub.local --group-key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
              fleetstorm hub --amqp-listen 127.0.0.1:5672 --host myhub.local --group-key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
              fleetstorm hub --listen 127.0.0.1:1883 --profile profiles/hub-outage.yaml --workers 4 --output hub.pb
              fleetstorm hub --listen 127.0.0.1:1883 --profile profiles/thermostat-fleet.yaml --sample received.jsonl
            then, in another shell:
              fleetstorm run profiles/quickstart.yaml --hub mqtt://127.0.0.1:1883
            A fault file holds a profile's faults: list, e.g. faults: [{at: 30s, kind: drop, fraction: 0.5}].
            --profile serves the hub a profile's devices expect (its auth, tier, C2D, faults), as `run` embeds it.
            --workers N runs N hub processes on the same port (SO_REUSEPORT): each plays the whole fault timeline on
            its own connections from one shared start, and enforces 1/N of the tier's rates and daily quota.
            """
    )

    @Option(help: "Address to listen on, HOST:PORT (repeatable; port 0 picks a free one below 32768).")
    var listen: [String] = []

    @Option(help: "Address for MQTT over TLS, HOST:PORT (repeatable; needs --tls-cert and --tls-key).")
    var tlsListen: [String] = []

    @Option(help: "Address for MQTT over WebSockets (ws://HOST:PORT/$iothub/websocket, subprotocol mqtt; repeatable).")
    var wsListen: [String] = []

    @Option(help: "Address for MQTT over WebSockets over TLS (wss://; needs --tls-cert and --tls-key; repeatable).")
    var wssListen: [String] = []

    @Option(
        help:
            "Address for IoT Hub's HTTPS device API (https://HOST:PORT: POST telemetry, GET/DELETE C2D; needs --tls-cert and --tls-key; repeatable)."
    )
    var httpsListen: [String] = []

    @Option(help: "Address for AMQP 1.0 (amqp://HOST:PORT: SASL, CBS put-token, telemetry and C2D links; repeatable).")
    var amqpListen: [String] = []

    @Option(help: "Address for AMQP 1.0 over TLS (amqps://, IoT Hub's port 5671; needs --tls-cert and --tls-key).")
    var amqpsListen: [String] = []

    @Option(help: "Server certificate chain (PEM) for the TLS listeners.")
    var tlsCert: String?

    @Option(help: "Server private key (PEM) for the TLS listeners.")
    var tlsKey: String?

    @Option(
        help:
            "Write a CA and a server certificate for --host into this directory (ca.pem, server.pem, server-key.pem), then exit."
    )
    var generateCert: String?

    @Option(
        help:
            "Write a device CA and a certificate and key per device ({id}.pem, {id}-key.pem; X.509 devices, auth.certificates) into this directory, then exit."
    )
    var generateDeviceCerts: String?

    @Option(help: "With --generate-device-certs: how many devices (ids as a profile's fleet: --id-prefix + index).")
    var devices: Int = 100

    @Option(help: "With --generate-device-certs: the device id prefix (a profile's fleet.id_prefix).")
    var idPrefix: String = "device-"

    @Option(help: "Authenticate devices by X.509: accept certificates from this CA (PEM) that name the device.")
    var x509Ca: String?

    @Option(help: "Authenticate devices by X.509: accept the certificates whose thumbprint a line ID THUMBPRINT lists.")
    var x509Thumbprints: String?

    @Option(help: "Where to write the hub's protobuf report on exit.")
    var output: String?

    @Option(
        help:
            "Write what devices sent to this file on exit (JSON lines: the first --sample-limit messages and each device's last; bodies up to 64 KiB)."
    )
    var sample: String?

    @Option(help: "With --sample: how many messages to keep in arrival order.")
    var sampleLimit: Int = 1_000

    @Option(help: "Stop by itself after this long, e.g. 10m.")
    var duration: String?

    @Option(help: "The hub's host name: devices use it in their username and SAS token; certificates are made for it.")
    var host: String = "fleetstorm.local"

    @Option(help: "Accept devices whose key derives from this DPS group key (base64).")
    var groupKey: String?

    @Option(help: "Accept the devices of this registry file: devices: [{id: dev-1, key: BASE64, disabled: true}].")
    var registry: String?

    @Flag(help: "Plain MQTT load: no credentials checked and any topic accepted.")
    var anonymous = false

    @Option(help: "IoT Hub tier whose connection and D2C throttles to enforce: F1, B1, S1, B2, S2, B3, S3.")
    var tier: String?

    @Option(help: "Units of the tier.")
    var units: Int = 1

    @Option(help: "Tolerate an expired token this long before dropping the connection, e.g. 10m.")
    var expiryGrace: String = "0"

    @Option(help: "Fault timeline (YAML: faults: [...] as in profiles), times from the hub's start.")
    var faults: String?

    @Option(help: "Send every device that connected one cloud-to-device message this often, e.g. 5s.")
    var c2dInterval: String?

    @Option(help: "Serve the hub this profile's devices expect: its auth, tier, C2D interval and faults.")
    var profile: String?

    @Option(name: .customLong("set"), help: "Override a value of --profile: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "Run N hub worker processes on the same listen addresses (SO_REUSEPORT), one merged report.")
    var workers: Int?

    @Option(help: "This process is hub worker I of N (set by --workers): SO_REUSEPORT and 1/N of the tier's quotas.")
    var worker: String?

    @Option(
        help:
            "Start the hub's clock and faults at this Unix time (seconds), as the shards' --start-at; or FLEETSTORM_START_AT."
    )
    var startAt: String?

    func run() async throws {
        if let workers {
            try await serveWorkers(workers)
            return
        }
        if let generateDeviceCerts {
            generateDeviceCertificates(into: generateDeviceCerts)
            return
        }
        if let generateCert {
            do {
                let paths = try HubCertificates.write(HubCertificates.generate(host: host), to: generateCert)
                for p in paths { print(p) }
                print("clients trust \(paths[0]); start the hub with --tls-cert \(paths[1]) --tls-key \(paths[2])")
            } catch { fail("--generate-cert \(error.description)") }
            return
        }
        let limit = duration.map { text in
            guard let d = Duration.parse(text) else { fail("--duration \(text): expected e.g. 90s or 10m") }
            return d
        }
        var timeline: [Scenario.Fault] = []
        if let faults {
            do { timeline = try ScenarioLoader.files.loadFaults(path: faults) } catch { fail(error.description) }
        }
        var configuration = hubConfiguration()
        if let profile {
            let given = [
                ("--group-key", groupKey != nil), ("--registry", registry != nil), ("--anonymous", anonymous),
                ("--tier", tier != nil), ("--faults", faults != nil), ("--c2d-interval", c2dInterval != nil),
            ]
            if let (flag, _) = given.first(where: \.1) {
                fail(
                    "\(flag) and --profile both say what the hub does: the profile sets auth, tier, C2D and faults; drop \(flag)"
                )
            }
            let scenario: Scenario
            do { scenario = try ScenarioLoader.files.load(path: profile, overrides: overrides) } catch {
                fail(error.description)
            }
            if scenario.tls != nil && tlsListen.isEmpty {
                fail("--profile \(profile) asks for TLS (hub.tls): give --tls-listen with --tls-cert and --tls-key")
            }
            let x509Flags = x509Ca != nil || x509Thumbprints != nil
            if scenario.auth?.usesX509 == true && !x509Flags {
                fail(
                    "--profile \(profile) authenticates devices by certificate (auth.mode x509): give --x509-ca with "
                        + "the CA that signed them, or --x509-thumbprints"
                )
            }
            if x509Flags && scenario.auth?.usesX509 != true {
                fail("--x509-ca / --x509-thumbprints: --profile \(profile) does not use auth.mode x509; drop them")
            }
            let own = HubConfiguration(scenario: scenario)
            // X.509: who is trusted comes from the flags (the CA file, the thumbprints), the rest from the profile.
            configuration.auth = x509Flags ? configuration.auth : own.auth
            configuration.quotas = own.quotas
            (configuration.cloudToDeviceInterval, configuration.seriesBin) = (own.cloudToDeviceInterval, own.seriesBin)
            timeline = scenario.faults.filter { !$0.kind.isNetwork }  // netlab breaks the links, not the hub
        }
        if profile == nil && !overrides.isEmpty { fail("--set changes a --profile: give the profile too") }
        if let sample {
            guard (0...1_000_000).contains(sampleLimit) else {
                fail("--sample-limit \(sampleLimit): expected 0 … 1,000,000")
            }
            if worker != nil {
                fail("--sample \(sample): a hub worker keeps no sample; sample a single hub (no --workers)")
            }
            configuration.sample = MessageSample(limit: sampleLimit)
        }
        if let worker {
            guard case .success(let w) = Shard.parse(worker) else { fail("--worker \(worker): expected I/N, e.g. 0/4") }
            configuration.reusePort = true
            configuration.workers = w.count
        }
        try await serve(configuration, faults: timeline, limit: limit)
    }

    /// --workers N: this process starts N workers of itself and merges their reports.
    private func serveWorkers(_ n: Int) async throws {
        guard (1...64).contains(n) else { fail("--workers \(n): expected 1 … 64") }
        if worker != nil { fail("--worker is set by --workers for its children: give one of them") }
        if generateCert != nil { fail("--generate-cert makes files and exits: drop --workers") }
        if let sample { fail("--sample \(sample): workers keep no sample; sample a single hub (drop --workers)") }
        let start = parseStartAt(startAt, flag: "--start-at")
        let directory = (output.map { $0.hasSuffix(".pb") ? String($0.dropLast(3)) : $0 } ?? "hub") + ".workers"
        let own = removingOptions(
            ["--workers", "--listen", "--tls-listen", "--output", "--start-at", "--worker"],
            from: Array(CommandLine.arguments.dropFirst())
        )
        var service = HubWorkersService(
            executable: currentExecutablePath(),
            arguments: own,
            listen: listen.isEmpty && tlsListen.isEmpty ? ["127.0.0.1:1883"] : listen,
            tlsListen: tlsListen,
            workers: n,
            directory: directory
        ) { printErr($0) }
        service.startAtUnixNanoseconds = start
        let configured = service
        let report: Fleetstorm_Report_V1_Report
        do { report = try await withSignalCancellation { try await configured.serve() } } catch let error as HubError {
            fail(error.description)
        }
        print(TextSummary.render(report))
        if let output {
            do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
            print("report: \(output)")
        }
    }

    /// The hub's configuration from the flags (each bad flag is one line naming it).
    private func hubConfiguration() -> HubConfiguration {
        var configuration = HubConfiguration()
        let none =
            listen.isEmpty && tlsListen.isEmpty && wsListen.isEmpty && wssListen.isEmpty && httpsListen.isEmpty
            && amqpListen.isEmpty && amqpsListen.isEmpty
        configuration.listen = (none ? ["127.0.0.1:1883"] : listen).map { Self.address($0, flag: "--listen") }
        configuration.tlsListen = tlsListen.map { Self.address($0, flag: "--tls-listen") }
        configuration.wsListen = wsListen.map { Self.address($0, flag: "--ws-listen") }
        configuration.wssListen = wssListen.map { Self.address($0, flag: "--wss-listen") }
        configuration.httpsListen = httpsListen.map { Self.address($0, flag: "--https-listen") }
        configuration.amqpListen = amqpListen.map { Self.address($0, flag: "--amqp-listen") }
        configuration.amqpsListen = amqpsListen.map { Self.address($0, flag: "--amqps-listen") }
        let x509 = x509Ca != nil || x509Thumbprints != nil
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?):
            let clientCAs = x509 ? (x509Ca.map { Self.readFile($0, flag: "--x509-ca") } ?? "") : nil
            do {
                configuration.tls = try HubTLS(certificateFile: cert, keyFile: key, clientCertificates: clientCAs)
            } catch { fail(error.reason) }
        case (nil, nil) where x509:
            fail("--x509-ca / --x509-thumbprints: devices present certificates over TLS; give --tls-cert and --tls-key")
        case (nil, nil):
            let flag =
                !tlsListen.isEmpty
                ? "--tls-listen"
                : !wssListen.isEmpty
                    ? "--wss-listen"
                    : !httpsListen.isEmpty ? "--https-listen" : !amqpsListen.isEmpty ? "--amqps-listen" : nil
            if let flag {
                fail(
                    "\(flag) needs --tls-cert and --tls-key "
                        + "(make them with --generate-cert DIR --host NAME)"
                )
            }
        default:
            fail("use --tls-cert and --tls-key together")
        }
        guard let grace = Duration.parse(expiryGrace) else {
            fail("--expiry-grace \(expiryGrace): expected e.g. 0, 30s or 10m")
        }
        configuration.auth = authenticator(grace: grace)
        configuration.rules.iotHubTopics = !anonymous
        if let tier {
            guard let t = HubQuotas.Tier(rawValue: tier.uppercased()), units >= 1 else {
                fail("--tier \(tier): expected one of F1, B1, S1, B2, S2, B3, S3 (and --units ≥ 1)")
            }
            configuration.quotas = HubQuotas(tier: t, units: units)
        }
        if let c2dInterval {
            guard let d = Duration.parse(c2dInterval), d >= .milliseconds(10) else {
                fail("--c2d-interval \(c2dInterval): expected e.g. 5s (at least 10ms)")
            }
            configuration.cloudToDeviceInterval = d
        }
        return configuration
    }

    private func serve(_ configuration: HubConfiguration, faults: [Scenario.Fault], limit: Duration?) async throws {
        var service = HubService(configuration: configuration, faults: faults, limit: limit) { printErr($0) }
        let environment = ProcessInfo.processInfo.environment["FLEETSTORM_START_AT"]
        service.startAtUnixNanoseconds = parseStartAt(
            startAt ?? environment,
            flag: startAt == nil ? "FLEETSTORM_START_AT" : "--start-at"
        )
        let configured = service
        let report: Fleetstorm_Report_V1_Report
        do { report = try await withSignalCancellation { try await configured.serve() } } catch let error as HubError {
            fail(error.description)
        }
        print(TextSummary.render(report))
        if let output {
            do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
            print("report: \(output)")
        }
        if let sample, let kept = configuration.sample { Self.writeSample(kept, to: sample) }
    }

    private func authenticator(grace: Duration) -> HubAuthenticator {
        if x509Ca != nil || x509Thumbprints != nil {
            if groupKey != nil || registry != nil || anonymous {
                fail(
                    "--x509-ca / --x509-thumbprints authenticate by certificate: drop --group-key, --registry, --anonymous"
                )
            }
            var thumbprints: [String: String] = [:]
            if let path = x509Thumbprints {
                for (n, line) in Self.readFile(path, flag: "--x509-thumbprints").split(separator: "\n").enumerated() {
                    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    if fields.isEmpty || fields[0].hasPrefix("#") { continue }
                    guard fields.count == 2 else {
                        fail(
                            "--x509-thumbprints \(path) line \(n + 1): expected DEVICE_ID THUMBPRINT (SHA-1 or SHA-256 hex)"
                        )
                    }
                    thumbprints[String(fields[0])] = String(fields[1])
                }
            }
            return HubAuthenticator(keys: .x509(thumbprints: thumbprints), hostName: host)
        }
        switch (groupKey, registry, anonymous) {
        case (nil, nil, _):
            return HubAuthenticator(hostName: host)
        case (let g?, nil, false):
            guard let data = Data(base64Encoded: g), !data.isEmpty else {
                fail("--group-key: not valid base64 (not shown)")
            }
            return HubAuthenticator(keys: .groupKey(g), hostName: host, expiryGrace: grace)
        case (nil, let path?, false):
            do {
                guard let text = ProfileFiles.read(path) else {
                    fail("--registry \(path): cannot read the file (does it exist?)")
                }
                let r = try DeviceRegistry.parse(text, source: path)
                return HubAuthenticator(
                    keys: .registry(r.keys),
                    hostName: host,
                    disabled: r.disabled,
                    expiryGrace: grace
                )
            } catch { fail("--registry \(error)") }
        case (_, _, true):
            fail("--anonymous checks no credentials: drop --group-key / --registry")
        default:
            fail("use --group-key or --registry, not both")
        }
    }
}
