import FleetMQTT
import NIOCore
import Testing

@testable import FleetCore

@Suite("DeviceStateMachine: events → actions")
struct DeviceStateMachineTests {
    static func scenario(messages: Int = 2, qos: Int = 1) -> Scenario {
        var s = Scenario()
        s.telemetry.messages = messages
        s.telemetry.interval = .seconds(1)
        s.telemetry.qos = qos == 1 ? .atLeastOnce : .atMostOnce
        s.mqtt.keepAlive = .seconds(30)
        return s
    }

    static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    func step(
        _ m: inout DeviceStateMachine,
        _ body: (inout DeviceStateMachine, inout [DeviceAction]) -> Void
    ) -> [DeviceAction] {
        var actions: [DeviceAction] = []
        body(&m, &actions)
        return actions
    }

    @Test func happyPathConnectPublishAckDisconnect() {
        let config = DeviceConfig(scenario: Self.scenario())
        var m = DeviceStateMachine(deviceID: "d1", config: config)

        #expect(
            step(&m) { $0.start(now: Self.at(0), into: &$1) } == [
                .record(.connectAttempt), .connect, .schedule(.connectTimeout, Self.at(30_000)),
            ]
        )
        let onConnect = step(&m) { $0.connectSucceeded(now: Self.at(2), into: &$1) }
        #expect(onConnect.first == .cancel(.connectTimeout))
        #expect(onConnect.last == .schedule(.connackTimeout, Self.at(30_002)))
        guard case .write(.connect(let c)) = onConnect[1] else {
            Issue.record("expected CONNECT, got \(onConnect)")
            return
        }
        #expect(c.clientID == "d1" && c.keepAliveSeconds == 30 && c.version == .v311)

