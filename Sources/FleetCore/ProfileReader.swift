internal import FleetMQTT
import Foundation
internal import Yams

/// Walks the profile's YAML tree key by key. Each section reports keys it does not know.
struct ProfileReader {
    let source: String
    var overrides: [String: (value: Node, text: String)]
    var usedOverrides: Set<String> = []
    /// Reads a file the profile names (a registry), relative paths resolved against the profile; given by the edge.
    let readFile: @Sendable (String) -> String?
    /// The profile's text by line (to place an error inside a block of text, such as a template, exactly).
    var sourceLines: [Substring] = []

    init(
        source: String,
        overrides: [String: (value: Node, text: String)],
        readFile: @escaping @Sendable (String) -> String?
    ) {
        self.source = source
        self.overrides = overrides
        self.readFile = readFile
    }

    func unusedOverride() -> (key: String, text: String)? {
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) where !usedOverrides.contains(key) {
            return (key, value.text)
        }
        return nil
    }

    mutating func read(_ root: Node) throws(ScenarioError) -> Scenario {
        var s = Scenario()
        var top = try section(root, path: "")
        var telemetrySection: Section?
        s.name = try top.string("name") ?? s.name
        s.description = try top.string("description") ?? s.description
        if let seed = try top.int("seed") { s.seed = UInt64(seed) }
        s.duration = try top.duration("duration") ?? s.duration
        s.bin = try top.duration("bin") ?? s.bin
        try top.mapping("hub") { (hub: inout Section) throws(ScenarioError) in try readHub(&hub, into: &s) }
        try top.mapping("fleet") { (f: inout Section) throws(ScenarioError) in
            s.fleet.devices = try f.int("devices") ?? s.fleet.devices
            s.fleet.idPrefix = try f.string("id_prefix") ?? s.fleet.idPrefix
            s.fleet.rampRate = try f.rateOrUnlimited("ramp_rate") ?? s.fleet.rampRate
            switch try f.intOrAuto("max_in_flight") {
            case .some(.some(let fixed)):
                s.fleet.maxInFlight = fixed
                s.fleet.adaptiveWindow = false
            case .some(.none):
                s.fleet.maxInFlight = Scenario.Fleet.largestWindow
                s.fleet.adaptiveWindow = true
            case .none: break
            }
            if let items = try f.strings("source_addresses") {
                switch SourceAddresses.expand(items) {
                case .success(let all): s.fleet.sourceAddresses = all
                case .failure(let e): throw f.error(.invalidValue, "source_addresses", "item \(e.item): \(e.message)")
                }
            }
        }
        try top.mapping("mqtt") { (m: inout Section) throws(ScenarioError) in
            if let v = try m.string("version") {
                switch v {
                case "3.1.1", "311", "4": s.mqtt.version = .v311
                case "5", "5.0": s.mqtt.version = .v5
                default: throw m.error(.invalidValue, "version", "expected \"3.1.1\" or \"5\", got \"\(v)\"")
                }
            }
            s.mqtt.keepAlive =
                try m.duration("keep_alive") ?? s.mqtt.keepAlive
            s.mqtt.cleanSession = try m.bool("clean_session") ?? s.mqtt.cleanSession
            s.mqtt.connackTimeout = try m.duration("connack_timeout") ?? s.mqtt.connackTimeout
            s.mqtt.connectTimeout = try m.duration("connect_timeout") ?? s.mqtt.connectTimeout
            s.mqtt.subscribeC2D = try m.bool("subscribe_c2d") ?? s.mqtt.subscribeC2D
        }
        try top.mapping("telemetry") { (t: inout Section) throws(ScenarioError) in
            try Self.readTelemetry(&t, into: &s.telemetry)
            telemetrySection = t
        }
        // The SDK first: it decides the default retry curve, and everything else the SDK decides.
        s.sdk = try Self.readSDK(&top, amqp: s.hub.amqp) ?? s.sdk
        s.retry = s.sdk.defaultRetry
        let retryGiven = top.mentions("retry")
        var throttledGiven = false
        try top.mapping("retry") { (r: inout Section) throws(ScenarioError) in
            throttledGiven = r.mentions("throttled_policy")
            s.retry = try Self.readRetry(&r, default: s.retry, sdk: s.sdk)
        }
        s.amqpPool = try Self.readAMQPPool(&top, default: AMQPPoolDefault.none, amqp: s.hub.amqp)
        var cohortSpecs: [CohortSpec] = []
        let base = s
        try top.list("cohorts") { (c: inout Section) throws(ScenarioError) in
            let name = try c.string("name") ?? "cohort-\(cohortSpecs.count + 1)"
            let devices = try c.int("devices")
            let share = try c.double("share")
            let amqp = try Self.readTransport(&c, hub: base.hub)
            let sdk = try Self.readSDK(&c, amqp: amqp) ?? base.sdk
            // A cohort's curve: its own retry:, else the profile's retry: when one was given, else its SDK's own.
            // An inherited curve is read as if the cohort had written it: its throttled curve is the cohort's SDK's
            // answer (unless the profile named one), not the profile SDK's.
            var retry = retryGiven ? base.retry : sdk.defaultRetry
            if retryGiven && !throttledGiven { retry.throttled = sdk.throttledPolicy(for: retry.policy) }
            // Read only when the cohort has a retry: of its own; re-reading an absent one rebuilt the inherited
            // policy from its name and lost the profile's parameters (base, cap, ...).
            if c.mentions("retry") {
                try c.mapping("retry") { (r: inout Section) throws(ScenarioError) in
                    retry = try Self.readRetry(&r, default: retry, sdk: sdk)
                }
            }
            guard (devices == nil) != (share == nil) else {
                throw c.error(.invalidValue, "devices", "give each cohort either devices: N or share: 0.25")
            }
            // An MQTT cohort inherits no AMQP pooling (and may not write its own).
            let pool = try Self.readAMQPPool(&c, default: amqp ? .inherited(base.amqpPool) : .none, amqp: amqp)
            let mix = try Self.readMix(&c)
            cohortSpecs.append(
                CohortSpec(
                    name: name,
                    devices: devices,
                    share: share,
                    sdk: sdk,
                    retry: retry,
                    amqpPool: pool,
                    amqp: amqp,
                    mix: mix,
                    section: c
                )
            )
        }
        if !cohortSpecs.isEmpty {
            s.cohorts = try Self.sizeCohorts(cohortSpecs, fleet: s.fleet.devices)
        }
        try Self.checkPools(s, top: top, cohortSpecs: cohortSpecs)
        if let telemetrySection { try Self.checkBodies(s, telemetry: telemetrySection, cohorts: cohortSpecs) }
        try top.mapping("auth") { (a: inout Section) throws(ScenarioError) in
            let mode = try a.string("mode") ?? "none"
            let host = try a.string("hub_host")
            let groupKey = try a.string("group_key")
            let registry = try a.string("registry")
            let ttl = try a.duration("token_ttl")
            let apiVersion = try a.string("api_version")
            let certificates = try a.string("certificates")
            switch mode {
            case "none":
                return
            case "sas":
                if certificates != nil {
                    throw a.error(.invalidValue, "certificates", "X.509 device certificates need mode: x509")
                }
            case "x509":
                if groupKey != nil || registry != nil || ttl != nil {
                    throw a.error(
                        .invalidValue,
                        groupKey != nil ? "group_key" : registry != nil ? "registry" : "token_ttl",
                        "x509 devices present certificates, not SAS keys: drop it (or use mode: sas)"
                    )
                }
                let directory = certificates.map { path in
                    path.hasPrefix("/")
                        ? path
                        : URL(fileURLWithPath: source).deletingLastPathComponent().appendingPathComponent(path).path
                }
                var auth = DeviceAuth(hubHost: host ?? "fleetstorm.local", keys: .x509(directory: directory))
                auth.apiVersion = apiVersion
                s.auth = auth
                return
            default:
                throw a.error(.invalidValue, "mode", "expected none, sas or x509, got \"\(mode)\"")
            }
            let keys: DeviceAuth.Keys
            switch (groupKey, registry) {
            case (let g?, nil):
                guard let data = Data(base64Encoded: g), !data.isEmpty else {
                    throw a.error(.invalidValue, "group_key", "not valid base64 (the value is not shown)")
                }
                keys = .groupKey(g)
            case (nil, let path?):
                keys = .registry(try readRegistry(path, section: a))
            default:
                throw a.error(.invalidValue, "mode", "sas needs exactly one of group_key or registry")
            }
            var auth = DeviceAuth(hubHost: host ?? "fleetstorm.local", keys: keys)
            if let ttl { auth.tokenTTL = ttl }
            auth.apiVersion = apiVersion
            s.auth = auth
        }
        try top.mapping("simulation") { (m: inout Section) throws(ScenarioError) in
            try Self.readSimulation(&m, into: &s.simulation)
        }
        try top.mapping("link") { (m: inout Section) throws(ScenarioError) in s.link = try Self.readLink(&m) }
        try top.mapping("https") { (m: inout Section) throws(ScenarioError) in
            try Self.readHTTPS(&m, transport: s.hub, into: &s.https)
        }
        try top.mapping("twin") { (m: inout Section) throws(ScenarioError) in
            s.twin = try Self.readTwin(&m, scenario: s)
        }
        s.faults = try Self.readFaults(
            &top,
            seed: s.seed,
            hub: s.hubServesProfile ? .embedded : s.hub,
            proxy: s.faultProxy
        )
        try top.finish()
        usedOverrides.formUnion(top.consumed)
        return s
    }

    /// A registry file: `devices: [{id: dev-1, key: BASE64}, ...]` (YAML or JSON). Keys never appear in errors.
    func readRegistry(_ path: String, section: Section) throws(ScenarioError) -> [String: String] {
        let base = URL(fileURLWithPath: source).deletingLastPathComponent()
        let full = path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
        guard let text = readFile(full) else {
            throw section.error(.invalidValue, "registry", "\(full): cannot read the file (does it exist?)")
        }
        do throws(RegistryError) {
            return try DeviceRegistry.parse(text, source: full).keys
        } catch {
            throw section.error(.invalidValue, "registry", error.message)
        }
    }

    /// `sdk:` of a mapping (the profile or a cohort), validated against the known SDKs.
    /// Over AMQP (`amqp` true) only an SDK with an AMQP transport will do.
    static func readSDK(_ section: inout Section, amqp: Bool) throws(ScenarioError) -> SDK? {
        guard let name = try section.string("sdk") else { return nil }
        guard let sdk = SDK(name: name) else {
            throw section.error(
                .invalidValue,
                "sdk",
                "expected one of \(SDK.names.joined(separator: ", ")), got \"\(name)\""
            )
        }
        if amqp && sdk.amqpMechanism == nil {
            let others = SDK.names.filter { SDK(name: $0)?.amqpMechanism != nil }.joined(separator: ", ")
            throw section.error(
                .invalidValue,
                "sdk",
                "\(name) has no AMQP transport (it speaks MQTT only): over amqp:// pick one of \(others)"
            )
        }
        return sdk
    }

    struct CohortSpec {
        var name: String
        var devices: Int?
        var share: Double?
        var sdk: SDK
        var retry: Scenario.Retry
        var amqpPool: Scenario.AMQPPool
        var amqp: Bool
        var mix: [Scenario.MessageKind]?
        var section: Section
    }

    static func readRetry(
        _ r: inout Section,
        default base: Scenario.Retry,
        sdk: SDK
    ) throws(ScenarioError) -> Scenario.Retry {
        var out = base
        let name = try r.string("policy") ?? base.policy.name
        let throttledName = try r.string("throttled_policy")
        let parameters = try r.remainingScalars()
        do throws(RetryPolicyError) {
            out.policy = try RetryPolicy.make(name: name, parameters: parameters)
        } catch {
            throw r.error(.invalidValue, error.key, error.message)
        }
        if let throttledName {
            do throws(RetryPolicyError) { out.throttled = try RetryPolicy.make(name: throttledName) } catch {
                throw r.error(.invalidValue, "throttled_policy", error.message)
            }
        } else {
            // The SDK decides how throttled failures are retried (.NET and Node have their own policies).
            out.throttled = sdk.throttledPolicy(for: out.policy)
        }
        return out
    }

    /// Device counts per cohort: explicit counts must add up to the fleet; shares must add up to 1 (the last
    /// cohort takes what rounding leaves).
    static func sizeCohorts(
        _ specs: [CohortSpec],
        fleet: Int
    ) throws(ScenarioError) -> [Scenario.Cohort] {
        let first = specs[0].section
        if specs.allSatisfy({ $0.devices != nil }) {
            let total = specs.reduce(0) { $0 + ($1.devices ?? 0) }
            guard total == fleet else {
                throw first.error(
                    .invalidValue,
                    "devices",
                    "cohort devices add up to \(total), fleet.devices is \(fleet)"
                )
            }
            return specs.map {
                var cohort = Scenario.Cohort(
                    name: $0.name,
                    devices: $0.devices ?? 0,
                    sdk: $0.sdk,
                    retry: $0.retry,
                    amqpPool: $0.amqpPool,
                    amqp: $0.amqp
                )
                cohort.mix = $0.mix
                return cohort
            }
        }
        guard specs.allSatisfy({ $0.share != nil }) else {
            throw first.error(.invalidValue, "share", "use shares for every cohort, or devices for every cohort")
        }
        let sum = specs.reduce(0.0) { $0 + ($1.share ?? 0) }
        guard abs(sum - 1) < 1e-6 else {
            throw first.error(.invalidValue, "share", "cohort shares add up to \(sum), not 1")
        }
        var cohorts: [Scenario.Cohort] = []
        var assigned = 0
        for (i, spec) in specs.enumerated() {
            let n = i == specs.count - 1 ? fleet - assigned : Int((Double(fleet) * (spec.share ?? 0)).rounded())
            var cohort = Scenario.Cohort(
                name: spec.name,
                devices: max(0, n),
                sdk: spec.sdk,
                retry: spec.retry,
                amqpPool: spec.amqpPool,
                amqp: spec.amqp
            )
            cohort.mix = spec.mix
            cohorts.append(cohort)
            assigned += max(0, n)
        }
        return cohorts
    }

    static func looksLikeIPAddress(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 { return parts.allSatisfy { UInt8($0) != nil } }
        return s.contains(":") && s.allSatisfy { $0.isHexDigit || $0 == ":" }
    }

    func section(_ node: Node?, path: String) throws(ScenarioError) -> Section {
        var entries: [(key: String, keyNode: Node, node: Node)] = []
        if let node {
            guard case .mapping(let mapping) = node else {
                throw ScenarioError(
                    .wrongType,
                    key: path,
                    location: location(node),
                    message: "expected a mapping of keys"
                )
            }
            for (k, v) in mapping {
                guard let key = k.scalar?.string else {
                    throw ScenarioError(.wrongType, key: path, location: location(k), message: "keys must be text")
                }
                entries.append((key, k, v))
            }
        }
        return Section(reader: self, path: path, entries: entries)
    }

    func location(_ node: Node?) -> String {
        guard let mark = node?.mark else { return source }
        return "\(source):\(mark.line):\(mark.column)"
    }
}
