import Foundation

extension ProfileReader {
    /// `simulation:` — how `fleetstorm simulate` models the network, the listener and the hub's answer times.
    static func readSimulation(_ m: inout Section, into simulation: inout Scenario.Simulation) throws(ScenarioError) {
        simulation.rtt = try m.duration("rtt") ?? simulation.rtt
        simulation.rttJitter =
            try m.duration("rtt_jitter") ?? simulation.rttJitter
        simulation.acceptRate = try m.rateOrUnlimited("accept_rate") ?? simulation.acceptRate
        simulation.acceptBacklog =
            try m.int("accept_backlog") ?? simulation.acceptBacklog
        simulation.connackDelay =
            try m.duration("connack_delay") ?? simulation.connackDelay
        simulation.pubackDelay =
            try m.duration("puback_delay") ?? simulation.pubackDelay
        simulation.partitions = try m.int("partitions") ?? simulation.partitions
    }

    /// `link:` — a slow or lossy link between the devices and the hub (nil when it changes nothing).
    static func readLink(_ m: inout Section) throws(ScenarioError) -> Scenario.Link? {
        var link = Scenario.Link()
        link.rtt = try m.duration("rtt") ?? link.rtt
        link.jitter = try m.duration("jitter") ?? link.jitter
        link.loss = try m.double("loss") ?? link.loss
        if link.loss >= 0.5 {
            throw m.error(.invalidValue, "loss", "expected a share of segments below 0.5, e.g. 0.02")
        }
        if let rate = try m.string("rate") {
            guard let bits = Scenario.Link.parseRate(rate) else {
                throw m.error(.invalidValue, "rate", "\"\(rate)\" is not a bit rate like 64kbit, 2mbit or 9600bit")
            }
            link.bitsPerSecond = bits
        }
        return link.isIdeal ? nil : link
    }

    /// `hub.https: true` — the embedded hub's devices use the HTTPS device API (an external hub says https://, and
    /// the key, if given, must agree).
    static func readHTTPSChoice(_ hub: inout Section, into target: inout Scenario.HubTarget) throws(ScenarioError) {
        guard let https = try hub.bool("https") else { return }
        // An external hub's URL names its transport; the key may only agree with it.
        guard target.isEmbedded else {
            guard https == target.https else {
                throw hub.error(
                    .invalidValue,
                    "https",
                    https
                        ? "asks for the HTTPS device API but hub.url is not https://: use https://HOST:PORT"
                        : "is false but hub.url is https://: drop hub.https"
                )
            }
            return
        }
        if https && target.webSocketPath != nil {
            throw hub.error(.invalidValue, "https", "devices use one transport: websocket or https, not both")
        }
        target.https = https
    }

    /// `hub.amqp: true` — the embedded hub's devices speak AMQP 1.0 (over WebSockets with `hub.websocket: true`); an
    /// external hub says amqp://, amqps://, amqp+ws:// or amqp+wss://, and the key, if given, must agree.
    static func readAMQPChoice(_ hub: inout Section, into target: inout Scenario.HubTarget) throws(ScenarioError) {
        guard let amqp = try hub.bool("amqp") else { return }
        guard target.isEmbedded else {
            guard amqp == target.amqp else {
                throw hub.error(
                    .invalidValue,
                    "amqp",
                    amqp
                        ? "asks for AMQP but hub.url is not amqp://, amqps://, amqp+ws:// or amqp+wss://: use amqp://HOST:PORT"
                        : "is false but hub.url is amqp://: drop hub.amqp"
                )
            }
            return
        }
        if amqp && target.https {
            throw hub.error(.invalidValue, "amqp", "devices use one transport: amqp or https, not both")
        }
        target.amqp = amqp
    }

    /// `https:` — how devices use the HTTPS device API; only for that transport.
    static func readHTTPS(
        _ m: inout Section,
        transport: Scenario.HubTarget,
        into https: inout Scenario.HTTPS
    ) throws(ScenarioError) {
        let poll = try m.duration("poll_interval")
        let timeout = try m.duration("request_timeout")
        let version = try m.string("api_version")
        if let version, version.isEmpty || version.contains(where: { $0.isWhitespace || $0 == "&" || $0 == "#" }) {
            throw m.error(.invalidValue, "api_version", "expected a version like \(DeviceREST.defaultAPIVersion)")
        }
        if (poll != nil || timeout != nil || version != nil) && !transport.https {
            throw m.error(
                .invalidValue,
                poll != nil ? "poll_interval" : timeout != nil ? "request_timeout" : "api_version",
                "only for the HTTPS device API: hub.url https://HOST:PORT, or hub.https: true"
            )
        }
        https.pollInterval = poll ?? https.pollInterval
        https.requestTimeout = timeout ?? https.requestTimeout
        https.apiVersion = version ?? https.apiVersion
    }

    /// `hub.tls`, `hub.ca_file`, `hub.server_name`: the devices' TLS settings (nil: plain TCP). mqtts://, wss:// and
    /// https:// always use TLS; an external hub needs the CA to trust (relative to the profile's folder).
    static func readTLS(
        _ hub: inout Section,
        target: Scenario.HubTarget,
        profile: String
    ) throws(ScenarioError) -> Scenario.TLS? {
        let tls = try hub.bool("tls")
        let caFile = try hub.string("ca_file")
        let serverName = try hub.string("server_name")
        if tls == false && (target.usesTLS || target.https) {
            throw hub.error(
                .invalidValue,
                "tls",
                "\(target.https ? "the HTTPS device API" : "an mqtts:// URL") always uses TLS"
            )
        }
        if target.usesTLS || tls == true || target.https {
            var settings = Scenario.TLS(caFile: caFile, serverName: serverName)
            if let caFile, !caFile.hasPrefix("/") {
                settings.caFile =
                    URL(fileURLWithPath: profile).deletingLastPathComponent()
                    .appendingPathComponent(caFile).path
            }
            if !target.isEmbedded && settings.caFile == nil {
                throw hub.error(
                    .invalidValue,
                    "ca_file",
                    "\(target.https ? "https://" : target.webSocketPath != nil ? "wss://" : "mqtts://") needs the CA to trust: ca_file: (e.g. certs/ca.pem)"
                )
            }
            return settings
        } else if caFile != nil || serverName != nil {
            throw hub.error(
                .invalidValue,
                caFile != nil ? "ca_file" : "server_name",
                "only used with TLS (mqtts:// or tls: true)"
            )
        }
        return nil
    }
}
