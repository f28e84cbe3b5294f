extension Scenario {
    /// The effective scenario (after `--set` overrides and defaults) as YAML for the report, with every secret
    /// replaced: keys, group keys and registry contents never leave the process.
    public var redactedYAML: String {
        var out: [String] = []
        // Every text as a double-quoted scalar YAML reads back unchanged (control characters escaped too).
        func q(_ s: String) -> String { TextQuoting.doubleQuoted(s) }
        func d(_ v: Duration) -> String { v.formatted }
        out.append("name: \(q(name))")
        if !description.isEmpty { out.append("description: \(q(description))") }
        out.append("seed: \(seed)")
        out.append("duration: \(d(duration))")
        out.append("bin: \(d(bin))")
        var hubLine = "hub: {url: \(q(hub.description))"
        if hub.isEmbedded && hub.webSocketPath != nil { hubLine += ", websocket: true" }
        if hub.isEmbedded && hub.https { hubLine += ", https: true" }
        if hub.isEmbedded && hub.amqp { hubLine += ", amqp: true" }
        if let quota {
            hubLine += ", tier: \(quota.tier), units: \(quota.units), burst_seconds: \(quota.burstSeconds)"
            hubLine += ", max_shaping_delay: \(d(quota.maxShapingDelay))"
            if let daily = quota.dailyMessages { hubLine += ", daily_messages: \(daily)" }
        }
        if let tls {
            hubLine += ", tls: true"
            if let ca = tls.caFile { hubLine += ", ca_file: \(q(ca))" }
            if let name = tls.serverName { hubLine += ", server_name: \(q(name))" }
        }
        if faultProxy { hubLine += ", fault_proxy: true" }
        if hubServesProfile { hubLine += ", serves_profile: true" }
        if let c2dInterval { hubLine += ", c2d_interval: \(d(c2dInterval))" }
        out.append(hubLine + "}")
        var fleetLine =
            "fleet: {devices: \(fleet.devices), id_prefix: \(q(fleet.idPrefix)), ramp_rate: \(fleet.rampRate)"
        fleetLine += ", max_in_flight: \(fleet.adaptiveWindow ? "auto" : String(fleet.maxInFlight))"
        if !fleet.sourceAddresses.isEmpty {
            fleetLine += ", source_addresses: [\(fleet.sourceAddresses.joined(separator: ", "))]"
        }
        out.append(fleetLine + "}")
        out.append(
            "mqtt: {version: \(q(mqtt.version.description)), keep_alive: \(d(mqtt.keepAlive)), clean_session: \(mqtt.cleanSession), "
                + "connack_timeout: \(d(mqtt.connackTimeout)), connect_timeout: \(d(mqtt.connectTimeout)), subscribe_c2d: \(mqtt.subscribeC2D)}"
        )
        out.append(
            "telemetry: {messages: \(telemetry.messages), interval: \(d(telemetry.interval)), "
                + "stay_connected: \(telemetry.stayConnected), queue_overflow: \(telemetry.queueOverflow.rawValue), "
                + (telemetry.template == nil ? "payload_bytes: \(telemetry.payloadBytes), " : "")
                + "qos: \(telemetry.qos.rawValue), max_inflight: \(telemetry.maxInflight), queue_capacity: \(telemetry.queueCapacity), "
                + "drain_timeout: \(d(telemetry.drainTimeout))"
                + (telemetry.contentType.map { ", content_type: \(q($0))" } ?? "")
                + (telemetry.contentEncoding.map { ", content_encoding: \(q($0))" } ?? "")
                + (telemetry.template.map { ", template: \(q($0.text))" } ?? "")
                + (telemetry.mix.isEmpty ? "" : ", mix: \(Self.mixText(telemetry.mix))")
                + (telemetry.properties.isEmpty
                    ? ""
                    : ", properties: {"
                        + telemetry.properties.sorted { $0.key < $1.key }.map { "\(q($0.key)): \(q($0.value))" }
                        .joined(separator: ", ") + "}") + "}"
        )
        // The curve by its name and every parameter, and the throttled curve by name (a profile names only it) when
        // it is not the one the reader derives from the SDK and the curve (a custom curve's own parameters): the line
        // loads back to the same policies.
        func policy(_ r: Retry, sdk: SDK) -> String {
            let parameters = r.policy.parameters.map { ", \($0.key): \(q($0.value))" }.joined()
            let throttled =
                r.throttled == sdk.throttledPolicy(for: r.policy) ? "" : ", throttled_policy: \(q(r.throttled.name))"
            return "{policy: \(q(r.policy.name))\(parameters)\(throttled)}"
        }
        out.append("sdk: \(sdk.name)")
        out.append("retry: \(policy(retry, sdk: sdk))")
        func pool(_ p: AMQPPool) -> String {
            "{devices_per_connection: \(p.devicesPerConnection)" + (p.poolSize.map { ", pool_size: \($0)" } ?? "") + "}"
        }
        if amqpPool.isPooled { out.append("amqp: \(pool(amqpPool))") }
        if !cohorts.isEmpty {
            out.append("cohorts:")
            for c in cohorts {
                let pooled = c.amqpPool.isPooled ? ", amqp: \(pool(c.amqpPool))" : ""
                // A cohort on another transport than the hub's says so (cohorts[].transport).
                let transport = c.amqp != hub.amqp ? ", transport: \(c.amqp ? "amqp" : "mqtt")" : ""
                let mix = c.mix.map { ", mix: \(Self.mixText($0))" } ?? ""
                out.append(
                    "  - {name: \(q(c.name)), devices: \(c.devices), sdk: \(c.sdk.name)\(transport), retry: \(policy(c.retry, sdk: c.sdk))\(pooled)\(mix)}"
                )
            }
        }
        if let auth {
            let version = auth.apiVersion.map { ", api_version: \(q($0))" } ?? ""
            let sas = "auth: {mode: sas, hub_host: \(q(auth.hubHost))\(version), token_ttl: \(d(auth.tokenTTL)), "
            switch auth.keys {
            case .groupKey: out.append(sas + "group_key: \"(redacted)\"}")
            case .registry(let table): out.append(sas + "registry: \"(\(table.count) device keys, redacted)\"}")
            case .x509(let directory):
                let certificates = directory.map { ", certificates: \(q($0))" } ?? ""
                out.append("auth: {mode: x509, hub_host: \(q(auth.hubHost))\(version)\(certificates)}")
            }
        }
        if let link {
            var line = "link: {rtt: \(d(link.rtt)), jitter: \(d(link.jitter)), loss: \(link.loss)"
            if let bits = link.bitsPerSecond { line += ", rate: \(Int(bits))bit" }
            out.append(line + "}")
        }
        if twin.isEnabled {
            out.append(
                "twin: {get_on_connect: \(twin.getOnConnect), report_interval: \(d(twin.reportInterval)), "
                    + "report_bytes: \(twin.reportBytes), timeout: \(d(twin.timeout))}"
            )
        }
        if hub.https {
            out.append(
                "https: {poll_interval: \(d(https.pollInterval)), request_timeout: \(d(https.requestTimeout)), "
                    + "api_version: \(q(https.apiVersion))}"
            )
        }
        let m = simulation
        out.append(
            "simulation: {rtt: \(d(m.rtt)), rtt_jitter: \(d(m.rttJitter)), accept_rate: \(m.acceptRate), "
                + "accept_backlog: \(m.acceptBacklog), connack_delay: \(d(m.connackDelay)), puback_delay: \(d(m.pubackDelay)), partitions: \(m.partitions)}"
        )
        if !faults.isEmpty {
            out.append("faults:")
            // In the profile's own order: a fault's selection draws from its place in the list (its salt), and the
            // reader sorts them by time after.
            for f in faults.sorted(by: { $0.target.salt &- seed < $1.target.salt &- seed }) {
                var s = "  - {at: \(d(f.at)), kind: \(f.kind.rawValue)"
                if f.kind.hasWindow { s += ", for: \(d(f.duration))" }
                if f.delay > .zero { s += ", delay: \(d(f.delay))" }
                if f.target.fraction < 1 { s += ", fraction: \(f.target.fraction)" }
                if let p = f.target.idPattern { s += ", devices: \(q(p))" }
                if let src = f.target.source { s += ", source: \(src)" }
                if let r = f.connectRate { s += ", connect_rate: \(r)" }
                if let r = f.sendRate { s += ", send_rate: \(r)" }
                if f.period > .zero { s += ", period: \(d(f.period)), down: \(d(f.down))" }
                if f.kind == .outage { s += ", refuse: \(f.refusal.rawValue)" }
                if f.uplink > 0 { s += ", uplink: \(f.uplink)" }
                out.append(s + "}")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The profile keys whose values are secrets (the schema's secret flag): never shown in errors, logs or reports.
    public static var secretKeys: Set<String> { ProfileSchema.secretPaths }

    /// True for a key whose value must not be shown: one of `secretKeys`, or (for keys a later version may add)
    /// a key, password or token by its last part.
    public static func isSecret(key: String) -> Bool {
        let k = key.lowercased()
        let last = k.split(separator: ".").last.map(String.init) ?? k
        return secretKeys.contains(k) || last.hasSuffix("key") || last.contains("password")
            || (last.contains("token") && last != "token_ttl")
    }

    /// One `--set` item as it may be shown: a secret key's value replaced; an item without `=` (it may be a
    /// pasted secret) not shown at all.
    public static func redactOverride(_ item: String) -> String {
        guard let eq = item.firstIndex(of: "=") else { return "(an item without \"=\", not shown)" }
        return isSecret(key: String(item[..<eq])) ? "\(item[..<eq])=(redacted)" : item
    }

    /// `--set` overrides as given, with the values of secret keys replaced.
    public static func redactOverrides(_ overrides: [String]) -> [String] {
        overrides.map(redactOverride)
    }
}

extension Scenario {
    /// The delays the fleet's policies predict for retries 1 … `attempts`, sampled in proportion to the cohorts'
    /// sizes with a generator seeded from the scenario: each sample is one chain of retries (decorrelated jitter
    /// draws each wait from the one before). Element k−1 holds retry k's delays; a policy that gives up before
    /// retry k adds none to it. For the KS distance between what the policy promises and what a run shows, and the
    /// reports' predicted curves.
    public func predictedRetries(attempts: Int = 3, samples: Int = 10_000) -> [[Int64]] {
        var rng = SplitMix64(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        let cohorts = effectiveCohorts
        let total = Swift.max(1, cohorts.reduce(0) { $0 + $1.devices })
        var out = [[Int64]](repeating: [], count: Swift.max(0, attempts))
        for c in cohorts {
            for _ in 0..<(samples * c.devices / total) {
                for (k, d) in c.retry.policy.delays(count: out.count, using: &rng).enumerated() {
                    if let d { out[k].append(d.nanoseconds) }
                }
            }
        }
        return out
    }

    /// A message mix as a YAML flow list.
    static func mixText(_ mix: [MessageKind]) -> String {
        "["
            + mix.map { k in
                var item = "{name: \(TextQuoting.doubleQuoted(k.name)), weight: \(k.weight.shortText)"
                if let q = k.qos { item += ", qos: \(q.rawValue)" }
                if let b = k.payloadBytes { item += ", payload_bytes: \(b)" }
                if let t = k.template { item += ", template: \(TextQuoting.doubleQuoted(t.text))" }
                return item + "}"
            }.joined(separator: ", ") + "]"
    }

}
