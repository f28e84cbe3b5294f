import FleetCore
import Testing

@Suite("AMQP in profiles: URLs, hub.amqp, and what is refused")
struct AMQPProfileTests {
    @Test("amqp, amqps, amqp+ws and amqp+wss URLs: default ports, TLS, the WebSocket path, and back to text")
    func urls() throws {
        let cases: [(String, host: String, port: Int, tls: Bool, path: String?, text: String)] = [
            ("amqp://hub.local", "hub.local", 5672, false, nil, "amqp://hub.local:5672"),
            ("amqps://hub.local", "hub.local", 5671, true, nil, "amqps://hub.local:5671"),
            ("amqps://[::1]:6000/", "::1", 6000, true, nil, "amqps://[::1]:6000"),
            (
                "amqp+wss://hub.local", "hub.local", 443, true, "/$iothub/websocket",
                "amqp+wss://hub.local:443/$iothub/websocket"
            ),
            ("amqp+ws://hub.local:8080/x", "hub.local", 8080, false, "/x", "amqp+ws://hub.local:8080/x"),
        ]
        for (url, host, port, tls, path, text) in cases {
            let target = try #require(Scenario.HubTarget.parse(url), "\(url)")
            #expect(target.amqp, "\(url)")
            #expect(target.hostAndPort?.host == host && target.hostAndPort?.port == port, "\(url)")
            #expect(target.usesTLS == tls, "\(url)")
            #expect(target.webSocketPath == path, "\(url)")
            #expect(target.description == text)
            #expect(Scenario.HubTarget.parse(target.description) == target, "\(url) reads back")
        }
        for bad in ["amqp://", "amqp://hub:0", "amqps://hub/path", "amqp+https://hub"] {
            #expect(Scenario.HubTarget.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("hub.amqp must agree with an external URL, cannot go with HTTPS, and azure-python has no AMQP")
    func refusals() {
        for (yaml, key) in [
            ("hub: {url: \"mqtt://h:1883\", amqp: true}", "hub.amqp"),
            ("hub: {url: \"amqp://h:5672\", amqp: false}", "hub.amqp"),
            ("hub: {url: embedded, https: true, amqp: true}", "hub.amqp"),
            ("hub: {url: \"amqp://h:5672\"}\nsdk: azure-python", "sdk"),
            ("hub: {url: embedded, amqp: true}\ncohorts: [{name: p, share: 1, sdk: azure-python}]", "cohorts[0].sdk"),
        ] {
            do throws(ScenarioError) {
                _ = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
                Issue.record("\(yaml) should fail")
            } catch {
                #expect(error.key == key, "\(yaml): \(error)")
            }
        }
    }
}
