import FleetMQTT
import NIOCore
import Testing

@testable import FleetCore

/// Any event can arrive at any moment: random interleavings of what the network, the timers and the user can
/// deliver (late, twice, out of order) are fed to the device machine. It must never trap, never act after it ended,
/// finish exactly once, and its message accounting must balance from independently counted quantities: the events
/// it recorded (generated, acked, sent, failed) against the messages it still holds (in flight, redelivery, queue).
@Suite("DeviceStateMachine: random event orders")
struct DeviceStatePropertyTests {
    static let policies = [
        "none", "azure-dotnet", "azure-c", "azure-python", "azure-java", "azure-node", "full-jitter",
    ]

    static func scenario(_ rng: inout SplitMix64) -> Scenario {
        var s = Scenario()
        s.telemetry.messages = Int.random(in: 0...12, using: &rng)
        s.telemetry.interval = .milliseconds(Int64.random(in: 1...500, using: &rng))
        s.telemetry.qos = Bool.random(using: &rng) ? .atLeastOnce : .atMostOnce
        s.telemetry.maxInflight = Int.random(in: 1...3, using: &rng)
        s.telemetry.queueCapacity = Int.random(in: 1...4, using: &rng)
        s.telemetry.queueOverflow = QueueOverflow.allCases.randomElement(using: &rng)!
        s.mqtt.keepAlive = .seconds(Int64.random(in: 0...20, using: &rng))
        s.mqtt.version = Bool.random(using: &rng) ? .v5 : .v311
        let name = policies.randomElement(using: &rng)!
        s.retry.policy = (try? RetryPolicy.make(name: name, parameters: [:])) ?? .preset("none")
        s.sdk = [SDK.dotnet, .java, .node, .c, .python, .mqtt].randomElement(using: &rng)!
        s.retry.throttled = s.retry.policy
        return s
    }

    /// One random input; returns its name for the failure message.
    static func feed(
        _ m: inout DeviceStateMachine,
        now: Instant,
        _ rng: inout SplitMix64,
        into a: inout [DeviceAction]
    )
        -> String
    {
        let errors: [ConnectionError?] = [nil] + ConnectionError.allCases.map { $0 }
        switch Int.random(in: 0..<15, using: &rng) {
        case 0:
            m.start(now: now, into: &a)
            return "start"
        case 1, 2:
            m.connectSucceeded(now: now, into: &a)
            return "connectSucceeded"
        case 3:
            m.connectFailed(error: errors.randomElement(using: &rng)!, now: now, into: &a)
            return "connectFailed"
        case 4:
            let code: UInt8 = [0, 0, 0, 3, 5, 0x87, 0x97, 0x9F].randomElement(using: &rng)!
            m.packetReceived(.connack(MQTTConnAck(code: code)), now: now, into: &a)
            return "connack(\(code))"
        case 5, 6:
            let id = UInt16.random(in: 1...6, using: &rng)
            let reason: UInt8 = Bool.random(using: &rng) ? 0 : 0x97
            m.packetReceived(.puback(MQTTAck(packetID: id, reasonCode: reason)), now: now, into: &a)
            return "puback(\(id))"
        case 7:
            let packet: MQTTPacket = [
                .pingresp, .disconnect(MQTTReasonPacket(reasonCode: 0x8B)), .pingreq,
                .publish(
                    MQTTPublish(
                        topic: "devices/d/messages/devicebound/x",
                        payload: ByteBuffer(),
                        qos: .atLeastOnce,
                        packetID: 9
                    )
                ),
                .suback(MQTTSubAck(packetID: 1, codes: [1])),
            ].randomElement(using: &rng)!
            m.packetReceived(packet, now: now, into: &a)
            return "packet(\(packet.type))"
        case 8:
            m.protocolViolation(now: now, into: &a)
            return "protocolViolation"
        case 9, 10:
            m.channelClosed(error: errors.randomElement(using: &rng)!, now: now, into: &a)
            return "channelClosed"
        case 11:
            m.stop(now: now, into: &a)
            return "stop"
        case 12:
            // The HTTPS API's error answers, at any moment (a late one after a close or a stop included).
            let code = [401_003, 403_002, 403_012, 404_001, 429_001, 500_001, 503_001].randomElement(using: &rng)!
            m.serviceRefused(code: code, now: now, into: &a)
            return "serviceRefused(\(code))"
        default:
            let timer = DeviceTimer.allCases.randomElement(using: &rng)!
            let deadline = Instant(nanoseconds: max(0, now.nanoseconds - Int64.random(in: 0...50_000_000, using: &rng)))
            m.timerFired(timer, deadline: deadline, now: now, into: &a)
            return "timer(\(timer))"
        }
    }

