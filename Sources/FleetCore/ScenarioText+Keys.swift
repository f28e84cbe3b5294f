extension Scenario {
    /// How the effective profile writes each key of the profile schema (`ProfileSchema.documented`, by path): its
    /// value as YAML, or nil to leave it out (a section that does not apply, an unset optional). `redactedYAML` walks
    /// the schema and asks this table; a key the schema has and the table lacks fails `ProfileSchemaTests`, so a new
    /// key cannot be forgotten by the writer. `retry.<parameter>` writes every parameter of the curve as its own
    /// `key: value` items; `cohorts` and `faults` write their lists (their items' keys with them).
    static let keyWriters: [String: @Sendable (Scenario) -> String?] = [
        "name": { q($0.name) },
        "description": { $0.description.isEmpty ? nil : q($0.description) },
        "seed": { "\($0.seed)" },
        "duration": { $0.duration.formatted },
        "bin": { $0.bin.formatted },
        "hub.url": { q($0.hub.description) },
        "hub.websocket": { $0.hub.isEmbedded && $0.hub.webSocketPath != nil ? "true" : nil },
        "hub.https": { $0.hub.isEmbedded && $0.hub.https ? "true" : nil },
        "hub.amqp": { $0.hub.isEmbedded && $0.hub.amqp ? "true" : nil },
        "hub.tier": { $0.quota.map { "\($0.tier)" } },
        "hub.units": { $0.quota.map { "\($0.units)" } },
        "hub.burst_seconds": { $0.quota.map { "\($0.burstSeconds)" } },
        "hub.max_shaping_delay": { $0.quota.map { $0.maxShapingDelay.formatted } },
        "hub.daily_messages": { $0.quota?.dailyMessages.map { "\($0)" } },
        "hub.tls": { $0.tls == nil ? nil : "true" },
        "hub.ca_file": { $0.tls?.caFile.map(q) },
        "hub.server_name": { $0.tls?.serverName.map(q) },
        "hub.fault_proxy": { $0.faultProxy ? "true" : nil },
        "hub.serves_profile": { $0.hubServesProfile ? "true" : nil },
        "hub.c2d_interval": { $0.c2dInterval?.formatted },
        "fleet.devices": { "\($0.fleet.devices)" },
        "fleet.id_prefix": { q($0.fleet.idPrefix) },
        "fleet.ramp_rate": { "\($0.fleet.rampRate)" },
        "fleet.max_in_flight": { $0.fleet.adaptiveWindow ? "auto" : "\($0.fleet.maxInFlight)" },
        "fleet.source_addresses": {
            $0.fleet.sourceAddresses.isEmpty ? nil : "[\($0.fleet.sourceAddresses.joined(separator: ", "))]"
        },
        "mqtt.version": { q($0.mqtt.version.description) },
        "mqtt.keep_alive": { $0.mqtt.keepAlive.formatted },
        "mqtt.clean_session": { "\($0.mqtt.cleanSession)" },
        "mqtt.connect_timeout": { $0.mqtt.connectTimeout.formatted },
        "mqtt.connack_timeout": { $0.mqtt.connackTimeout.formatted },
        "mqtt.subscribe_c2d": { "\($0.mqtt.subscribeC2D)" },
        "telemetry.messages": { "\($0.telemetry.messages)" },
        "telemetry.stay_connected": { "\($0.telemetry.stayConnected)" },
        "telemetry.interval": { $0.telemetry.interval.formatted },
        // A template decides the body's size.
        "telemetry.payload_bytes": { $0.telemetry.template == nil ? "\($0.telemetry.payloadBytes)" : nil },
        "telemetry.template": { $0.telemetry.template.map { q($0.text) } },
        "telemetry.template_file": { _ in nil },  // read into the template, which is written
        "telemetry.mix": { $0.telemetry.mix.isEmpty ? nil : mixText($0.telemetry.mix) },
        "telemetry.qos": { "\($0.telemetry.qos.rawValue)" },
        "telemetry.properties": { s in
            s.telemetry.properties.isEmpty
                ? nil
                : "{"
                    + s.telemetry.properties.sorted { $0.key < $1.key }.map { "\(q($0.key)): \(q($0.value))" }
                    .joined(separator: ", ") + "}"
        },
        "telemetry.content_type": { $0.telemetry.contentType.map(q) },
        "telemetry.content_encoding": { $0.telemetry.contentEncoding.map(q) },
        "telemetry.drain_timeout": { $0.telemetry.drainTimeout.formatted },
        "telemetry.queue_capacity": { "\($0.telemetry.queueCapacity)" },
        "telemetry.queue_overflow": { $0.telemetry.queueOverflow.rawValue },
        "telemetry.max_inflight": { "\($0.telemetry.maxInflight)" },
        "twin.get_on_connect": { $0.twin.isEnabled ? "\($0.twin.getOnConnect)" : nil },
        "twin.report_interval": { $0.twin.isEnabled ? $0.twin.reportInterval.formatted : nil },
        "twin.report_bytes": { $0.twin.isEnabled ? "\($0.twin.reportBytes)" : nil },
        "twin.timeout": { $0.twin.isEnabled ? $0.twin.timeout.formatted : nil },
        "amqp.devices_per_connection": { $0.amqpPool.isPooled ? "\($0.amqpPool.devicesPerConnection)" : nil },
        "amqp.pool_size": { s in s.amqpPool.isPooled ? s.amqpPool.poolSize.map { "\($0)" } : nil },
        "https.poll_interval": { $0.hub.https ? $0.https.pollInterval.formatted : nil },
        "https.request_timeout": { $0.hub.https ? $0.https.requestTimeout.formatted : nil },
        "https.api_version": { $0.hub.https ? q($0.https.apiVersion) : nil },
        "sdk": { $0.sdk.name },
        "retry.policy": { q($0.retry.policy.name) },
        "retry.<parameter>": { parametersText($0.retry.policy) },
        "retry.throttled_policy": { throttledText($0.retry, sdk: $0.sdk) },
        "auth.mode": { s in s.auth.map { if case .x509 = $0.keys { "x509" } else { "sas" } } },
        "auth.hub_host": { $0.auth.map { q($0.hubHost) } },
        "auth.api_version": { $0.auth?.apiVersion.map(q) },
        "auth.token_ttl": { s in s.auth.flatMap { if case .x509 = $0.keys { nil } else { $0.tokenTTL.formatted } } },
        "auth.group_key": { s in s.auth.flatMap { if case .groupKey = $0.keys { q("(redacted)") } else { nil } } },
        "auth.registry": { s in
            s.auth.flatMap {
                if case .registry(let t) = $0.keys { q("(\(t.count) device keys, redacted)") } else { nil }
            }
        },
        "auth.certificates": { s in s.auth.flatMap { if case .x509(let d) = $0.keys { d.map(q) } else { nil } } },
        "cohorts": { $0.cohortsText },
        "cohorts[].transport": { _ in nil },  // in each cohort's item
        "cohorts[].mix": { _ in nil },  // in each cohort's item
        "faults": { $0.faultsText },
        "simulation.rtt": { $0.simulation.rtt.formatted },
        "simulation.rtt_jitter": { $0.simulation.rttJitter.formatted },
        "simulation.accept_rate": { "\($0.simulation.acceptRate)" },
        "simulation.accept_backlog": { "\($0.simulation.acceptBacklog)" },
        "simulation.connack_delay": { $0.simulation.connackDelay.formatted },
        "simulation.puback_delay": { $0.simulation.pubackDelay.formatted },
        "simulation.partitions": { "\($0.simulation.partitions)" },
        "link.rtt": { $0.link?.rtt.formatted },
        "link.jitter": { $0.link?.jitter.formatted },
        "link.loss": { $0.link.map { "\($0.loss)" } },
        "link.rate": { $0.link?.bitsPerSecond.map { "\(Int($0))bit" } },
    ]

    /// Every text as a double-quoted scalar YAML reads back unchanged (control characters escaped too).
    static func q(_ s: String) -> String { TextQuoting.doubleQuoted(s) }

    /// The throttled curve by name when it is not the one the reader derives from the SDK and the curve (a custom
    /// curve's own parameters); a profile names only it.
    static func throttledText(_ r: Retry, sdk: SDK) -> String? {
        r.throttled == sdk.throttledPolicy(for: r.policy) ? nil : q(r.throttled.name)
    }

    /// A curve's parameters as `key: "value"` items (nil: it has none).
    static func parametersText(_ policy: RetryPolicy) -> String? {
        policy.parameters.isEmpty ? nil : policy.parameters.map { "\($0.key): \(q($0.value))" }.joined(separator: ", ")
    }

    /// A retry curve as a flow mapping: its name, every parameter, the throttled curve when it must be named.
    static func retryText(_ r: Retry, sdk: SDK) -> String {
        var items = ["policy: \(q(r.policy.name))"]
        if let parameters = parametersText(r.policy) { items.append(parameters) }
        if let throttled = throttledText(r, sdk: sdk) { items.append("throttled_policy: \(throttled)") }
        return "{" + items.joined(separator: ", ") + "}"
    }

    /// The cohorts as a block list (nil without cohorts).
    var cohortsText: String? {
        guard !cohorts.isEmpty else { return nil }
        return cohorts.map { c in
            let pooled =
                c.amqpPool.isPooled
                ? ", amqp: {devices_per_connection: \(c.amqpPool.devicesPerConnection)"
                    + (c.amqpPool.poolSize.map { ", pool_size: \($0)" } ?? "") + "}" : ""
            // A cohort on another transport than the hub's says so (cohorts[].transport).
            let transport = c.amqp != hub.amqp ? ", transport: \(c.amqp ? "amqp" : "mqtt")" : ""
            let mix = c.mix.map { ", mix: \(Self.mixText($0))" } ?? ""
            return "\n  - {name: \(Self.q(c.name)), devices: \(c.devices), sdk: \(c.sdk.name)\(transport), "
                + "retry: \(Self.retryText(c.retry, sdk: c.sdk))\(pooled)\(mix)}"
        }.joined()
    }

    /// The faults as a block list (nil without faults), in the profile's own order: a fault's selection draws from
    /// its place in the list (its salt), and the reader sorts them by time after.
    var faultsText: String? {
        guard !faults.isEmpty else { return nil }
        return faults.sorted(by: { $0.target.salt &- seed < $1.target.salt &- seed }).map { f in
            var s = "\n  - {at: \(f.at.formatted), kind: \(f.kind.rawValue)"
            if f.kind.hasWindow { s += ", for: \(f.duration.formatted)" }
            if f.delay > .zero { s += ", delay: \(f.delay.formatted)" }
            if f.target.fraction < 1 { s += ", fraction: \(f.target.fraction)" }
            if let p = f.target.idPattern { s += ", devices: \(Self.q(p))" }
            if let src = f.target.source { s += ", source: \(src)" }
            if let r = f.connectRate { s += ", connect_rate: \(r)" }
            if let r = f.sendRate { s += ", send_rate: \(r)" }
            if f.period > .zero { s += ", period: \(f.period.formatted), down: \(f.down.formatted)" }
            if f.kind == .outage { s += ", refuse: \(f.refusal.rawValue)" }
            if f.uplink > 0 { s += ", uplink: \(f.uplink)" }
            return s + "}"
        }.joined()
    }
}
