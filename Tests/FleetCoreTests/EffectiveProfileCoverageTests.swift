import Foundation
import Testing

@testable import FleetCore

/// Every key of the profile schema reaches the report's effective profile (`Scenario.redactedYAML`): for each
/// documented key, a value other than its base's is set with `--set` and the written profile must change and load
/// back to itself. Driven by the schema, so a key added there and forgotten by the writer fails here even when no
/// profile in profiles/ sets it (the fixed-point test over profiles/ cannot see a key no profile uses: both writes
/// leave it out, and a rerun quietly takes its default).
@Suite("Every schema key reaches the effective profile")
struct EffectiveProfileCoverageTests {
    static let key = EffectiveProfileRoundTripTests.key

    /// Bases in which every section is written: a hub with quotas, a twin, a link and SAS devices over MQTT; the
    /// HTTPS device API; pooled AMQP; an external broker.
    static let bases = [
        """
        name: coverage
        seed: 3
        duration: 30s
        hub: {url: embedded, tier: S1, units: 2}
        fleet: {devices: 10}
        telemetry: {messages: 3, interval: 1s}
        twin: {get_on_connect: true, report_interval: 5s}
        auth: {mode: sas, hub_host: h.local, group_key: \(key)}
        link: {rtt: 10ms}
        """,
        """
        name: coverage-https
        hub: {url: embedded, https: true}
        fleet: {devices: 10}
        auth: {mode: sas, hub_host: h.local, group_key: \(key)}
        """,
        """
        name: coverage-amqp
        hub: {url: embedded, amqp: true}
        fleet: {devices: 10}
        amqp: {devices_per_connection: 5}
        auth: {mode: sas, hub_host: h.local, group_key: \(key)}
        """,
        """
        name: coverage-broker
        hub: {url: "mqtt://127.0.0.1:1883"}
        fleet: {devices: 10}
        """,
    ]

    /// Keys a `--set` cannot give (lists, mappings, a cohort's own keys): the first base with the key added, whose
    /// written profile must differ from the first base's.
    static let withKey: [String: String] = [
        "telemetry.mix": "telemetry: {messages: 3, interval: 1s, mix: [{name: a, weight: 1}, {name: b, weight: 3}]}",
        "telemetry.properties": "telemetry: {messages: 3, interval: 1s, properties: {site: \"north 7\", rack: r2}}",
        "cohorts[].transport": "cohorts: [{name: a, share: 0.5}, {name: b, share: 0.5, transport: amqp}]",
        "cohorts[].mix": "cohorts: [{name: a, share: 1, mix: [{name: c, weight: 1, payload_bytes: 9}]}]",
        "cohorts": "cohorts: [{name: a, share: 0.3, sdk: azure-c}, {name: b, share: 0.7, sdk: azure-java}]",
        // Out of time order: each fault's selection draws from its place in the list.
        "faults":
            "faults: [{at: 9s, kind: outage, for: 3s, fraction: 0.5, refuse: connack}, {at: 2s, kind: drop, fraction: 0.5}]",
        "fleet.source_addresses": "fleet: {devices: 10, source_addresses: [127.0.0.2, 127.0.0.3]}",
    ]

    /// Values for keys whose kind says too little (text), tried before the kind's own candidates.
    static let texts: [String: [String]] = [
        "name": ["renamed"],
        "description": ["what this fleet rehearses"],
        "hub.url": ["mqtt://127.0.0.1:1883", "amqps://127.0.0.1"],
        "hub.server_name": ["hub.example"],
        "hub.tier": ["S2", "S3"],
        "fleet.id_prefix": ["sensor-"],
        "mqtt.version": ["5"],
        "telemetry.template": ["\"{\\\"t\\\": 1}\""],
        "telemetry.content_type": ["text/plain"],
        "telemetry.content_encoding": ["utf-16"],
        "telemetry.queue_overflow": ["drop-newest", "block-generation"],
        "https.api_version": ["2020-09-30", "2021-04-12"],
        "auth.hub_host": ["other.local"],
        "auth.api_version": ["2021-04-12"],
        "sdk": ["azure-node", "azure-c"],
        "retry.policy": ["azure-node", "none"],
        "retry.throttled_policy": ["azure-node-throttled", "azure-c"],
        "link.rate": ["64kbit"],
    ]

