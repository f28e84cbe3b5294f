import FleetCore
import FleetMQTT
import Foundation
import NIOCore
import Testing

/// `telemetry.template` / `template_file` in profiles, and the device machine writing templated bodies.
@Suite("Payload templates in profiles and devices")
struct TemplateProfileTests {
    static func error(_ yaml: String, files: [String: String] = [:]) -> String {
        do {
            _ = try ScenarioLoader(readFile: { files[$0] }).load(yaml: yaml, source: "fleet.yaml")
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test("a template error names the profile's line and column (block, line and quoted text) or the file's")
    func errorsNameTheProfileLine() {
        let block = """
            fleet: {devices: 10}
            telemetry:
              interval: 1s
              template: |
                {"id": "{{device_id}}",
                 "t": {{wlak min=1 max=2 step=0.1}}}
            """
        #expect(
            Self.error(block)
                == #"fleet.yaml:6:13: telemetry.template: unknown variable "wlak" (known: device_id, cohort, seq, time, time_ms, counter, int, float, choice, walk, pad)"#
        )
        let line = "telemetry:\n  template: '{\"n\": {{int min=3 max=2}}}'\n"
        #expect(Self.error(line) == "fleet.yaml:2:36: telemetry.template: int max: must be at least min (3), got 2")
        let plain = "telemetry:\n  template: x{{seq foo=1}}\n"
        #expect(Self.error(plain) == #"fleet.yaml:2:20: telemetry.template: seq: unknown argument "foo""#)
        let relative = Self.error(
            "telemetry: {template_file: t.json}\n",
            files: [
                URL(fileURLWithPath: "fleet.yaml").deletingLastPathComponent().appendingPathComponent("t.json").path:
                    "{\n \"c\": {{choice value=a}}\n}\n"
            ]
        )
        #expect(
            relative.hasSuffix(
                #"t.json:2:7: telemetry.template_file: choice needs values= (e.g. {{choice values=on|off|idle}})"#
            ),
            "\(relative)"
        )
        #expect(Self.error("telemetry: {template_file: missing.json}").contains("cannot read the file"))
        #expect(
            Self.error("telemetry: {template: x, template_file: t.json}").hasSuffix(
                "telemetry.template_file: give template or template_file, not both"
            )
        )
        // Over --set the template's own line and column are named.
        do {
            _ = try ScenarioLoader().load(yaml: "{}", source: "p.yaml", overrides: [#"telemetry.template="{{x}}""#])
            Issue.record("accepted")
        } catch {
            #expect(
                error.description.hasPrefix(
                    #"--set telemetry.template="{{x}}": telemetry.template: line 1, column 3 of the template: unknown"#
                ),
                "\(error)"
            )
        }
    }

