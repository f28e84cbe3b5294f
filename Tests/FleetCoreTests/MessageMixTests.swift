import FleetCore
import FleetMQTT
import Foundation
import NIOCore
import Testing

/// `telemetry.mix` / `cohorts[].mix`: kinds drawn by weight per message, each with its own QoS and body.
@Suite("Message mixes")
struct MessageMixTests {
    static let yaml = """
        fleet: {devices: 200}
        telemetry:
          messages: 50
          interval: 1s
          qos: 1
          template: '{"r":{{int min=0 max=9}}}'
          mix:
            - {name: reading, weight: 95}
            - {name: blob, weight: 5, qos: 0, payload_bytes: 1000}
        """

    static func error(_ yaml: String) -> String {
        do {
            _ = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test("kinds come in their weights' shares, each with its QoS, body and a kind on its events")
    func kindsByWeight() throws {
        let s = try ScenarioLoader().load(yaml: Self.yaml, source: "p.yaml")
        var blobs = 0
        var total = 0
        for d in 0..<200 {
            let (m, publishes) = TemplateProfileTests.published(s, id: s.fleet.deviceID(d), seed: UInt64(d) + 1)
            #expect(publishes.count == 50)
            for p in publishes {
                total += 1
                let kind = m.kind(of: p.seq)
                #expect(kind == m.kind(of: p.seq), "the same message, the same kind")
                let body = m.body(for: p)
                if kind == 1 {
                    blobs += 1
                    #expect(p.packetID == nil, "blobs are QoS 0")
                    #expect(body.readableBytes == 1000)
                } else {
                    #expect(p.packetID != nil, "readings are QoS 1")
                    #expect(String(buffer: body).hasPrefix(#"{"r":"#))
                }
            }
        }
        let share = Double(blobs) / Double(total)
        // 10,000 draws at p = 0.05: 3 standard deviations are 0.0065.
        #expect(share > 0.043 && share < 0.057, "blob share \(share)")
    }

    @Test("the events carry the kind: generated for every message, acked for the QoS 1 ones")
    func eventsCarryTheKind() throws {
        let s = try ScenarioLoader().load(yaml: Self.yaml, source: "p.yaml")
        var m = DeviceStateMachine(deviceID: "d", shared: SharedDeviceConfig(DeviceConfig(scenario: s)), seed: 3)
        var actions: [DeviceAction] = []
        m.start(now: .zero, into: &actions)
        m.connectSucceeded(now: .zero, into: &actions)
        var now = Instant(nanoseconds: 1_000_000)
        m.packetReceived(.connack(MQTTConnAck(code: 0)), now: now, into: &actions)
        actions.removeAll()
        var generated = [0, 0]
        var acked = [0, 0]
        for _ in 0..<50 {
            now = now + .seconds(1)
            m.timerFired(.telemetry, deadline: now, now: now, into: &actions)
            var ids: [UInt16] = []
            for action in actions {
                if case .record(.generated(_, let kind)) = action { generated[Int(kind)] += 1 }
                if case .publish(let p) = action, let id = p.packetID { ids.append(id) }
            }
            actions.removeAll()
            for id in ids { m.packetReceived(.puback(MQTTAck(packetID: id)), now: now, into: &actions) }
            for case .record(.acked(_, let kind)) in actions { acked[Int(kind)] += 1 }
            actions.removeAll()
        }
        #expect(generated[0] + generated[1] == 50)
        #expect(acked[0] == generated[0] && acked[1] == 0)
    }

    @Test("a cohort's own mix replaces the profile's; without one it inherits it")
    func cohortMix() throws {
        let s = try ScenarioLoader().load(
            yaml: Self.yaml + """

                cohorts:
                  - {name: a, share: 0.5}
                  - name: b
                    share: 0.5
                    mix: [{name: only, weight: 1, qos: 0}]
                """,
            source: "p.yaml"
        )
        #expect(s.mix(of: s.cohorts[0]).map(\.name) == ["reading", "blob"])
        #expect(s.mix(of: s.cohorts[1]).map(\.name) == ["only"])
        // The effective profile writes both mixes, and its telemetry and cohort lines read back to the same mixes.
        let lines = s.redactedYAML.split(separator: "\n")
        let telemetry = try #require(lines.first { $0.hasPrefix("telemetry:") })
        #expect(try ScenarioLoader().load(yaml: String(telemetry), source: "t").telemetry.mix == s.telemetry.mix)
        #expect(lines.contains { $0.contains("mix: [{name: \"only\", weight: 1, qos: 0}]") }, "\(s.redactedYAML)")
        let b = DeviceConfig(scenario: s, cohort: s.cohorts[1])
        #expect(b.kinds.count == 1 && b.kinds[0].qos == .atMostOnce && b.kinds[0].threshold == .max)
    }

    @Test("mistakes in a mix are refused in one line naming the key")
    func refusals() {
        let base = "telemetry:\n  mix:\n"
        let cases: [(String, String)] = [
            ("    - {weight: 1}\n", "telemetry.mix[0].name: each message kind needs a name"),
            ("    - {name: a}\n", "telemetry.mix[0].weight: each kind needs a weight above 0"),
            ("    - {name: a, weight: 0}\n", "telemetry.mix[0].weight: each kind needs a weight above 0"),
            (
                "    - {name: a, weight: 1}\n    - {name: a, weight: 2}\n",
                "telemetry.mix[1].name: \"a\" names two kinds"
            ),
            ("    - {name: 'a b', weight: 1}\n", "telemetry.mix[0].name: expected 1–64 letters"),
            (
                "    - {name: a, weight: 1, payload_bytes: 5, template: x}\n",
                "telemetry.mix[0].payload_bytes: a template decides the body's size"
            ),
            ("    - {name: a, weight: 1, qos: 2}\n", "telemetry.mix[0].qos: must be between 0 and 1"),
            ("    - {name: a, weight: 1, colour: red}\n", "telemetry.mix[0].colour: unknown key"),
            ("    - {name: a, weight: 1, template: '{{seq'}\n", "telemetry.mix[0].template:"),
        ]
        for (items, expected) in cases {
            let e = Self.error(base + items)
            #expect(e.contains(expected), "\(items): \(e)")
        }
        #expect(Self.error("telemetry: {mix: []}").contains("telemetry.mix: an empty mix"))
        // A closed loop paces by acknowledgements: every kind must be QoS 1.
        let closed = Self.error("telemetry: {interval: 0, mix: [{name: a, weight: 1}, {name: b, weight: 1, qos: 0}]}")
        #expect(
            closed.contains("telemetry.mix[1].qos: interval 0 (closed loop) needs QoS 1 for every kind"),
            "\(closed)"
        )
        // A kind's template is checked like the section's.
        let json = Self.error(
            "telemetry: {content_type: application/json, mix: [{name: a, weight: 1, template: '{x}'}]}"
        )
        #expect(json.contains("telemetry.mix[0].template: content_type is application/json but message 1"), "\(json)")
    }
}