    /// Keys that are not one value a `--set` can change in these bases, each with the reason.
    static let notSettable: [String: String] = [
        "hub.ca_file": "names a file the devices read (TLS targets only)",
        "telemetry.template_file": "read into telemetry.template, which is written",
        "retry.<parameter>": "a policy's parameters (the catalogue round trip covers them)",
        "auth.mode": "x509 needs a certificate directory",
        "auth.certificates": "a certificate directory",
        "auth.group_key": "a secret: written as (redacted)",
        "auth.registry": "a secret: written as its count",
    ]

    static func candidates(_ path: String, _ kind: ProfileKey.Kind) -> [String] {
        let given = texts[path] ?? []
        switch kind {
        case .flag: return given + ["true", "false"]
        case .whole(let low, let high): return given + [low, low + 1, min(high, low + 7)].map(String.init)
        case .number(let low, let high): return given + [low, min(high, low + 0.25), min(high, 0.5)].map { "\($0)" }
        case .time(let low, let high):
            let picks = [low, low * 2 + .milliseconds(1), .milliseconds(1_234)].filter { high == nil || $0 <= high! }
            return given + picks.map(\.formatted)
        case .rateOrUnlimited: return given + ["0", "7", "123.5"]
        case .wholeOrAuto(let low, _): return given + ["auto", String(low), String(low + 1)]
        case .text, .list, .mapping, .open: return given
        }
    }

    static func load(_ yaml: String, _ overrides: [String]) throws -> Scenario {
        try ScenarioLoader(readFile: { _ in nil }).load(yaml: yaml, source: "coverage", overrides: overrides)
    }

    /// Written and read back (the group key put back): the same scenario, and written again the same text.
    static func expectFixedPoint(_ scenario: Scenario, _ what: String) throws {
        let written = scenario.redactedYAML
        let text = written.replacingOccurrences(of: "group_key: \"(redacted)\"", with: "group_key: \(key)")
        let again = try load(text, [])
        #expect(again == scenario, "\(what): read back, \(EffectiveProfileRoundTripTests.difference(again, scenario))")
        #expect(again.redactedYAML == written, "\(what): written, read back, written again")
    }

    /// The first base with `line` added (its section replaced when the base has one) changes the written profile.
    static func checkAdded(_ path: String, _ line: String) throws {
        let base = bases[0]
        let section = String(line.prefix { $0 != ":" })
        let kept = base.split(separator: "\n").filter { !$0.hasPrefix(section + ":") }
        let yaml = (kept + [Substring(line)]).joined(separator: "\n")
        let scenario: Scenario
        do {
            scenario = try load(yaml, [])
        } catch {
            Issue.record("\(path): the base with \(line) does not load: \(error)")
            return
        }
        #expect(scenario.redactedYAML != (try load(base, []).redactedYAML), "\(path): not in the effective profile")
        try expectFixedPoint(scenario, path)
    }

    @Test("the writer has a rule for every documented key of the schema, and none for a key the schema lacks")
    func writerFollowsTheSchema() {
        let paths = Set(ProfileSchema.documented.flatMap(\.paths))
        let written = Set(Scenario.keyWriters.keys)
        #expect(paths.subtracting(written).isEmpty, "keys the writer has no rule for: \(paths.subtracting(written))")
        #expect(written.subtracting(paths).isEmpty, "rules for keys not in the schema: \(written.subtracting(paths))")
    }

    @Test("each documented key, set to another value, changes the written profile, which loads back to itself")
    func everyKeyIsWritten() throws {
        var checked = 0
        for entry in ProfileSchema.keys where entry.table != .none || entry.paths.contains("cohorts[].transport") {
            for path in entry.paths {
                if let reason = Self.notSettable[path] {
                    #expect(!reason.isEmpty)
                    continue
                }
                checked += 1
                if let line = Self.withKey[path] {
                    try Self.checkAdded(path, line)
                    continue
                }
                var reached = false
                var tried: [String] = []
                for base in Self.bases {
                    let before = try Self.load(base, []).redactedYAML
                    for value in Self.candidates(path, entry.kind) {
                        guard let changed = try? Self.load(base, ["\(path)=\(value)"]) else {
                            tried.append("\(value) refused")
                            continue
                        }
                        let written = changed.redactedYAML
                        if written == before {
                            tried.append("\(value) not written")
                            continue
                        }
                        try Self.expectFixedPoint(changed, "\(path)=\(value)")
                        reached = true
                        break
                    }
                    if reached { break }
                }
                #expect(reached, "\(path): no value changed the effective profile (\(tried.joined(separator: ", ")))")
            }
        }
        #expect(checked > 60, "the schema's documented keys: \(checked)")
    }
}