    @Test("payload_bytes beside a template, a body over 256 KB, and non-JSON under application/json are refused")
    func loadTimeChecks() {
        #expect(
            Self.error("telemetry: {payload_bytes: 100, template: '{{seq}}'}").hasSuffix(
                "telemetry.payload_bytes: a template decides the body's size: drop payload_bytes"
            )
        )
        // Reference §4.6: "D2C message ≤ 256 KB (.NET `MaxMessageSize = 256·1024`...)".
        let big = String(repeating: "x", count: 262_100) + "{{choice values=\(String(repeating: "y", count: 50))|z}}"
        #expect(
            Self.error("telemetry: {template: '\(big)'}").hasSuffix(
                "telemetry.template: a body can expand to 262150 bytes; IoT Hub takes at most 262144 (256 KB) per message"
            )
        )
        #expect(Self.error("telemetry: {template: '\(String(repeating: "x", count: 262_000)){{seq}}'}") == "accepted")
        let json = "telemetry: {content_type: application/json, template: '{\"state\": {{choice values=\"on\"|off}}}'}"
        #expect(
            Self.error(json).contains("telemetry.template: content_type is application/json but message"),
            "\(Self.error(json))"
        )
        #expect(Self.error(json.replacingOccurrences(of: "|off", with: "|\"off\"")) == "accepted")
        #expect(
            Self.error("telemetry: {template: '{\"state\": {{choice values=on|off}}}'}") == "accepted",
            "no JSON type, no JSON check"
        )
    }

    @Test("the effective profile keeps the template (newlines included) and loads again")
    func redactedRoundTrip() throws {
        let yaml = "telemetry:\n  template: |\n    {\"id\": \"{{device_id}}\",\n     \"q\": \"a\\\\b\"}\n"
        let s = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
        #expect(!s.redactedYAML.contains("payload_bytes"))
        // The effective profile's telemetry line, read back as a profile of its own.
        let line = try #require(s.redactedYAML.split(separator: "\n").first { $0.hasPrefix("telemetry:") })
        let again = try ScenarioLoader().load(yaml: String(line), source: "effective.yaml")
        #expect(again.telemetry.template?.text == s.telemetry.template?.text)
        #expect(again.telemetry.template?.text == "{\"id\": \"{{device_id}}\",\n \"q\": \"a\\\\b\"}\n")
    }

    /// The packets a device publishes in one run of its machine: connect, CONNACK, then `messages` messages.
    static func published(
        _ scenario: Scenario,
        id: String = "device-00003",
        seed: UInt64
    ) -> (machine: DeviceStateMachine, publishes: [TelemetryPublish]) {
        var m = DeviceStateMachine(
            deviceID: id,
            shared: SharedDeviceConfig(DeviceConfig(scenario: scenario)),
            seed: seed
        )
        var actions: [DeviceAction] = []
        m.start(now: .zero, into: &actions)
        m.connectSucceeded(now: .zero, into: &actions)
        actions.removeAll()
        var now = Instant(nanoseconds: 1_000_000)
        m.packetReceived(.connack(MQTTConnAck(code: 0)), now: now, into: &actions)
        var publishes: [TelemetryPublish] = []
        for _ in 0..<scenario.telemetry.messages {
            now = now + scenario.telemetry.interval
            m.timerFired(.telemetry, deadline: now, now: now, into: &actions)
            for case .publish(let p) in actions { publishes.append(p) }
            actions.removeAll()
        }
        return (m, publishes)
    }

    @Test(
        "a device's bodies: the same seed gives the same bytes, another seed others; a re-sent message repeats its body"
    )
    func deviceBodies() throws {
        let s = try ScenarioLoader().load(
            yaml: """
                fleet: {devices: 10}
                telemetry:
                  messages: 5
                  interval: 1s
                  template: '{"d":"{{device_id}}","seq":{{seq}},"r":{{int min=0 max=1000000}},"w":{{walk min=0 max=100 step=1}}}'
                """,
            source: "p.yaml"
        )
        let (m, first) = Self.published(s, seed: 42)
        let (m2, again) = Self.published(s, seed: 42)
        let (m3, other) = Self.published(s, seed: 43)
        #expect(first.count == 5)
        let bodies = first.map { String(buffer: m.body(for: $0)) }
        #expect(bodies == again.map { String(buffer: m2.body(for: $0)) })
        #expect(bodies != other.map { String(buffer: m3.body(for: $0)) })
        #expect(bodies[2].hasPrefix(#"{"d":"device-00003","seq":3,"r":"#))
        // The dup re-send of message 3 (another intended time would not change a body without time variables).
        var dup = first[2]
        dup.dup = true
        #expect(String(buffer: m.body(for: dup)) == bodies[2])
        // The MQTT packet carries it.
        guard case .publish(let packet) = m.packet(for: first[2]) else {
            Issue.record("not a publish")
            return
        }
        #expect(String(buffer: packet.payload) == bodies[2])
        // And without a template, the filler as before.
        let plain = try ScenarioLoader().load(yaml: "telemetry: {messages: 2, payload_bytes: 10}", source: "p.yaml")
        let (pm, ps) = Self.published(plain, seed: 1)
        #expect(pm.body(for: ps[0]).readableBytes == 10)
    }
}
