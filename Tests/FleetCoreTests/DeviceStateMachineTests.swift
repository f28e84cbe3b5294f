import FleetMQTT
import NIOCore
import Testing

@testable import FleetCore

/// Event → actions sequences of the device machine, in virtual time with a seeded generator.
@Suite("DeviceStateMachine: events → actions")
struct DeviceStateMachineTests {
    static func scenario(
        messages: Int = 2,
        qos: Int = 1,
        policy: String = "none",
        params: [String: String] = [:]
    ) -> Scenario {
        var s = Scenario()
        s.telemetry.messages = messages
        s.telemetry.interval = .seconds(1)
        s.telemetry.qos = qos == 1 ? .atLeastOnce : .atMostOnce
        s.mqtt.keepAlive = .seconds(30)
        s.retry.policy = (try? RetryPolicy.make(name: policy, parameters: params)) ?? .preset("none")
        s.retry.throttled = s.retry.policy
        // These fixtures test each SDK with its own curve: the SDK is set explicitly (the product never derives it
        // from a policy name); families run as a plain MQTT client.
        s.sdk = SDK(name: policy) ?? .mqtt
        return s
    }

    static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    static func machine(_ s: Scenario = scenario(), id: String = "d1") -> DeviceStateMachine {
        DeviceStateMachine(deviceID: id, config: DeviceConfig(scenario: s), seed: 42)
    }

    func step(
        _ m: inout DeviceStateMachine,
        _ body: (inout DeviceStateMachine, inout [DeviceAction]) -> Void
    ) -> [DeviceAction] {
        var actions: [DeviceAction] = []
        body(&m, &actions)
        return actions
    }

