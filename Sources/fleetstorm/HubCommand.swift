import ArgumentParser
import FleetCore
import FleetHub
import FleetReport
import Foundation

struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Run the test hub standalone until SIGINT/SIGTERM (or --duration).",
        discussion: """
            Examples:
              fleetstorm hub --listen 127.0.0.1:1883 --output hub-report.pb
              fleetstorm hub --listen 127.0.0.1:1883 --host myhub.local --group-key AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
            then, in another shell:
              fleetstorm run profiles/quickstart.yaml --hub mqtt://127.0.0.1:1883
            """
    )

    @Option(help: "Address to listen on, HOST:PORT (repeatable; port 0 picks a free one below 32768).")
    var listen: [String] = ["127.0.0.1:1883"]

    @Option(help: "Where to write the hub's protobuf report on exit.")
    var output: String?

    @Option(help: "Stop by itself after this long, e.g. 10m.")
    var duration: String?

    @Option(help: "Host name devices must use in their username and SAS token (with --group-key or --registry).")
    var host: String = "fleetstorm.local"

    @Option(help: "Accept devices whose key derives from this DPS group key (base64).")
    var groupKey: String?

    @Option(help: "Accept the devices of this registry file: devices: [{id: dev-1, key: BASE64, disabled: true}].")
    var registry: String?

    @Option(help: "IoT Hub tier whose connection and D2C throttles to enforce: F1, B1, S1, B2, S2, B3, S3.")
    var tier: String?

    @Option(help: "Units of the tier.")
    var units: Int = 1

    @Option(help: "Tolerate an expired token this long before dropping the connection, e.g. 10m.")
    var expiryGrace: String = "0"

    func run() async throws {
        var configuration = HubConfiguration()
        configuration.listen = listen.map { text in
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (0...65535).contains(port)
            else { fail("--listen \(text): expected HOST:PORT, e.g. 127.0.0.1:1883") }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return (host, port)
        }
        var limit: Duration?
        if let duration {
            guard let d = Duration.parse(duration) else { fail("--duration \(duration): expected e.g. 90s or 10m") }
            limit = d
        }
        guard let grace = Duration.parse(expiryGrace) else {
            fail("--expiry-grace \(expiryGrace): expected e.g. 0, 30s or 10m")
        }
        switch (groupKey, registry) {
        case (nil, nil):
            configuration.auth = HubAuthenticator(hostName: host)
        case (let g?, nil):
            guard let data = Data(base64Encoded: g), !data.isEmpty else {
                fail("--group-key: not valid base64 (not shown)")
            }
            configuration.auth = HubAuthenticator(keys: .groupKey(g), hostName: host, expiryGrace: grace)
        case (nil, let path?):
            do {
                let r = try DeviceRegistry.load(path)
                configuration.auth = HubAuthenticator(
                    keys: .registry(r.keys),
                    hostName: host,
                    disabled: r.disabled,
                    expiryGrace: grace
                )
            } catch { fail("--registry \(error)") }
        default:
            fail("use --group-key or --registry, not both")
        }
        if let tier {
            guard let t = HubQuotas.Tier(rawValue: tier.uppercased()), units >= 1 else {
                fail("--tier \(tier): expected one of F1, B1, S1, B2, S2, B3, S3 (and --units ≥ 1)")
            }
            configuration.quotas = HubQuotas(tier: t, units: units)
        }
        let hub = TestHub(configuration: configuration)
        let started = Date()
        let bound: [(host: String, port: Int)]
        do { bound = try await hub.start() } catch { fail(error.description) }
        for b in bound { printErr("hub listening on mqtt://\(b.host):\(b.port) (Ctrl-C to stop)") }
        let bound2 = limit
        _ = try? await withSignalCancellation {
            if let bound2 {
                try await Task.sleep(for: bound2)
            } else {
                while true { try await Task.sleep(for: .seconds(3600)) }
            }
        }
        let stats = await hub.stop()
        let facts = RunFacts(
            profileName: "hub",
            seed: 0,
            devices: Int(stats.devicesSeen),
            startedUnixNanoseconds: Int64(started.timeIntervalSince1970 * 1e9),
            durationNanoseconds: Int64(Date().timeIntervalSince(started) * 1e9),
            target: "hub",
            mqttVersion: "3.1.1/5",
            kind: "hub"
        )
        let report = ReportBuilder.build(facts: facts, snapshot: nil, hub: stats)
        print(TextSummary.render(report))
        if let output {
            do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
            print("report: \(output)")
        }
    }
}