        #expect(
            step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(5), into: &$1) } == [
                .cancel(.connackTimeout), .record(.connected(latency: .milliseconds(5))),
                .schedule(.keepAlive, Self.at(30_005)), .schedule(.telemetry, Self.at(5)),
            ]
        )
        #expect(m.isConnected)

        // First message fires 1 ms late: latency counts from the intended time (5 ms), the next stays on the grid.
        let first = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(5), now: Self.at(6), into: &$1) }
        #expect(first.first == .record(.generated(qos: .atLeastOnce)))
        guard case .write(.publish(let p)) = first[1] else {
            Issue.record("expected PUBLISH, got \(first)")
            return
        }
        #expect(p.topic == "devices/d1/messages/events/" && p.qos == .atLeastOnce && p.packetID == 1)
        #expect(first.last == .schedule(.telemetry, Self.at(1005)))

        #expect(
            step(&m) { $0.packetReceived(.puback(MQTTAck(packetID: 1)), now: Self.at(9), into: &$1) } == [
                .record(.acked(latency: .milliseconds(4)))
            ]
        )
        let second = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(1005), now: Self.at(1005), into: &$1) }
        #expect(second.last == .schedule(.drain, Self.at(31_005)), "last message sent: wait for its ack")
        let done = step(&m) { $0.packetReceived(.puback(MQTTAck(packetID: 2)), now: Self.at(1010), into: &$1) }
        #expect(done.first == .record(.acked(latency: .milliseconds(5))))
        #expect(done.contains(.write(.disconnect(MQTTReasonPacket()))))
        #expect(done.last == .close)
        #expect(step(&m) { $0.channelClosed(now: Self.at(1011), into: &$1) } == [.record(.finished(.completed))])
        #expect(m.outcome == .completed)
    }

    @Test func refusedConnack() {
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: Self.scenario()))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(1), into: &$1) }
        #expect(
            step(&m) { $0.packetReceived(.connack(MQTTConnAck(code: 5)), now: Self.at(2), into: &$1) } == [
                .cancel(.connackTimeout), .record(.refused(code: 5)), .close,
            ]
        )
        #expect(step(&m) { $0.channelClosed(now: Self.at(3), into: &$1) } == [.record(.finished(.refused))])
    }

    @Test func connectionLostFailsInflightMessages() {
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: Self.scenario(messages: 5)))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(1), into: &$1) }
        _ = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(2), into: &$1) }
        _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(2), now: Self.at(2), into: &$1) }
        let closed = step(&m) { $0.channelClosed(now: Self.at(3), into: &$1) }
        #expect(closed.first == .record(.failed(count: 1, outcome: .connectionLost)))
        #expect(closed.last == .record(.finished(.connectionLost)))
        #expect(closed.contains(.cancel(.telemetry)))
    }

    func connected(_ id: String, messages: Int) -> DeviceStateMachine {
        var m = DeviceStateMachine(deviceID: id, config: DeviceConfig(scenario: Self.scenario(messages: messages)))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(0), into: &$1) }
        return m
    }

    @Test func keepAliveRearmsAfterTraffic() {
        var k = connected("k", messages: 3)
        _ = step(&k) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        _ = step(&k) { $0.packetReceived(.puback(MQTTAck(packetID: 1)), now: Self.at(1), into: &$1) }
        // The PUBLISH at 0 counts as traffic; the check at 20 s re-arms for 30 s after it, without a ping.
        #expect(
            step(&k) { $0.timerFired(.keepAlive, deadline: Self.at(20_000), now: Self.at(20_000), into: &$1) } == [
                .schedule(.keepAlive, Self.at(30_000))
            ]
        )
    }

    @Test func keepAlivePingThenTimeout() {
        var quiet = connected("q", messages: 3)
        #expect(
            step(&quiet) { $0.timerFired(.keepAlive, deadline: Self.at(30_000), now: Self.at(30_000), into: &$1) } == [
                .write(.pingreq), .schedule(.keepAlive, Self.at(60_000)),
            ]
        )
        let dead = step(&quiet) {
            $0.timerFired(.keepAlive, deadline: Self.at(60_000), now: Self.at(60_000), into: &$1)
        }
        #expect(dead.last == .close)
        #expect(
            step(&quiet) { $0.channelClosed(now: Self.at(60_001), into: &$1) } == [
                .record(.finished(.keepAliveTimeout))
            ]
        )
    }

    @Test func pingrespClearsTheOutstandingPing() {
        var m = connected("p", messages: 3)
        _ = step(&m) { $0.timerFired(.keepAlive, deadline: Self.at(30_000), now: Self.at(30_000), into: &$1) }
        _ = step(&m) { $0.packetReceived(.pingresp, now: Self.at(30_010), into: &$1) }
        #expect(
            step(&m) { $0.timerFired(.keepAlive, deadline: Self.at(60_000), now: Self.at(60_000), into: &$1) } == [
                .write(.pingreq), .schedule(.keepAlive, Self.at(90_000)),
            ]
        )
    }

    @Test func c2dPublishIsAcked() {
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: Self.scenario(messages: 3)))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(0), into: &$1) }
        let c2d = MQTTPublish(
            topic: "devices/d/messages/devicebound/x",
            payload: ByteBuffer(),
            qos: .atLeastOnce,
            packetID: 77
        )
        #expect(
            step(&m) { $0.packetReceived(.publish(c2d), now: Self.at(1), into: &$1) } == [
                .record(.received), .write(.puback(MQTTAck(packetID: 77))),
            ]
        )
    }

    @Test func unexpectedPacketIsAProtocolError() {
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: Self.scenario()))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        let actions = step(&m) { $0.packetReceived(.pingresp, now: Self.at(1), into: &$1) }
        #expect(actions.last == .close)
        #expect(step(&m) { $0.channelClosed(now: Self.at(2), into: &$1) } == [.record(.finished(.protocolError))])
    }

    @Test func stopLeavesUnackedMessagesPending() {
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: Self.scenario(messages: 5)))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        let stop = step(&m) { $0.stop(now: Self.at(10), into: &$1) }
        #expect(!stop.contains { if case .record(.failed) = $0 { return true } else { return false } })
        #expect(stop.contains(.write(.disconnect(MQTTReasonPacket()))))
        #expect(step(&m) { $0.channelClosed(now: Self.at(11), into: &$1) } == [.record(.finished(.stopped))])
        var idle = DeviceStateMachine(deviceID: "i", config: DeviceConfig(scenario: Self.scenario()))
        #expect(step(&idle) { $0.stop(now: Self.at(0), into: &$1) } == [.record(.finished(.stopped))])
    }
}