    func connected(_ s: Scenario, id: String = "d1") -> DeviceStateMachine {
        var m = Self.machine(s, id: id)
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(0), into: &$1) }
        return m
    }

    static func records(_ actions: [DeviceAction]) -> [DeviceEvent] {
        actions.compactMap { if case .record(let e) = $0 { return e } else { return nil } }
    }

    @Test func happyPathConnectPublishAckDisconnect() {
        var m = Self.machine()
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
                .record(.status(from: .disconnected, to: .connected, reason: .connectionOk)),
                .schedule(.keepAlive, Self.at(30_005)), .schedule(.telemetry, Self.at(5)),
            ]
        )
        #expect(m.isConnected && m.status == .connected)

        // First message fires 1 ms late: latency counts from the intended time (5 ms), the next stays on the grid.
        let first = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(5), now: Self.at(6), into: &$1) }
        #expect(first.first == .record(.generated(qos: .atLeastOnce)))
        guard case .publish(let t) = first[1], case .publish(let p) = m.packet(for: t) else {
            Issue.record("expected PUBLISH, got \(first)")
            return
        }
        #expect(p.topic == "devices/d1/messages/events/%24.mid=1" && p.qos == .atLeastOnce && p.packetID == 1)
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
        #expect(done.contains(.record(.disconnected)))
        #expect(done.last == .close)
        #expect(
            Self.records(step(&m) { $0.channelClosed(now: Self.at(1011), into: &$1) }) == [
                .status(from: .connected, to: .disabled, reason: .clientClose),
                .finished(.completed, .disabled, .clientClose),
            ]
        )
        #expect(m.outcome == .completed)
    }

    @Test(
        "CONNACK refusals follow each SDK's table",
        arguments: [
            ("azure-dotnet", UInt8(5), ErrorClass.unrecoverable, StatusReason.badCredential),
            ("azure-dotnet", 4, .unrecoverable, .badCredential),
            ("azure-dotnet", 3, .transient, .communicationError),
            ("azure-dotnet", 2, .unrecoverable, .communicationError),
            ("azure-c", 5, .transient, .badCredential),
            ("azure-c", 3, .transient, .deviceDisabled),
            ("azure-c", 4, .unrecoverable, .badCredential),
            ("azure-java", 4, .unrecoverable, .communicationError),
            ("azure-node", 2, .unrecoverable, .badCredential),
            ("azure-python", 3, .transient, .communicationError),
            ("full-jitter", 5, .unrecoverable, .badCredential),
        ]
    )
    func refusedConnack(policy: String, code: UInt8, errorClass: ErrorClass, reason: StatusReason) {
        var m = Self.machine(Self.scenario(policy: policy))
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(1), into: &$1) }
        let refused = step(&m) { $0.packetReceived(.connack(MQTTConnAck(code: code)), now: Self.at(2), into: &$1) }
        #expect(refused.contains(.record(.refused(code: code))))
        #expect(refused.last == .close)
        let closed = step(&m) { $0.channelClosed(now: Self.at(3), into: &$1) }
        switch errorClass {
        case .unrecoverable:
            #expect(
                Self.records(closed) == [
                    .status(from: .disconnected, to: .disconnected, reason: reason),
                    .finished(.refused, .disconnected, reason),
                ],
                "no retry storm for an unrecoverable refusal"
            )
        default:
            #expect(
                Self.records(closed).last == .status(from: .disconnected, to: .disconnectedRetrying, reason: reason)
            )
            #expect(closed.contains { if case .schedule(.backoff, _) = $0 { return true } else { return false } })
            #expect(m.outcome == nil)
        }
    }

    @Test func mqtt5ReasonCodes() {
        let classifier = ErrorClassifier(flavour: .dotnet)
        #expect(classifier.classify(.refused(code: 0x87, version5: true)) == (.unrecoverable, .badCredential))
        #expect(classifier.classify(.refused(code: 0x9F, version5: true)).0 == .throttled)
        #expect(classifier.classify(.refused(code: 0x97, version5: true)).0 == .throttled)
        #expect(classifier.classify(.refused(code: 0x89, version5: true)).0 == .transient)
        #expect(classifier.classify(.serverDisconnect(reason: 0x8E)) == (.transient, .communicationError))
        #expect(classifier.classify(.network) == (.transient, .communicationError))
        #expect(ErrorClassifier(flavour: .c).classify(.network) == (.transient, .noNetwork))
        // The classifier is the SDK's, never derived from the retry curve's name.
        #expect(SDK.c.classifier.flavour == .c)
        #expect(SDK.mqtt.classifier.flavour == .mqtt)
        var s = Scenario()
        s.sdk = .python
        s.retry.policy = .preset("decorrelated-jitter")
        #expect(DeviceConfig(scenario: s).classifier.flavour == .python)
    }

    /// A drop with the .NET default: first wait 100 ms (no floor after a loss), status Disconnected_Retrying;
    /// a fast-failing attempt then waits ≥ 1 s between attempt starts; the CONNACK ends the episode.
    @Test func dropThenRetryWithDotnetPolicy() {
        let s = Self.scenario(messages: 100, policy: "azure-dotnet")
        var m = connected(s)
        _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        let lost = step(&m) { $0.channelClosed(now: Self.at(500), into: &$1) }
        #expect(
            Self.records(lost) == [
                .disconnected, .retryScheduled(attempt: 1, delay: .milliseconds(100)),
                .status(from: .connected, to: .disconnectedRetrying, reason: .communicationError),
            ]
        )
        #expect(lost.last == .schedule(.backoff, Self.at(600)))
        #expect(m.lastError == .connectionLost)

        // Telemetry keeps its grid while disconnected: a due message goes to the offline queue.
        #expect(
            Self.records(step(&m) { $0.timerFired(.telemetry, deadline: Self.at(1000), now: Self.at(1000), into: &$1) })
                == [.generated(qos: .atLeastOnce)]
        )
        #expect(m.queue.count == 1 && m.redelivery.count == 1)

        let retry1 = step(&m) { $0.timerFired(.backoff, deadline: Self.at(600), now: Self.at(600), into: &$1) }
        #expect(retry1.contains(.connect))
        // The attempt fails fast (refused after 20 ms): nominal 180–219 ms, floored so attempt starts are 1 s apart.
        let failed = step(&m) { $0.connectFailed(now: Self.at(620), into: &$1) }
        #expect(failed.last == .schedule(.backoff, Self.at(1600)))
        guard case .retryScheduled(2, let wait) = Self.records(failed)[0] else {
            Issue.record("expected retry 2, got \(failed)")
            return
        }
        #expect(wait == .milliseconds(980))

        _ = step(&m) { $0.timerFired(.backoff, deadline: Self.at(1600), now: Self.at(1600), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(1601), into: &$1) }
        let back = Self.records(step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(1605), into: &$1) })
        #expect(
            back == [
                .connected(latency: .milliseconds(5)), .reconnected(latency: .milliseconds(1105)),
                .status(from: .disconnectedRetrying, to: .connected, reason: .connectionOk),
            ]
        )
        #expect(m.lastError == nil)
    }

    @Test func noRetryPolicyGivesUpWithRetryExpired() {
        var m = connected(Self.scenario(messages: 5, policy: "none"))
        let lost = Self.records(step(&m) { $0.channelClosed(now: Self.at(10), into: &$1) })
        #expect(
            lost.suffix(2) == [
                .status(from: .connected, to: .disconnected, reason: .retryExpired),
                .finished(.connectionLost, .disconnected, .retryExpired),
            ]
        )
    }

    @Test func operationTimeoutEndsRetrying() {
        // Java: 240 s budget from the failure that started retrying.
        var m = connected(Self.scenario(messages: 5, policy: "azure-java"))
        var now: Int64 = 1000
        var last: [DeviceAction] = step(&m) { $0.channelClosed(now: Self.at(now), into: &$1) }
        var attempts = 0
        while m.outcome == nil && attempts < 100 {
            guard case .schedule(.backoff, let at) = last.last else { break }
            now = at.nanoseconds / 1_000_000
            _ = step(&m) { $0.timerFired(.backoff, deadline: at, now: Self.at(now), into: &$1) }
            now += 50
            last = step(&m) { $0.connectFailed(now: Self.at(now), into: &$1) }
            attempts += 1
        }
        #expect(m.outcome == .connectFailed)
        #expect(m.status == .disconnected && m.statusReason == .retryExpired)
        #expect(now - 1000 <= 240_000 + 10_050, "gave up at \(now - 1000) ms, budget 240 s")
        #expect(now - 1000 > 230_000)
    }

    @Test func cSDKWaitCountsFromTheAttemptStart() {
        var m = connected(Self.scenario(messages: 5, policy: "azure-c"))
        let lost = step(&m) { $0.channelClosed(now: Self.at(0), into: &$1) }
        #expect(lost.last == .schedule(.backoff, Self.at(0)), "the C SDK's first retry is immediate")
        _ = step(&m) { $0.timerFired(.backoff, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(10), into: &$1) }
        // 30 s CONNACK timeout: the 1 s wait is already used up, so the next attempt starts at once.
        let timeout = step(&m) {
            $0.timerFired(.connackTimeout, deadline: Self.at(30_010), now: Self.at(30_010), into: &$1)
        }
        #expect(timeout.last == .close)
        let closed = step(&m) { $0.channelClosed(now: Self.at(30_010), into: &$1) }
        #expect(closed.last == .schedule(.backoff, Self.at(30_010)))
    }

    @Test func givingUpAbandonsQueuedAndUnackedMessages() {
        var m = connected(Self.scenario(messages: 5))
        _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        let closed = step(&m) { $0.channelClosed(now: Self.at(3), into: &$1) }
        #expect(closed.contains(.record(.failed(count: 1, reason: .abandoned))))
        #expect(closed.last == .record(.finished(.connectionLost, .disconnected, .retryExpired)))
        #expect(closed.contains(.cancel(.telemetry)))
    }

    /// In-flight messages survive a drop: after the reconnect they are re-published with DUP=1 in packet-id order,
    /// then the offline queue drains, then new messages flow; every message is acknowledged exactly once.
    @Test func redeliveryWithDupThenQueueDrain() {
        var m = connected(Self.scenario(messages: 6, policy: "fixed", params: ["base": "1s"]))
        for t in [0, 1000, 2000] as [Int64] {
            _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(t), now: Self.at(t), into: &$1) }
        }
        // Only 2 is acknowledged: 1 and 3 are in flight when the link drops.
        _ = step(&m) { $0.packetReceived(.puback(MQTTAck(packetID: 2)), now: Self.at(2010), into: &$1) }
        _ = step(&m) { $0.channelClosed(now: Self.at(2500), into: &$1) }
        for t in [3000, 4000] as [Int64] {  // due while disconnected: queued
            _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(t), now: Self.at(t), into: &$1) }
        }
        _ = step(&m) { $0.timerFired(.backoff, deadline: Self.at(3500), now: Self.at(4500), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(4501), into: &$1) }
        let back = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(4502), into: &$1) }
        let publishes = back.compactMap { a -> MQTTPublish? in
            if case .publish(let t) = a, case .publish(let p) = m.packet(for: t) { return p } else { return nil }
        }
        #expect(publishes.map(\.packetID) == [1, 3, 2, 4], "DUP redelivery in id order, then the queue (new ids)")
        #expect(publishes.map(\.dup) == [true, true, false, false])
        let ids = publishes.map { SequenceTracker.messageID(inTopic: $0.topic) }
        #expect(ids == [1, 3, 4, 5], "message ids survive redelivery; queued ones keep their order")
        for id: UInt16 in [1, 3, 2, 4] {
            let acked = step(&m) { $0.packetReceived(.puback(MQTTAck(packetID: id)), now: Self.at(4600), into: &$1) }
            // Latency counts from each message's intended time, offline time included.
            #expect(acked.first.map { if case .record(.acked) = $0 { true } else { false } } == true)
        }
        _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(5000), now: Self.at(5000), into: &$1) }
        let last = step(&m) { $0.packetReceived(.puback(MQTTAck(packetID: 5)), now: Self.at(5010), into: &$1) }
        #expect(last.contains(.write(.disconnect(MQTTReasonPacket()))), "all 6 acknowledged: clean goodbye")
    }

    @Test("a full queue applies its overflow policy", arguments: QueueOverflow.allCases)
    func queueOverflow(policy: QueueOverflow) {
        var s = Self.scenario(messages: 10, policy: "fixed", params: ["base": "1h"])
        s.telemetry.queueCapacity = 2
        s.telemetry.queueOverflow = policy
        var m = connected(s)
        _ = step(&m) { $0.channelClosed(now: Self.at(1), into: &$1) }
        var events: [DeviceEvent] = []
        for t in 0..<4 as Range<Int64> {
            events += Self.records(
                step(&m) { $0.timerFired(.telemetry, deadline: Self.at(t * 1000), now: Self.at(t * 1000), into: &$1) }
            )
        }
        let generated = events.filter { if case .generated = $0 { true } else { false } }.count
        let overflowed = events.filter { $0 == .failed(count: 1, reason: .queueOverflow) }.count
        switch policy {
        case .blockGeneration: #expect(generated == 2 && overflowed == 0 && m.generated == 2)
        case .dropNewest, .dropOldest: #expect(generated == 4 && overflowed == 2 && m.queue.count == 2)
        }
    }

    @Test func inflightWindowQueuesTheRest() {
        var s = Self.scenario(messages: 5)
        s.telemetry.maxInflight = 2
        var m = connected(s)
        var writes = 0
        for t in 0..<4 as Range<Int64> {
            let a = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(t), now: Self.at(t), into: &$1) }
            writes += a.filter { if case .publish = $0 { true } else { false } }.count
        }
        #expect(writes == 2 && m.queue.count == 2)
        let acked = step(&m) { $0.packetReceived(.puback(MQTTAck(packetID: 1)), now: Self.at(10), into: &$1) }
        #expect(acked.filter { if case .publish = $0 { true } else { false } }.count == 1)
    }

    @Test func keepAliveRearmsAfterTraffic() {
        var k = connected(Self.scenario(messages: 3))
        _ = step(&k) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        _ = step(&k) { $0.packetReceived(.puback(MQTTAck(packetID: 1)), now: Self.at(1), into: &$1) }
        #expect(
            step(&k) { $0.timerFired(.keepAlive, deadline: Self.at(20_000), now: Self.at(20_000), into: &$1) } == [
                .schedule(.keepAlive, Self.at(30_000))
            ]
        )
    }

    @Test(
        "keep-alive per SDK: when to ping, how long to wait",
        arguments: [
            ("azure-dotnet", Int64(7_500), Int64(30_000)), ("azure-c", 30_000, 15_000), ("azure-java", 30_000, 30_000),
            ("full-jitter", 30_000, 30_000),
        ]
    )
    func keepAlivePingThenTimeout(policy: String, idleMs: Int64, waitMs: Int64) {
        var quiet = connected(Self.scenario(messages: 3, policy: policy))
        #expect(
            step(&quiet) { $0.timerFired(.keepAlive, deadline: Self.at(idleMs), now: Self.at(idleMs), into: &$1) } == [
                .write(.pingreq), .schedule(.keepAlive, Self.at(idleMs + waitMs)),
            ]
        )
        let dead = step(&quiet) {
            $0.timerFired(.keepAlive, deadline: Self.at(idleMs + waitMs), now: Self.at(idleMs + waitMs), into: &$1)
        }
        #expect(dead.last == .close)
        let closed = Self.records(step(&quiet) { $0.channelClosed(now: Self.at(idleMs + waitMs + 1), into: &$1) })
        // Reference §2.3: Java maps "any retryable TransportException → NO_NETWORK"; the others say
        // Communication_Error.
        let reason: StatusReason = policy == "azure-java" ? .noNetwork : .communicationError
        #expect(closed.last == .status(from: .connected, to: .disconnectedRetrying, reason: reason))
        #expect(quiet.lastError == .keepAliveTimeout)
    }

    @Test func pingrespClearsTheOutstandingPing() {
        var m = connected(Self.scenario(messages: 3))
        _ = step(&m) { $0.timerFired(.keepAlive, deadline: Self.at(30_000), now: Self.at(30_000), into: &$1) }
        _ = step(&m) { $0.packetReceived(.pingresp, now: Self.at(30_010), into: &$1) }
        #expect(
            step(&m) { $0.timerFired(.keepAlive, deadline: Self.at(60_000), now: Self.at(60_000), into: &$1) } == [
                .write(.pingreq), .schedule(.keepAlive, Self.at(90_000)),
            ]
        )
    }

    @Test func c2dSubscriptionAndPropertyBag() {
        var s = Self.scenario(messages: 3)
        s.mqtt.subscribeC2D = true
        s.telemetry.properties = ["z": "x", "a b": "1"]
        var m = Self.machine(s)
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        let onConnack = step(&m) { $0.packetReceived(.connack(MQTTConnAck()), now: Self.at(0), into: &$1) }
        #expect(
            onConnack.contains(
                .write(
                    .subscribe(
                        MQTTSubscribe(
                            packetID: 1,
                            subscriptions: [
                                MQTTSubscription(topicFilter: "devices/d1/messages/devicebound/#", qos: .atLeastOnce)
                            ]
                        )
                    )
                )
            )
        )
        let sent = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        guard case .publish(let t) = sent[1], case .publish(let p) = m.packet(for: t) else {
            Issue.record("expected a PUBLISH, got \(sent)")
            return
        }
        #expect(p.topic == "devices/d1/messages/events/%24.mid=1&a%20b=1&z=x")
        #expect(p.packetID == 2, "the SUBSCRIBE's id is not reused while unanswered")
    }

    @Test func c2dPublishIsAcked() {
        var m = connected(Self.scenario(messages: 3))
        let c2d = MQTTPublish(
            topic: "devices/d/messages/devicebound/x",
            payload: ByteBuffer(),
            qos: .atLeastOnce,
            packetID: 77
        )
        #expect(
            step(&m) { $0.packetReceived(.publish(c2d), now: Self.at(1), into: &$1) } == [
                .record(.received(c2d)), .write(.puback(MQTTAck(packetID: 77))),
            ]
        )
    }

    @Test func unexpectedPacketIsAProtocolError() {
        var m = Self.machine()
        _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
        _ = step(&m) { $0.connectSucceeded(now: Self.at(0), into: &$1) }
        #expect(step(&m) { $0.packetReceived(.pingresp, now: Self.at(1), into: &$1) }.last == .close)
        #expect(
            Self.records(step(&m) { $0.channelClosed(now: Self.at(2), into: &$1) }).last
                == .finished(.protocolError, .disconnected, .retryExpired)
        )
    }

    @Test func stopLeavesUnackedMessagesPendingAndClosesTheClient() {
        var m = connected(Self.scenario(messages: 5))
        _ = step(&m) { $0.timerFired(.telemetry, deadline: Self.at(0), now: Self.at(0), into: &$1) }
        let stop = step(&m) { $0.stop(now: Self.at(10), into: &$1) }
        #expect(!stop.contains { if case .record(.failed) = $0 { return true } else { return false } })
        #expect(stop.contains(.write(.disconnect(MQTTReasonPacket()))))
        #expect(
            Self.records(step(&m) { $0.channelClosed(now: Self.at(11), into: &$1) }).last
                == .finished(.stopped, .disabled, .clientClose)
        )
        var idle = Self.machine()
        #expect(
            Self.records(step(&idle) { $0.stop(now: Self.at(0), into: &$1) }).last
                == .finished(.stopped, .disabled, .clientClose)
        )
        // Stopped while waiting to retry: no channel, ends at once.
        var waiting = connected(Self.scenario(messages: 5, policy: "azure-python"))
        _ = step(&waiting) { $0.channelClosed(now: Self.at(5), into: &$1) }
        let stopped = step(&waiting) { $0.stop(now: Self.at(6), into: &$1) }
        #expect(stopped.contains(.cancel(.backoff)))
        #expect(waiting.outcome == .stopped)
    }

    @Test func sameSeedSameRetrySchedule() {
        func schedule(seed: UInt64) -> [DeviceAction] {
            var m = DeviceStateMachine(
                deviceID: "x",
                config: DeviceConfig(scenario: Self.scenario(messages: 5, policy: "full-jitter")),
                seed: seed
            )
            var all: [DeviceAction] = []
            _ = step(&m) { $0.start(now: Self.at(0), into: &$1) }
            for i in 0..<6 {
                let a = step(&m) { $0.connectFailed(now: Self.at(Int64(i) * 100_000), into: &$1) }
                all += a
                _ = step(&m) {
                    $0.timerFired(.backoff, deadline: Self.at(0), now: Self.at(Int64(i) * 100_000 + 1), into: &$1)
                }
            }
            return all
        }
        #expect(schedule(seed: 1) == schedule(seed: 1))
        #expect(schedule(seed: 1) != schedule(seed: 2))
    }
}