    @Test("never traps, finishes once, accounting balances", arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomOrders(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var finishedDevices = 0
        var stoppedDevices = 0
        for device in 0..<400 {
            var m = DeviceStateMachine(
                deviceID: "d\(device)",
                config: DeviceConfig(scenario: Self.scenario(&rng)),
                seed: seed &+ UInt64(device)
            )
            var generated = 0
            var resolved = 0  // acked, sent (QoS 0) or failed, as recorded
            var finishedCount = 0
            var now = Instant.zero
            var trail: [String] = []
            for _ in 0..<Int.random(in: 1...80, using: &rng) {
                now = now + .milliseconds(Int64.random(in: 0...400, using: &rng))
                var actions: [DeviceAction] = []
                let wasDone = m.outcome != nil
                trail.append(Self.feed(&m, now: now, &rng, into: &actions))
                for action in actions {
                    if wasDone, case .connect = action {
                        Issue.record("seed \(seed) device \(device): connect after the end: \(trail)")
                    }
                    guard case .record(let event) = action else { continue }
                    switch event {
                    case .generated:
                        generated += 1
                    case .acked, .sent: resolved += 1
                    case .failed(let count, _): resolved += count
                    case .finished: finishedCount += 1
                    default: break
                    }
                }
                #expect(
                    generated == resolved + m.pendingMessages,
                    "seed \(seed) device \(device): generated \(generated) ≠ resolved \(resolved) + pending \(m.pendingMessages) after \(trail)"
                )
                #expect(finishedCount <= 1, "seed \(seed) device \(device): finished twice after \(trail)")
                #expect(generated == m.generated)
            }
            // The end of a run: stop, then the channel's close (which may never have been open) completes it.
            var actions: [DeviceAction] = []
            m.stop(now: now, into: &actions)
            m.channelClosed(now: now + .milliseconds(1), into: &actions)
            for case .record(let event) in actions {
                if case .finished = event { finishedCount += 1 }
                if case .failed(let count, _) = event { resolved += count }
            }
            #expect(m.outcome != nil, "seed \(seed) device \(device): not ended after stop + close: \(trail)")
            #expect(finishedCount == 1, "seed \(seed) device \(device): finished \(finishedCount) times: \(trail)")
            #expect(generated == resolved + m.pendingMessages)
            finishedDevices += finishedCount
            if m.outcome == .stopped { stoppedDevices += 1 }
        }
        #expect(finishedDevices == 400)
        #expect(stoppedDevices > 20, "the random orders reached too few stops: \(stoppedDevices)")
    }

    func ms(_ v: Int64) -> Instant { Instant(nanoseconds: v * 1_000_000) }

    /// The crash seen with Ctrl-C in a storm: stop while the TCP connect is in flight, then the connect succeeds.
    @Test func stopDuringConnectThenLateSuccessClosesAndEnds() {
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: Scenario()), seed: 1)
        var a: [DeviceAction] = []
        m.start(now: .zero, into: &a)
        a.removeAll()
        m.stop(now: ms(1), into: &a)
        #expect(a.contains(.close))
        a.removeAll()
        m.connectSucceeded(now: ms(2), into: &a)
        #expect(a == [.close], "the late connect is closed, nothing is written")
        a.removeAll()
        m.channelClosed(now: ms(3), into: &a)
        #expect(m.outcome == .stopped)
        // After the end, a connect that still completes is closed and counted.
        a.removeAll()
        m.connectSucceeded(now: ms(4), into: &a)
        #expect(a == [.record(.lateConnectClosed), .close])
    }

    /// TLS failures end where each SDK ends (reference §3.2): .NET, Java and Node stop; Python and C retry.
    @Test(
        "an untrusted hub certificate per SDK",
        arguments: [
            ("azure-dotnet", true), ("azure-java", true), ("azure-node", true), ("azure-python", false),
            ("azure-c", false),
        ]
    )
    func untrustedCertificate(policy: String, stops: Bool) throws {
        var s = Scenario()
        s.retry.policy = try RetryPolicy.make(name: policy, parameters: [:])
        s.sdk = try #require(SDK(name: policy))
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: s), seed: 1)
        var a: [DeviceAction] = []
        m.start(now: .zero, into: &a)
        a.removeAll()
        m.channelClosed(error: .tlsUntrusted, now: ms(5), into: &a)
        #expect(a.first == .record(.connectionError(.tlsUntrusted)))
        #expect((m.outcome == .tlsFailed) == stops)
        #expect(m.lastError == .tls(untrusted: true))
    }
}
