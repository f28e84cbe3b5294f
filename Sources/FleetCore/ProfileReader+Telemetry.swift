/// The `telemetry:` section: what each device sends, how often, and in what mix.
extension ProfileReader {
    static func readTelemetry(_ t: inout Section, into telemetry: inout Scenario.Telemetry) throws(ScenarioError) {
        telemetry.messages = try t.int("messages") ?? telemetry.messages
        telemetry.interval = try t.duration("interval") ?? telemetry.interval
        telemetry.stayConnected = try t.bool("stay_connected") ?? telemetry.stayConnected
        telemetry.payloadBytes = try t.int("payload_bytes") ?? telemetry.payloadBytes
        if let q = try t.int("qos") { telemetry.qos = q == 0 ? .atMostOnce : .atLeastOnce }
        telemetry.drainTimeout = try t.duration("drain_timeout") ?? telemetry.drainTimeout
        telemetry.queueCapacity =
            try t.int("queue_capacity") ?? telemetry.queueCapacity
        if let o = try t.string("queue_overflow") {
            guard let overflow = QueueOverflow(rawValue: o) else {
                let known = QueueOverflow.allCases.map(\.rawValue).joined(separator: ", ")
                throw t.error(.invalidValue, "queue_overflow", "expected one of \(known), got \"\(o)\"")
            }
            telemetry.queueOverflow = overflow
        }
        telemetry.maxInflight = try t.int("max_inflight") ?? telemetry.maxInflight
        if telemetry.interval == .zero && telemetry.qos != .atLeastOnce {
            throw t.error(
                .invalidValue,
                "interval",
                "0 (closed loop) needs qos: 1: the in-flight window paces it; give QoS 0 an interval"
            )
        }
        try t.mapping("properties") { (p: inout Section) throws(ScenarioError) in
            telemetry.properties = try p.remainingScalars()
        }
        telemetry.contentType = try Self.readSystemProperty(&t, "content_type")
        telemetry.contentEncoding = try Self.readSystemProperty(&t, "content_encoding")
        telemetry.template = try Self.readTemplate(&t)
        telemetry.mix = try Self.readMix(&t) ?? []
        let bag = telemetry.properties.reduce(0) {
            $0 + SASToken.urlEncode($1.key).utf8.count + SASToken.urlEncode($1.value).utf8.count + 2
        }
        guard bag <= 60_000 else {
            throw t.error(
                .invalidValue,
                "properties",
                "the topic's property bag would be \(bag) bytes; an MQTT topic holds at most 65,535"
            )
        }
    }

    /// A `mix:` list (the telemetry section's, or a cohort's): each kind's name, weight, body and QoS. Nil when absent.
    static func readMix(_ section: inout Section) throws(ScenarioError) -> [Scenario.MessageKind]? {
        let given = section.mentions("mix")
        var kinds: [Scenario.MessageKind] = []
        try section.list("mix") { (k: inout Section) throws(ScenarioError) in
            guard let name = try k.string("name") else {
                throw k.error(.invalidValue, "name", "each message kind needs a name (the report counts kinds by it)")
            }
            let allowed = name.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                    || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
            guard allowed, !name.isEmpty, name.utf8.count <= 64 else {
                throw k.error(.invalidValue, "name", "expected 1–64 letters, digits, '-', '_' or '.', got \"\(name)\"")
            }
            guard !kinds.contains(where: { $0.name == name }) else {
                throw k.error(.invalidValue, "name", "\"\(name)\" names two kinds of this mix")
            }
            guard let weight = try k.double("weight"), weight > 0 else {
                throw k.error(.invalidValue, "weight", "each kind needs a weight above 0 (its share: weight / sum)")
            }
            var kind = Scenario.MessageKind(name: name, weight: weight)
            kind.template = try Self.readTemplate(&k)
            kind.payloadBytes = try k.int("payload_bytes")
            if kind.template != nil && kind.payloadBytes != nil {
                throw k.error(.invalidValue, "payload_bytes", "a template decides the body's size: drop payload_bytes")
            }
            if let q = try k.int("qos") { kind.qos = q == 0 ? .atMostOnce : .atLeastOnce }
            kinds.append(kind)
        }
        guard given else { return nil }
        guard !kinds.isEmpty else {
            throw section.error(.invalidValue, "mix", "an empty mix: list at least one kind, or drop mix")
        }
        return kinds
    }
}
