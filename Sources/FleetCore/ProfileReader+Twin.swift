extension ProfileReader {
    /// `twin:` — GET on connect, a reported PATCH every interval. MQTT and AMQP devices (over AMQP on the twin links);
    /// the HTTPS device API has no twin.
    static func readTwin(_ m: inout Section, scenario s: Scenario) throws(ScenarioError) -> Scenario.Twin {
        var t = Scenario.Twin()
        t.getOnConnect = try m.bool("get_on_connect") ?? t.getOnConnect
        t.reportInterval = try m.duration("report_interval") ?? t.reportInterval
        if t.reportInterval > .zero && t.reportInterval < .milliseconds(100) {
            throw m.error(.invalidValue, "report_interval", "expected 0 (no reports) or at least 100ms")
        }
        t.reportBytes = try m.int("report_bytes") ?? t.reportBytes
        t.timeout = try m.duration("timeout") ?? t.timeout
        guard t.isEnabled else { return t }
        let key = t.getOnConnect ? "get_on_connect" : "report_interval"
        if s.hub.https {
            throw m.error(
                .invalidValue,
                key,
                "twin operations need MQTT or AMQP devices: the HTTPS device API has no twin"
            )
        }
        return t
    }
}
