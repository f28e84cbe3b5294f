import FleetMQTT
import Testing

@testable import FleetCore

/// `telemetry.interval: 0`: the next message goes as soon as the in-flight window has room; its latency counts
/// from that moment. `stay_connected`: after the last message the device idles until stopped.
@Suite("Closed-loop sending and staying connected")
struct ClosedLoopTests {
    func connected(_ s: Scenario) -> DeviceStateMachine {
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: s), seed: 1)
        var a: [DeviceAction] = []
        m.start(now: .zero, into: &a)
        m.connectSucceeded(now: .zero, into: &a)
        m.packetReceived(.connack(MQTTConnAck()), now: .zero, into: &a)
        return m
    }

    static func ms(_ v: Int64) -> Instant { Instant(nanoseconds: v * 1_000_000) }

    @Test func windowPacesTheLoop() throws {
        var s = Scenario()
        s.telemetry.interval = .zero
        s.telemetry.maxInflight = 2
        s.telemetry.messages = 5
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: s), seed: 1)
        var a: [DeviceAction] = []
        m.start(now: .zero, into: &a)
        m.connectSucceeded(now: .zero, into: &a)
        a.removeAll()
        m.packetReceived(.connack(MQTTConnAck()), now: Self.ms(1), into: &a)
        let first = a.compactMap { if case .publish(let p) = $0 { p } else { nil } }
        #expect(first.map(\.seq) == [1, 2], "the window (2) fills at once")
        #expect(!a.contains { if case .schedule(.telemetry, _) = $0 { true } else { false } }, "no send timer")
        // Each PUBACK lets exactly one more go; its latency counts from when it could go (the ack's instant).
        a.removeAll()
        m.packetReceived(.puback(MQTTAck(packetID: first[0].packetID!)), now: Self.ms(11), into: &a)
        #expect(a.contains(.record(.acked(latency: .milliseconds(10)))))
        let next = a.compactMap { if case .publish(let p) = $0 { p } else { nil } }
        #expect(next.map(\.seq) == [3])
        a.removeAll()
        m.packetReceived(.puback(MQTTAck(packetID: next[0].packetID!)), now: Self.ms(14), into: &a)
        #expect(a.contains(.record(.acked(latency: .milliseconds(3)))), "sent at 11 ms, acked at 14 ms")
        #expect(m.generated == 4 && m.pendingMessages == 2)
    }

    @Test func closedLoopNeedsQoS1() {
        do throws(ScenarioError) {
            _ = try ScenarioLoader().load(yaml: "telemetry: {interval: 0, qos: 0}\n", source: "p.yaml")
            Issue.record("interval 0 with QoS 0 must be refused")
        } catch {
            #expect(error.key == "telemetry.interval" && error.message.contains("closed loop"))
        }
    }

    @Test func stayConnectedIdlesUntilStopped() {
        var s = Scenario()
        s.telemetry.messages = 0
        s.telemetry.stayConnected = true
        var m = connected(s)
        #expect(m.isConnected, "no messages to send, yet it stays")
        var a: [DeviceAction] = []
        m.timerFired(.keepAlive, deadline: Self.ms(60_000), now: Self.ms(60_000), into: &a)
        #expect(
            a.contains(.write(.pingreq)) || a.contains { if case .schedule(.keepAlive, _) = $0 { true } else { false } }
        )
        a.removeAll()
        m.stop(now: Self.ms(70_000), into: &a)
        m.channelClosed(now: Self.ms(70_001), into: &a)
        #expect(m.outcome == .stopped)
    }
}
