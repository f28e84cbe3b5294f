extension ProfileReader {
    /// Where a mapping's `amqp:` pooling starts from: nothing (the profile), or the profile's (a cohort).
    enum AMQPPoolDefault {
        case none
        case inherited(Scenario.AMQPPool)
    }

    /// `amqp: {devices_per_connection: 995, pool_size: 3}` of the profile or a cohort (reference §11.1); only for
    /// devices on AMQP.
    static func readAMQPPool(
        _ section: inout Section,
        default start: AMQPPoolDefault,
        amqp: Bool
    ) throws(ScenarioError) -> Scenario.AMQPPool {
        var pool = Scenario.AMQPPool()
        if case .inherited(let inherited) = start { pool = inherited }
        guard section.mentions("amqp") else { return pool }
        try section.mapping("amqp") { (m: inout Section) throws(ScenarioError) in
            let perConnection = try m.int("devices_per_connection")
            let size = try m.int("pool_size")
            guard amqp else {
                throw m.error(
                    .invalidValue,
                    perConnection != nil ? "devices_per_connection" : "pool_size",
                    "pools AMQP connections, but the devices speak MQTT: set hub.amqp: true, transport: amqp, or an amqp:// hub URL"
                )
            }
            if let perConnection { pool.devicesPerConnection = perConnection }
            if let size { pool.poolSize = size }
        }
        return pool
    }

    /// `telemetry.content_type` / `content_encoding`: printable ASCII without spaces (AMQP carries them as symbols,
    /// HTTP as header values), at most 256 characters.
    static func readSystemProperty(_ t: inout Section, _ key: String) throws(ScenarioError) -> String? {
        guard let value = try t.string(key) else { return nil }
        guard !value.isEmpty, value.utf8.count <= 256, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw t.error(
                .invalidValue,
                key,
                "expected a media type or encoding name in printable ASCII without spaces (e.g. application/json, utf-8)"
            )
        }
        return value
    }

    /// A cohort's `transport: mqtt | amqp`: its own when it names one, else the hub's. Another transport than the
    /// hub's needs the embedded hub (which then serves both on one port), straight over TCP or TLS.
    static func readTransport(_ c: inout Section, hub: Scenario.HubTarget) throws(ScenarioError) -> Bool {
        guard let name = try c.string("transport") else { return hub.amqp }
        let amqp: Bool
        switch name {
        case "mqtt": amqp = false
        case "amqp": amqp = true
        default: throw c.error(.invalidValue, "transport", "expected mqtt or amqp, got \"\(name)\"")
        }
        guard amqp != hub.amqp else { return amqp }
        guard hub.isEmbedded else {
            throw c.error(
                .invalidValue,
                "transport",
                "differs from hub.url's: a cohort may speak another transport only with the embedded hub (hub.url: embedded)"
            )
        }
        guard hub.webSocketPath == nil, !hub.https else {
            throw c.error(
                .invalidValue,
                "transport",
                "mixing MQTT and AMQP cohorts works straight over TCP or TLS, not over WebSockets or HTTPS"
            )
        }
        return amqp
    }

    /// Every pooled cohort fits its pool: at most `devices_per_connection` devices on each of `pool_size`
    /// connections.
    static func checkPools(_ s: Scenario, top: Section, cohortSpecs: [CohortSpec]) throws(ScenarioError) {
        for (i, cohort) in s.effectiveCohorts.enumerated() {
            let pool = cohort.amqpPool
            let section = i < cohortSpecs.count ? cohortSpecs[i].section : top
            guard let size = pool.poolSize else { continue }
            guard pool.isPooled else {
                throw section.error(
                    .invalidValue,
                    "amqp.pool_size",
                    "needs amqp.devices_per_connection above 1 (with 1, every device has its own connection)"
                )
            }
            let capacity = size.multipliedReportingOverflow(by: pool.devicesPerConnection)
            guard capacity.overflow || capacity.partialValue >= cohort.devices else {
                throw section.error(
                    .invalidValue,
                    "amqp.pool_size",
                    "\(size) connections × \(pool.devicesPerConnection) devices hold \(capacity.partialValue), "
                        + "but cohort \(cohort.name) has \(cohort.devices) devices: raise amqp.pool_size or leave it out"
                )
            }
        }
    }
}
