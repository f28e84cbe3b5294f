import Foundation
import Testing

@testable import FleetCore

@Suite("Scenario loading and validation")
struct ScenarioLoaderTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func load(_ yaml: String, _ overrides: [String] = []) throws(ScenarioError) -> Scenario {
        try ScenarioLoader().load(yaml: yaml, source: "p.yaml", overrides: overrides)
    }

    func error(_ yaml: String, _ overrides: [String] = []) -> ScenarioError? {
        do {
            _ = try load(yaml, overrides)
            return nil
        } catch {
            return error
        }
    }

    @Test func everyProfileInTheRepoLoads() throws {
        let dir = Self.repo.appendingPathComponent("profiles")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(!files.isEmpty)
        for f in files {
            let s = try ScenarioLoader.testFiles.load(path: dir.appendingPathComponent(f).path)
            #expect(s.fleet.devices > 0, "\(f)")
        }
    }

    @Test func quickstartValues() throws {
        let s = try ScenarioLoader.testFiles.load(
            path: Self.repo.appendingPathComponent("profiles/quickstart.yaml").path
        )
        #expect(s.name == "quickstart")
        #expect(s.fleet.devices == 1000)
        #expect(s.telemetry.messages == 10)
        #expect(s.telemetry.qos == .atLeastOnce)
        #expect(s.hub.isEmbedded)
    }

    @Test func defaultsForAnEmptyProfile() throws {
        let s = try load("")
        #expect(s == Scenario())
    }

    @Test func overridesAreValidatedLikeTheFile() throws {
        let s = try load(
            "fleet:\n  devices: 10\n",
            ["fleet.devices=200", "telemetry.interval=250ms", "hub.url=mqtt://127.0.0.1:1883"]
        )
        #expect(s.fleet.devices == 200)
        #expect(s.telemetry.interval == .milliseconds(250))
        #expect(s.hub.hostAndPort?.port == 1883)
        let bad = error("", ["fleet.devices=-3"])
        #expect(bad?.key == "fleet.devices")
        #expect(bad?.location == "--set fleet.devices=-3")
        #expect(error("", ["fleet.nope=1"])?.code == .unknownKey)
        #expect(error("", ["novalue"])?.code == .invalidOverride)
    }

    @Test func errorsNameKeyAndLine() {
        let unknown = error("name: x\nfleet:\n  devices: 10\n  devicez: 3\n")
        #expect(unknown?.code == .unknownKey)
        #expect(unknown?.key == "fleet.devicez")
        #expect(unknown?.location == "p.yaml:4:3")

        let wrongType = error("fleet:\n  devices: lots\n")
        #expect(wrongType?.code == .wrongType)
        #expect(wrongType?.location == "p.yaml:2:12")
        #expect(wrongType?.description.contains("fleet.devices") == true)

        let negative = error("fleet:\n  devices: -5\n")
        #expect(negative?.code == .outOfRange)

        let duration = error("telemetry:\n  interval: 10x\n")
        #expect(duration?.key == "telemetry.interval")
        #expect(duration?.description.contains("10x") == true)

        #expect(error("fleet: 3\n")?.code == .wrongType)
        #expect(error("mqtt:\n  version: \"4.0\"\n")?.code == .invalidValue)
        #expect(error("hub:\n  url: http://x\n")?.code == .invalidValue)
        #expect(error("telemetry:\n  qos: 2\n")?.code == .outOfRange)
        #expect(error("fleet:\n  devices:\n")?.code == .wrongType)
        #expect(error("fleet:\n  source_addresses: [\"not-an-ip\"]\n")?.code == .invalidValue)
        #expect(error("a: [unclosed\n")?.code == .invalidYAML)
    }

    /// Issue: `fleet.ramp_rate: 1e300` or `simulation.accept_rate: 1e-11` passed validation and trapped on the first
    /// pump (a rate's count or interval past Int64). Every number key has a range that keeps later conversions safe;
    /// a value outside it is one error naming the key and the line.
    @Test(arguments: [
        ("fleet:\n  ramp_rate: 1e300\n", "fleet.ramp_rate", "p.yaml:2:14"),
        ("fleet:\n  ramp_rate: 1e-11\n", "fleet.ramp_rate", "p.yaml:2:14"),
        ("simulation:\n  accept_rate: 1e-11\n", "simulation.accept_rate", "p.yaml:2:16"),
        ("simulation:\n  accept_rate: 1e300\n", "simulation.accept_rate", "p.yaml:2:16"),
        ("hub:\n  tier: S1\n  burst_seconds: 1e300\n", "hub.burst_seconds", "p.yaml:3:18"),
        ("faults: [{at: 1s, kind: throttle, for: 5s, connect_rate: 1e300}]\n", "faults[0].connect_rate", "p.yaml:1:58"),
    ])
    func numbersBeyondTheirRangeNameTheKey(yaml: String, key: String, location: String) {
        let e = error(yaml)
        #expect(e?.code == .outOfRange, "\(String(describing: e))")
        #expect(e?.key == key)
        #expect(e?.location == location)
        #expect(e?.description.split(separator: "\n").count == 1)
    }

    /// A rate of 0 still means "unlimited", and the largest and smallest in range load.
    @Test func ratesAtTheEdgesOfTheirRangeLoad() throws {
        let edges = try ScenarioLoader().load(
            yaml: "fleet: {ramp_rate: 0}\nsimulation: {accept_rate: 0.001}\n",
            source: "p.yaml"
        )
        #expect(edges.fleet.rampRate == 0 && edges.simulation.acceptRate == 0.001)
        let fast = try ScenarioLoader().load(yaml: "fleet: {ramp_rate: 1e9}\n", source: "p.yaml")
        #expect(fast.fleet.rampRate == 1e9)
    }

    @Test func retrySection() throws {
        let s = try load("retry: {policy: none}\n")
        #expect(s.retry.policy.name == "none")
        let j = try load("retry:\n  policy: full-jitter\n  base: 200ms\n  cap: 20s\n", ["retry.attempts=5"])
        #expect(j.retry.policy.name == "full-jitter" && j.retry.policy.maxAttempts == 5)
        #expect(j.retry.throttled.name == "full-jitter", "families throttle with the same policy")
        // The SDK decides the throttled policy and the default curve; retry.policy only the curve.
        let node = try load("sdk: azure-node\n")
        #expect(node.retry.policy.name == "azure-node" && node.retry.throttled.name == "azure-node-throttled")
        let curveOnly = try load("retry: {policy: azure-node}\n")
        #expect(
            curveOnly.sdk == .dotnet && curveOnly.retry.throttled.name == "azure-node",
            "another curve throttles alike"
        )
        let paho = try load("sdk: mqtt\n")
        #expect(paho.retry.policy.name == "paho")
        #expect(error("sdk: azure-cobol\n")?.key == "sdk")
        #expect(try load("").retry.policy.name == "azure-dotnet")
        #expect(try load("").retry.throttled.name == "azure-dotnet-throttled")
        let badParam = error("retry:\n  policy: azure-dotnet\n  colour: red\n")
        #expect(badParam?.key == "retry.colour")
        #expect(badParam?.location == "p.yaml:3:11")
        #expect(error("retry: {policy: sometimes}\n")?.key == "retry.policy")
        #expect(error("", ["retry.cap=10x"])?.location == "--set retry.cap=10x")
        let faults = try load("faults:\n  - {at: 5s, kind: drop}\n  - {at: 1s, kind: drop}\n")
        #expect(faults.faults.map(\.at) == [.seconds(1), .seconds(5)])
        #expect(error("faults:\n  - {at: 5s, kind: meteor}\n")?.key == "faults[0].kind")
        #expect(error("faults:\n  - {kind: drop}\n")?.key == "faults[0].at")
        let external = error("hub: {url: \"mqtt://127.0.0.1:1\"}\nfaults:\n  - {at: 1s, kind: drop}\n")
        #expect(external?.key == "faults[0].kind")
        #expect(external?.message.contains("fault proxy") == true)
    }

    @Test func cohorts() throws {
        let shares = try load(
            "fleet: {devices: 10}\ncohorts:\n  - {name: a, share: 0.35, sdk: azure-c}\n  - {name: b, share: 0.65}\n"
        )
        #expect(shares.cohorts.map(\.devices) == [4, 6])
        #expect(
            shares.cohorts.map(\.retry.policy.name) == ["azure-c", "azure-dotnet"],
            "a cohort's SDK brings its curve"
        )
        #expect(shares.cohorts.map(\.sdk) == [.c, .dotnet])
        // A profile-wide retry: applies to every cohort; the SDK stays the cohort's own.
        let curve = try load(
            "retry: {policy: full-jitter}\ncohorts:\n  - {share: 0.5, sdk: azure-python}\n  - {share: 0.5}\n"
        )
        #expect(curve.cohorts.map(\.retry.policy.name) == ["full-jitter", "full-jitter"])
        #expect(curve.cohorts.map(\.sdk) == [.python, .dotnet])
        #expect(shares.effectiveCohorts.count == 2)
        let counts = try load(
            "fleet: {devices: 5}\ncohorts:\n  - {devices: 2}\n  - {devices: 3, retry: {policy: none}}\n"
        )
        #expect(counts.cohorts.map(\.name) == ["cohort-1", "cohort-2"])
        #expect(try load("fleet: {devices: 7}").effectiveCohorts.map(\.devices) == [7])
        #expect(error("fleet: {devices: 5}\ncohorts:\n  - {devices: 2}\n")?.key == "cohorts[0].devices")
        #expect(error("cohorts:\n  - {share: 0.5}\n  - {share: 0.4}\n")?.key == "cohorts[0].share")
        #expect(error("cohorts:\n  - {share: 0.5, devices: 3}\n")?.key == "cohorts[0].devices")
        #expect(error("cohorts:\n  - {share: 1, retry: {policy: azure-c, cap: soon}}\n")?.key == "cohorts[0].retry.cap")
        #expect(error("cohorts:\n  - {share: 1, colour: red}\n")?.key == "cohorts[0].colour")
    }

    /// Issue: a cohort that inherits the profile's `retry:` kept the profile SDK's throttled curve (an azure-node
    /// cohort under an azure-dotnet profile got azure-dotnet-throttled). Inheriting reads as if the cohort had written
    /// the same retry: itself, so its own SDK decides the throttled curve; a named throttled_policy is kept.
    @Test func anInheritedCurveIsThrottledByTheCohortsOwnSDK() throws {
        let inherited = try load(
            "sdk: azure-dotnet\nretry: {policy: azure-dotnet}\ncohorts:\n  - {share: 0.5, sdk: azure-node}\n"
                + "  - {share: 0.5}\n"
        )
        let written = try load(
            "sdk: azure-dotnet\ncohorts:\n  - {share: 0.5, sdk: azure-node, retry: {policy: azure-dotnet}}\n"
                + "  - {share: 0.5, retry: {policy: azure-dotnet}}\n"
        )
        #expect(inherited.cohorts.map(\.retry.throttled.name) == written.cohorts.map(\.retry.throttled.name))
        #expect(inherited.cohorts[0].retry.throttled.name != "azure-dotnet-throttled", "the node cohort's own answer")
        #expect(inherited.cohorts[1].retry.throttled.name == "azure-dotnet-throttled", ".NET keeps its own")
        let named = try load(
            "sdk: azure-dotnet\nretry: {policy: azure-dotnet, throttled_policy: none}\n"
                + "cohorts:\n  - {share: 1, sdk: azure-node}\n"
        )
        #expect(named.cohorts[0].retry.throttled.name == "none", "a throttled_policy the profile names is kept")
        // The profile's parameters come along: a cohort without a retry: of its own gets the same curve.
        let tuned = try load(
            "retry: {policy: full-jitter, base: 5s, cap: 60s}\ncohorts:\n  - {share: 0.5, sdk: azure-c}\n"
                + "  - {share: 0.5, retry: {cap: 30s}}\n"
        )
        #expect(tuned.cohorts[0].retry.policy == tuned.retry.policy, "base 5s and cap 60s, not full-jitter's defaults")
        #expect(tuned.cohorts[1].retry.policy != tuned.retry.policy, "a cohort's own retry: still applies")
    }

    @Test func telemetryPropertiesAndC2D() throws {
        let s = try load("mqtt: {subscribe_c2d: true}\ntelemetry:\n  properties: {site: north, fw: \"1.2\"}\n")
        #expect(s.mqtt.subscribeC2D)
        #expect(s.telemetry.properties == ["site": "north", "fw": "1.2"])
        #expect(error("telemetry:\n  properties: {site: [a, b]}\n")?.key == "telemetry.properties.site")
        #expect(error("telemetry: {queue_overflow: explode}\n")?.key == "telemetry.queue_overflow")
    }

    @Test func missingFile() {
        #expect(throws: ScenarioError.self) { try ScenarioLoader.testFiles.load(path: "/nonexistent/profile.yaml") }
    }

    @Test func durations() {
        #expect(Duration.parse("250ms") == .milliseconds(250))
        #expect(Duration.parse("10s") == .seconds(10))
        #expect(Duration.parse("1.5s") == .milliseconds(1500))
        #expect(Duration.parse("5m") == .seconds(300))
        #expect(Duration.parse("2h") == .seconds(7200))
        #expect(Duration.parse("100us") == .microseconds(100))
        #expect(Duration.parse("0") == .zero)
        for bad in ["10x", "", "s", "-1s", "1e3s", "ten s", "1.2.3s"] { #expect(Duration.parse(bad) == nil, "\(bad)") }
        #expect(Duration.seconds(300).formatted == "5m")
        #expect(Duration.milliseconds(1500).formatted == "1.5s")
    }

    @Test func hubURLs() {
        #expect(Scenario.HubTarget.parse("mqtt://127.0.0.1:1883")?.hostAndPort?.host == "127.0.0.1")
        #expect(Scenario.HubTarget.parse("mqtt://[::1]:1883")?.hostAndPort?.host == "::1")
        for bad in ["mqtt://host", "mqtt://:1", "tcp://h:1", "mqtt://h:0", "mqtt://h:70000"] {
            #expect(Scenario.HubTarget.parse(bad) == nil, "\(bad)")
        }
    }

    /// An embedded-hub profile's transport keys may stay when `--hub` names an external hub of the same transport
    /// (`run profiles/https-telemetry.yaml --hub https://... --ca-file ...`); only a contradiction is refused.
    @Test func transportKeysAgreeWithAnExternalURL() throws {
        let https = "hub: {url: embedded, https: true}\n"
        let external = try load(https, ["hub.url=https://127.0.0.1:8443", "hub.ca_file=/tmp/ca.pem"])
        #expect(external.hub.https && !external.hub.isEmbedded)
        #expect(error(https, ["hub.url=mqtt://127.0.0.1:1883"])?.key == "hub.https")
        #expect(
            error(https, ["hub.url=https://127.0.0.1:8443", "hub.ca_file=/tmp/ca.pem", "hub.https=false"])?.key
                == "hub.https"
        )
        let ws = "hub: {url: embedded, websocket: true}\n"
        #expect(try load(ws, ["hub.url=ws://127.0.0.1:8080/mqtt"]).hub.webSocketPath == "/mqtt")
        #expect(error(ws, ["hub.url=mqtt://127.0.0.1:1883"])?.key == "hub.websocket")
    }

    @Test func connectWindowIsANumberOrAuto() throws {
        let auto = try load("fleet: {max_in_flight: auto}\n")
        #expect(auto.fleet.adaptiveWindow && auto.fleet.maxInFlight == Scenario.Fleet.largestWindow)
        #expect(auto.redactedYAML.contains("max_in_flight: auto"), "the effective scenario says auto")
        let fixed = try load("fleet: {max_in_flight: auto}\n", ["fleet.max_in_flight=64"])
        #expect(!fixed.fleet.adaptiveWindow && fixed.fleet.maxInFlight == 64)
        #expect(error("fleet: {max_in_flight: sometimes}\n")?.key == "fleet.max_in_flight")
        #expect(error("fleet: {max_in_flight: 0}\n")?.key == "fleet.max_in_flight")
    }

    /// A tier's settings without the tier are refused as such, not as unknown keys (`--set hub.units=10` on a profile
    /// with no tier used to say "no such key").
    @Test func tierSettingsNeedTheTier() throws {
        let e = try #require(error("hub: {url: embedded}\n", ["hub.units=10"]))
        #expect(e.key == "hub.units" && e.code != .unknownKey && e.message.contains("hub.tier"), "\(e)")
        #expect(try load("hub: {tier: S1}\n", ["hub.units=10"]).quota?.units == 10)
        #expect(error("hub: {max_shaping_delay: 5s}\n")?.key == "hub.max_shaping_delay")
    }
}
