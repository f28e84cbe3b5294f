import FleetAMQP
import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

/// Both AMQP bridges under random event orders, seeded: frames a peer may send at any moment (late, twice, out of
/// place, with any handle, range or credit), interleaved with what the other side writes. Neither may trap, and what
/// each hands on must stay consistent with what it was given, counted on the side of the test.
@Suite("AMQP bridges under random event orders")
struct AMQPBridgePropertyTests {
    static func randomFrame(_ rng: inout SplitMix64, names: [String], addresses: [String]) -> AMQPInbound {
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        let small = { (rng: inout SplitMix64) in UInt32.random(in: 0...6, using: &rng) }
        let error: AMQPError? =
            Bool.random(using: &rng)
            ? nil
            : AMQPError(
                condition: pick([
                    AMQPConditions.unauthorizedAccess, AMQPConditions.deviceContainerThrottled,
                    "amqp:whatever",
                ])
            )
        switch Int.random(in: 0..<16, using: &rng) {
        case 0: return .header(pick([.sasl, .amqp, .tls]))
        case 1:
            return .frame(
                AMQPFrame(
                    .sasl(
                        pick([
                            .mechanisms(["MSSBCBS", "ANONYMOUS"]), .mechanisms(["PLAIN"]), .mechanisms([]),
                            .outcome(.ok, additionalData: nil), .outcome(.auth, additionalData: nil), .challenge([1]),
                            .initial(
                                mechanism: pick(["ANONYMOUS", "PLAIN", "MSSBCBS", "X"]),
                                initialResponse: pick([nil, [0, 100, 64, 115, 97, 115, 46, 104, 0, 116], [1]]),
                                hostname: nil
                            ),
                        ])
                    )
                )
            )
        case 2:
            return .frame(
                .performative(
                    .open(
                        .init(
                            containerID: "peer",
                            maxFrameSize: pick([nil, 512, 600, 70_000]),
                            idleTimeOut: pick([nil, 0, 1000])
                        )
                    )
                )
            )
        case 3:
            return .frame(
                .performative(
                    .begin(
                        .init(
                            remoteChannel: pick([nil, 0]),
                            nextOutgoingID: small(&rng),
                            incomingWindow: pick([0, 1, 5, 1000]),
                            outgoingWindow: 100
                        )
                    ),
                    channel: pick([0, 0, 1])
                )
            )
        case 4, 5:
            let role: AMQPPerformative.Role = Bool.random(using: &rng) ? .sender : .receiver
            let address = pick(addresses)
            return .frame(
                .performative(
                    .attach(
                        .init(
                            name: pick(names),
                            handle: small(&rng),
                            role: role,
                            source: Bool.random(using: &rng) ? AMQPTerminus(address: address) : nil,
                            target: Bool.random(using: &rng) ? AMQPTerminus(address: address) : nil,
                            initialDeliveryCount: Bool.random(using: &rng) ? 0 : nil
                        )
                    )
                )
            )
        case 6, 7:
            return .frame(
                .performative(
                    .flow(
                        .init(
                            nextIncomingID: pick([nil, small(&rng)]),
                            incomingWindow: pick([0, 3, 100]),
                            nextOutgoingID: small(&rng),
                            outgoingWindow: 100,
                            handle: pick([nil, small(&rng)]),
                            deliveryCount: pick([nil, small(&rng)]),
                            linkCredit: pick([nil, 0, 1, 5, 100])
                        )
                    )
                )
            )
        case 8, 9:
            let first = small(&rng)
            return .frame(
                .performative(
                    .disposition(
                        .init(
                            role: Bool.random(using: &rng) ? .receiver : .sender,
                            first: first,
                            last: pick([nil, first, first &+ small(&rng), first &- 1]),
                            settled: Bool.random(using: &rng),
                            state: pick([
                                .accepted, .released, .rejected(error),
                                .modified(
                                    deliveryFailed: true,
                                    undeliverableHere: nil,
                                    annotations: nil
                                ), nil,
                            ])
                        )
                    )
                )
            )
        case 10, 11:
            var payload = ByteBuffer()
            if Int.random(in: 0..<4, using: &rng) == 0 {
                // A twin answer (or push): status and version annotations, a request id or none.
                var message = AMQPMessage(
                    properties: .init(correlationID: pick([.string("1"), .ulong(2), .null, nil])),
                    body: pick([.data([Array("{}".utf8)]), .none])
                )
                message.messageAnnotations = [
                    .symbol("status"): pick([.int(200), .int(429), .long(204), .string("x")]),
                    .symbol("version"): pick([.long(3), .int(-1), .null]),
                ]
                payload = AMQPMessages.encoded(message)
            } else if Bool.random(using: &rng) {
                let status: Int32 = pick([200, 401, 404, 429, 500, 7])
                let message = AMQPMessage(
                    properties: .init(correlationID: pick([.string("put-token-1"), .string("other"), .null])),
                    applicationProperties: [.string("status-code"): .int(status)],
                    body: pick([
                        .data([[1, 2]]), .value(.string("SharedAccessSignature sr=hub%2Fdevices%2Fdev-1")), .none,
                    ])
                )
                payload = AMQPMessages.encoded(message)
            } else {
                payload.writeBytes(
                    (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                )
            }
            var transfer = AMQPPerformative.Transfer(
                handle: small(&rng),
                deliveryID: pick([nil, small(&rng)]),
                deliveryTag: [1],
                settled: pick([nil, true, false]),
                payload: payload
            )
            transfer.more = Int.random(in: 0..<5, using: &rng) == 0
            transfer.aborted = Int.random(in: 0..<10, using: &rng) == 0
            return .frame(.performative(.transfer(transfer), channel: pick([0, 0, 2])))
        case 12: return .frame(.performative(.detach(.init(handle: small(&rng), closed: true, error: error))))
        case 13: return .frame(.performative(.end(error)))
        case 14: return .frame(.performative(.close(error)))
        default: return .frame(AMQPFrame(.empty))
        }
    }

    static let names = ["$cbs-sender", "$cbs-receiver", "telemetry", "c2d", "twin-sender", "twin-receiver", "other"]
    static let addresses = [
        "$cbs", "cbs", "amqps://hub/devices/dev-1/messages/events", "amqps://hub/devices/dev-1/messages/devicebound",
        "amqps://hub/devices/dev-2/messages/events", "/devices//messages/events", "queue",
        "amqps://hub/devices/dev-1/twin",
    ]

    /// A hub's side of a complete handshake with a device that uses CBS: random events then start from a connected
    /// device, so the paths after the CONNACK (credit, dispositions, C2D) are exercised, not only the refusals.
    static let deviceHandshake: [AMQPInbound] = [
        .header(.sasl), .frame(AMQPFrame(.sasl(.mechanisms(["MSSBCBS"])))),
        .frame(AMQPFrame(.sasl(.outcome(.ok, additionalData: nil)))), .header(.amqp),
        .frame(.performative(.open(.init(containerID: "hub")))),
        .frame(
            .performative(
                .begin(.init(remoteChannel: 0, nextOutgoingID: 0, incomingWindow: 1000, outgoingWindow: 1000))
            )
        ),
        .frame(
            .performative(
                .attach(
                    .init(
                        name: "$cbs-sender",
                        handle: 0,
                        role: .receiver,
                        source: AMQPTerminus(address: "x"),
                        target: AMQPTerminus(address: "$cbs")
                    )
                )
            )
        ),
        .frame(
            .performative(
                .attach(
                    .init(
                        name: "$cbs-receiver",
                        handle: 1,
                        role: .sender,
                        source: AMQPTerminus(address: "$cbs"),
                        target: AMQPTerminus(address: "cbs"),
                        initialDeliveryCount: 0
                    )
                )
            )
        ),
        .frame(
            .performative(
                .flow(
                    .init(
                        nextIncomingID: 0,
                        incomingWindow: 1000,
                        nextOutgoingID: 0,
                        outgoingWindow: 1000,
                        handle: 0,
                        deliveryCount: 0,
                        linkCredit: 10
                    )
                )
            )
        ),
        .frame(
            .performative(
                .transfer(
                    .init(
                        handle: 1,
                        deliveryID: 0,
                        deliveryTag: [0],
                        settled: true,
                        payload: AMQPMessages.encoded(
                            AMQPMessage(
                                properties: .init(correlationID: .string("put-token-1")),
                                applicationProperties: [.string("status-code"): .int(200)]
                            )
                        )
                    )
                )
            )
        ),
        .frame(
            .performative(
                .attach(
                    .init(
                        name: "telemetry",
                        handle: 2,
                        role: .receiver,
                        source: AMQPTerminus(address: "t"),
                        target: AMQPTerminus(address: "t")
                    )
                )
            )
        ),
        .frame(
            .performative(
                .flow(
                    .init(
                        nextIncomingID: 1,
                        incomingWindow: 1000,
                        nextOutgoingID: 1,
                        outgoingWindow: 1000,
                        handle: 2,
                        deliveryCount: 0,
                        linkCredit: 50
                    )
                )
            )
        ),
    ]

    @Test(
        "the device's bridge: no trap; PUBACKs only for outstanding QoS 1 publishes, once; one CONNACK; nothing after the end"
    )
    func deviceBridge() {
        var totals = (connacks: 0, pubacks: 0)
        for seed in UInt64(0)..<60 {
            let (connacks, pubacks) = Self.deviceBridge(seed: seed)
            totals.connacks += connacks
            totals.pubacks += pubacks
        }
        // The invariants above were exercised, not only the refusals.
        #expect(totals.connacks >= 30 && totals.pubacks > 30, "\(totals.connacks) CONNACKs, \(totals.pubacks) PUBACKs")
    }

    static func deviceBridge(seed: UInt64) -> (Int, Int) {
        var rng = SplitMix64(seed: 0xA3_0000 + seed)
        var bridge = AMQPDeviceBridge(
            configuration: .init(
                hubHost: "hub",
                cbs: Bool.random(using: &rng),
                mechanism: "MSSBCBS",
                idleTimeOut: Bool.random(using: &rng) ? .seconds(2) : nil
            )
        )
        var now = Instant.zero
        var actions: [AMQPDeviceBridge.Action] = []
        var outstanding: Set<UInt16> = []
        var nextID: UInt16 = 0
        var connacks = 0
        var ended = false
        // SUBSCRIBEs written and not answered, by packet id, and how many filters each asked for.
        var subacksOwed: [UInt16: Int] = [:]
        var filterCounts: [UInt16: Int] = [:]
        var twinWrites = 0
        bridge.deviceWrote(AMQPPair.connect(), now: now, into: &actions)
        var pubacks = 0
        var script = seed % 2 == 0 ? Self.deviceHandshake : []
        for step in 0..<400 {
            now = now + .milliseconds(Int64.random(in: 0...700, using: &rng))
            if Int.random(in: 0..<3, using: &rng) == 0 {
                switch Int.random(in: 0..<6, using: &rng) {
                case 0, 1:
                    nextID = nextID == .max ? 1 : nextID + 1
                    let qos: MQTTQoS = Bool.random(using: &rng) ? .atLeastOnce : .atMostOnce
                    if qos == .atLeastOnce && !ended { outstanding.insert(nextID) }
                    bridge.deviceWrote(
                        AMQPPair.publish(nextID, bytes: Int.random(in: 0...2000, using: &rng), qos: qos),
                        now: now,
                        into: &actions
                    )
                case 2: bridge.deviceWrote(.pingreq, now: now, into: &actions)
                case 3:
                    // C2D, twin answers, both, or a filter with no link; each SUBSCRIBE its own packet id.
                    let filters = [
                        ["devices/dev-1/messages/devicebound/#"], ["$iothub/twin/res/#"],
                        ["devices/dev-1/messages/devicebound/#", "$iothub/twin/res/#"], ["$iothub/methods/POST/#"],
                    ][Int.random(in: 0..<4, using: &rng)]
                    let id = UInt16(truncatingIfNeeded: step + 1)
                    if !ended { subacksOwed[id, default: 0] += 1 }
                    let subscriptions = filters.map { MQTTSubscription(topicFilter: $0, qos: .atLeastOnce) }
                    bridge.deviceWrote(
                        .subscribe(MQTTSubscribe(packetID: id, subscriptions: subscriptions)),
                        now: now,
                        into: &actions
                    )
                    filterCounts[id] = filters.count
                    twinWrites += Int.random(in: 0..<2, using: &rng)
                    if twinWrites % 2 == 1 {
                        bridge.deviceWrote(
                            .publish(MQTTPublish(topic: "$iothub/twin/GET/?$rid=\(step)", payload: ByteBuffer())),
                            now: now,
                            into: &actions
                        )
                    }
                case 4: bridge.deviceWrote(.puback(MQTTAck(packetID: UInt16(step % 7 + 1))), now: now, into: &actions)
                default: bridge.heartbeatDue(into: &actions)
                }
            } else if !script.isEmpty {
                bridge.received(script.removeFirst(), now: now, into: &actions)
            } else if Int.random(in: 0..<25, using: &rng) != 0 {
                // Mostly outcomes for deliveries the device may have sent (ids start at 0; the put-token took one);
                // now and then anything at all.
                let first = UInt32.random(in: 0...UInt32(nextID), using: &rng)
                let d = AMQPPerformative.Disposition(
                    role: .receiver,
                    first: first,
                    last: first &+ UInt32.random(in: 0...3, using: &rng),
                    settled: true,
                    state: Int.random(in: 0..<8, using: &rng) == 0 ? .released : .accepted
                )
                bridge.received(.frame(.performative(.disposition(d))), now: now, into: &actions)
            } else {
                bridge.received(
                    Self.randomFrame(&rng, names: Self.names, addresses: Self.addresses),
                    now: now,
                    into: &actions
                )
            }
            for action in actions {
                switch action {
                case .deliver(.puback(let ack)):
                    pubacks += 1
                    #expect(outstanding.remove(ack.packetID) != nil, "seed \(seed): PUBACK \(ack.packetID) not owed")
                case .deliver(.suback(let ack)):
                    // Every SUBACK answers a SUBSCRIBE written and not yet answered, with a code per filter.
                    #expect(subacksOwed[ack.packetID, default: 0] > 0, "seed \(seed): SUBACK \(ack.packetID) not owed")
                    #expect(ack.codes.count == filterCounts[ack.packetID], "seed \(seed): one code per filter")
                    subacksOwed[ack.packetID, default: 0] -= 1
                case .deliver(.publish(let p)) where p.topic.hasPrefix(TwinTopic.responses):
                    #expect(TwinTopic.parseAnswer(p.topic) != nil, "seed \(seed): \(p.topic) is an answer topic")
                case .deliver(.connack):
                    connacks += 1
                    #expect(connacks == 1 && !ended, "seed \(seed): CONNACK \(connacks), ended \(ended)")
                case .refused, .protocolError, .close:
                    #expect(!ended, "seed \(seed): a second end")
                    ended = true
                case .send, .sendHeader:
                    #expect(!ended, "seed \(seed): a write after the end")
                default:
                    break
                }
            }
            actions.removeAll()
        }
        return (connacks, pubacks)
    }

    @Test(
        "the hub's bridge: no trap; one CONNECT per session; QoS 1 packet ids unique in flight; one outcome per PUBACK owed; sessions begin and end once; nothing after close",
        arguments: 0..<60
    )
    func hubBridge(seed: UInt64) {
        var rng = SplitMix64(seed: 0xB3_0000 + seed)
        var bridge = HubAMQPBridge(configuration: .init(hostName: "hub"))
        var actions: [HubAMQPBridge.Action] = []
        var connects: [UInt16: Int] = [:]
        var closed = false
        var inFlight: [UInt16: [UInt16]] = [:]
        var live: Set<UInt16> = []
        for _ in 0..<400 {
            var owed: Bool?
            let channel = UInt16.random(in: 0...2, using: &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 {
                let answer: MQTTPacket
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: answer = .connack(MQTTConnAck(code: Bool.random(using: &rng) ? 0 : 0x87))
                case 1:
                    // The PUBACK for a packet in flight, or for one the bridge never published.
                    let ids = inFlight[channel, default: []]
                    let known = !ids.isEmpty && Bool.random(using: &rng)
                    let id = known ? inFlight[channel]!.remove(at: Int.random(in: 0..<ids.count, using: &rng)) : 60_000
                    var ack = MQTTAck(packetID: id)
                    if Bool.random(using: &rng) { ack.reasonCode = 0x97 }
                    answer = .puback(ack)
                    owed = known
                case 2: answer = .suback(MQTTSubAck(packetID: UInt16.random(in: 1...3, using: &rng), codes: [1]))
                case 3:
                    answer = .publish(
                        MQTTPublish(
                            topic: "devices/dev-1/messages/devicebound/a=b",
                            payload: ByteBuffer(),
                            qos: .atLeastOnce,
                            packetID: UInt16.random(in: 1...9, using: &rng)
                        )
                    )
                default: answer = .disconnect(MQTTReasonPacket(reasonCode: 0x8E))
                }
                if Int.random(in: 0..<20, using: &rng) == 0 {
                    bridge.sessionClosed(channel: channel, into: &actions)
                } else {
                    bridge.sessionAnswered(
                        channel: channel,
                        answer,
                        dailyQuota: Bool.random(using: &rng),
                        into: &actions
                    )
                }
            } else {
                bridge.received(Self.randomFrame(&rng, names: Self.names, addresses: Self.addresses), into: &actions)
            }
            var dispositions = 0
            for action in actions {
                #expect(!closed, "seed \(seed): \(action) after close")
                switch action {
                case .sessionBegan(let c):
                    #expect(live.insert(c).inserted, "seed \(seed): session \(c) began twice")
                case .sessionEnded(let c):
                    #expect(live.remove(c) != nil, "seed \(seed): session \(c) ended but never began")
                    connects[c] = nil
                    inFlight[c] = nil
                case .toSession(let c, .connect):
                    #expect(live.contains(c), "seed \(seed): CONNECT for session \(c) that is not live")
                    connects[c, default: 0] += 1
                    #expect(connects[c] == 1, "seed \(seed): a second CONNECT on one session")
                case .toSession(let c, .publish(let p)):
                    if let id = p.packetID {
                        #expect(
                            !inFlight[c, default: []].contains(id),
                            "seed \(seed): packet id \(id) reused while in flight"
                        )
                        inFlight[c, default: []].append(id)
                    }
                case .send(let frame):
                    if case .performative(.disposition) = frame.body { dispositions += 1 }
                case .authenticate(let c, _):
                    var more: [HubAMQPBridge.Action] = []
                    bridge.authenticated(channel: c, accepted: Bool.random(using: &rng), into: &more)
                case .close:
                    #expect(live.isEmpty, "seed \(seed): the connection closed with sessions \(live) not ended")
                    closed = true
                default:
                    break
                }
            }
            if let owed, !closed {
                #expect(
                    dispositions == (owed ? 1 : 0),
                    "seed \(seed): \(dispositions) outcomes for a PUBACK owed: \(owed)"
                )
            }
            actions.removeAll()
        }
    }
}
