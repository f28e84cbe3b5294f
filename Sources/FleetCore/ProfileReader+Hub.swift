/// The `hub:` section: the target, its transport, TLS, the fault proxy, C2D and the tier.
extension ProfileReader {
    func readHub(_ hub: inout Section, into s: inout Scenario) throws(ScenarioError) {
        if let url = try hub.string("url") {
            guard let target = Scenario.HubTarget.parse(url) else {
                throw hub.error(
                    .invalidValue,
                    "url",
                    "expected `embedded`, mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT/PATH, wss://HOST:PORT/PATH, https://HOST:PORT, amqp://HOST:PORT or amqps://HOST:PORT, got \"\(url)\""
                )
            }
            s.hub = target
        }
        if let ws = try hub.bool("websocket") {
            // An external hub's URL names its transport; the key may only agree with it.
            if !s.hub.isEmbedded {
                guard ws == (s.hub.webSocketPath != nil) else {
                    throw hub.error(
                        .invalidValue,
                        "websocket",
                        ws
                            ? "asks for WebSockets but hub.url is not ws:// or wss://: use ws://HOST:PORT/PATH"
                            : "is false but hub.url is a WebSocket URL: drop hub.websocket"
                    )
                }
            } else {
                s.hub.webSocketPath = ws ? Scenario.HubTarget.iotHubWebSocketPath : nil
            }
        }
        try Self.readHTTPSChoice(&hub, into: &s.hub)
        try Self.readAMQPChoice(&hub, into: &s.hub)
        s.tls = try Self.readTLS(&hub, target: s.hub, profile: source)
        s.faultProxy = try hub.bool("fault_proxy") ?? false
        s.hubServesProfile = try hub.bool("serves_profile") ?? false
        if s.hubServesProfile && (s.hub.isEmbedded || s.faultProxy) {
            throw hub.error(
                .invalidValue,
                "serves_profile",
                s.hub.isEmbedded
                    ? "says the hub at hub.url is `fleetstorm hub --profile`: give hub.url"
                    : "the hub plays the faults itself: drop fault_proxy"
            )
        }
        s.c2dInterval = try hub.duration("c2d_interval")
        if s.c2dInterval != nil && !s.hub.isEmbedded && !s.hubServesProfile {
            throw hub.error(.invalidValue, "c2d_interval", "only the embedded hub sends C2D messages")
        }
        if s.faultProxy && s.hub.isEmbedded {
            throw hub.error(
                .invalidValue,
                "fault_proxy",
                "the embedded hub injects faults itself; the proxy is for external brokers"
            )
        }
        let tier = try hub.string("tier")
        if let tier, !Scenario.Quota.tiers.contains(tier.uppercased()) {
            throw hub.error(
                .invalidValue,
                "tier",
                "expected one of \(Scenario.Quota.tiers.joined(separator: ", "))"
            )
        }
        // The tier's settings are read whether or not a tier is given, so that one without it is refused as
        // what it is (not as an unknown key).
        let units = try hub.int("units")
        let burst = try hub.double("burst_seconds")
        let shaping = try hub.duration("max_shaping_delay")
        let daily = try hub.int("daily_messages")
        if let tier {
            var quota = Scenario.Quota(tier: tier.uppercased())
            quota.units = units ?? quota.units
            quota.burstSeconds = burst ?? quota.burstSeconds
            quota.maxShapingDelay = shaping ?? quota.maxShapingDelay
            quota.dailyMessages = daily.map { UInt64($0) }
            s.quota = quota
        } else if let key = [
            ("units", units != nil), ("burst_seconds", burst != nil), ("max_shaping_delay", shaping != nil),
            ("daily_messages", daily != nil),
        ].first(where: \.1)?.0 {
            throw hub.error(.invalidValue, key, "belongs to a tier: give hub.tier too (e.g. tier: S1)")
        }
    }
}
