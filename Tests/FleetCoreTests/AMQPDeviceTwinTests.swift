import FleetAMQP
import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

/// A device's twin operations over AMQP (reference §11.2: "twin sender and receiver on `/devices/{id}/twin`";
/// "requests carry message annotations `operation` (GET, PATCH, PUT, DELETE) and `resource`
/// (`/properties/reported`, …), the request id in `correlation-id` …; responses carry annotation `status` (and
/// `version`)"). The device's bridge against the hub's, through real bytes: the machine's MQTT twin requests arrive at
/// the hub's session as the same MQTT requests, and the session's answers come back as the MQTT answer topics.
@Suite("A device's twin links over AMQP")
struct AMQPDeviceTwinTests {
    static let twinFilter = MQTTSubscription(topicFilter: "$iothub/twin/res/#", qos: .atMostOnce)
    static let c2dFilter = MQTTSubscription(topicFilter: "devices/dev-1/messages/devicebound/#", qos: .atLeastOnce)

    static func get(_ rid: Int) -> MQTTPacket {
        .publish(MQTTPublish(topic: "$iothub/twin/GET/?$rid=\(rid)", payload: ByteBuffer()))
    }
    static func patch(_ rid: Int, _ body: String) -> MQTTPacket {
        .publish(
            MQTTPublish(topic: "$iothub/twin/PATCH/properties/reported/?$rid=\(rid)", payload: ByteBuffer(string: body))
        )
    }

    static func answers(_ delivered: [MQTTPacket]) -> [MQTTPublish] {
        delivered.compactMap { packet -> MQTTPublish? in
            if case .publish(let p) = packet, p.topic.hasPrefix(TwinTopic.responses) { return p } else { return nil }
        }
    }

    @Test("one SUBSCRIBE with C2D and twin answers attaches three links; the SUBACK comes once, after all of them")
    func subscribeAttachesTwinLinks() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 5, subscriptions: [Self.c2dFilter, Self.twinFilter])))
        let subacks = pair.delivered.filter { if case .suback = $0 { true } else { false } }
        #expect(subacks == [.suback(MQTTSubAck(packetID: 5, codes: [1, 1]))], "\(pair.delivered)")
        // The same filters again: links already attached, answered at once, nothing attached twice.
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 6, subscriptions: [Self.twinFilter])))
        #expect(pair.delivered.last == .suback(MQTTSubAck(packetID: 6, codes: [1])))
        // A filter with no link here (direct methods) is refused in the SUBACK, the rest granted.
        let methods = MQTTSubscription(topicFilter: "$iothub/methods/POST/#", qos: .atMostOnce)
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 7, subscriptions: [methods, Self.twinFilter])))
        #expect(pair.delivered.last == .suback(MQTTSubAck(packetID: 7, codes: [0x80, 1])))
        #expect(pair.deviceEnded == nil && !pair.hubClosed)
    }

    @Test("GET and PATCH reach the hub's session as MQTT twin requests; their answers reach the device under its $rid")
    func requestsAndAnswers() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [Self.twinFilter])))
        try pair.deviceWrites(Self.get(41))
        try pair.deviceWrites(Self.patch(42, "{\"temperature\":21.5}"))
        // The hub puts its own request ids on the session's topics (the client's correlation-id may be any value).
        #expect(
            pair.twinRequests.map(\.topic) == [
                "$iothub/twin/GET/?$rid=amqp1", "$iothub/twin/PATCH/properties/reported/?$rid=amqp2",
            ]
        )
        #expect(pair.twinRequests[1].payload == ByteBuffer(string: "{\"temperature\":21.5}"))
        let answers = Self.answers(pair.delivered)
        #expect(answers.map(\.topic) == ["$iothub/twin/res/200/?$rid=41", "$iothub/twin/res/204/?$rid=42&$version=2"])
        #expect(answers.first?.payload == ByteBuffer(string: "{\"desired\":{}}"))
        // Each answer is what the machine reads back as the answer to its request.
        #expect(answers.compactMap { TwinTopic.answer($0.topic) }.map(\.rid) == [41, 42])
        // Telemetry still flows beside the twin, and is acknowledged.
        try pair.deviceWrites(AMQPPair.publish(9))
        #expect(pair.delivered.last == .puback(MQTTAck(packetID: 9)))
        #expect(pair.deviceEnded == nil && !pair.hubClosed)
    }

    @Test("many answers: the twin receiver's credit is granted again, every request is answered once")
    func creditRenewed() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [Self.twinFilter])))
        for rid in 1...50 { try pair.deviceWrites(rid % 2 == 0 ? Self.get(rid) : Self.patch(rid, "{\"n\":\(rid)}")) }
        #expect(Self.answers(pair.delivered).compactMap { TwinTopic.answer($0.topic)?.rid } == Array(1...50))
    }

    @Test("a request written before the twin links are attached waits for them; telemetry does not wait behind it")
    func requestWaitsForLinks() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        try pair.deviceWrites(Self.get(3))
        try pair.deviceWrites(AMQPPair.publish(1))
        #expect(pair.delivered.last == .puback(MQTTAck(packetID: 1)), "telemetry goes while the twin request waits")
        #expect(pair.twinRequests.isEmpty)
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 2, subscriptions: [Self.twinFilter])))
        #expect(pair.twinRequests.count == 1, "sent once the links are attached")
        #expect(Self.answers(pair.delivered).map(\.topic) == ["$iothub/twin/res/200/?$rid=3"])
    }

    @Test("a hub that refuses the twin links: the SUBACK says so, the connection stays, requests are never answered")
    func refusedTwinLinks() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        var actions: [AMQPDeviceBridge.Action] = []
        pair.device.deviceWrote(
            .subscribe(MQTTSubscribe(packetID: 8, subscriptions: [Self.twinFilter])),
            now: .zero,
            into: &actions
        )
        let attaches = actions.compactMap { action -> AMQPPerformative.Attach? in
            if case .send(let f) = action, case .performative(.attach(let a)) = f.body { return a } else { return nil }
        }
        #expect(attaches.map(\.name) == ["twin-sender", "twin-receiver"])
        // The sender's target and the receiver's source are the twin node.
        #expect(
            attaches.map { $0.role == .sender ? $0.target?.address : $0.source?.address } == [
                "amqps://hub.local/devices/dev-1/twin", "amqps://hub.local/devices/dev-1/twin",
            ]
        )
        #expect(attaches.map(\.role) == [.sender, .receiver])
        #expect(attaches.allSatisfy { $0.senderSettleMode == 1 }, "twin requests and answers go settled")
        #expect(
            attaches.allSatisfy {
                $0.properties?[symbol: "com.microsoft:channel-correlation-id"] == .string("twin:dev-1")
            }
        )
        // The hub answers each without its terminus, then detaches it with the reason (part 2.6.3).
        actions.removeAll()
        for (i, attach) in attaches.enumerated() {
            let handle = UInt32(90 + i)
            let refusal = AMQPPerformative.Attach(
                name: attach.name,
                handle: handle,
                role: attach.role == .sender ? .receiver : .sender,
                source: attach.role == .sender ? attach.source : nil,
                target: attach.role == .sender ? nil : attach.target
            )
            pair.device.received(.frame(.performative(.attach(refusal))), now: .zero, into: &actions)
            let detach = AMQPPerformative.Detach(
                handle: handle,
                closed: true,
                error: AMQPError(condition: "amqp:not-found")
            )
            pair.device.received(.frame(.performative(.detach(detach))), now: .zero, into: &actions)
        }
        #expect(actions.contains(.deliver(.suback(MQTTSubAck(packetID: 8, codes: [0x80])))), "\(actions)")
        let answered = actions.filter {
            if case .send(let f) = $0, case .performative(.detach) = f.body { true } else { false }
        }
        #expect(answered.count == 2, "each refusal's detach answered")
        #expect(!actions.contains { if case .refused = $0 { true } else { false } }, "the connection goes on")
        actions.removeAll()
        pair.device.deviceWrote(Self.get(1), now: .zero, into: &actions)
        #expect(actions.isEmpty, "no twin link: the request waits (the machine's twin timeout ends it)")
    }

    @Test(
        "UNSUBSCRIBE of the answers detaches both twin links; the hub's detach answers ours and is not answered again"
    )
    func unsubscribeDetaches() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [Self.twinFilter])))
        try pair.deviceWrites(.unsubscribe(MQTTUnsubscribe(packetID: 2, topicFilters: ["$iothub/twin/res/#"])))
        #expect(pair.delivered.last == .unsuback(MQTTSubAck(packetID: 2, codes: [0])))
        #expect(pair.deviceEnded == nil && !pair.hubClosed)
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 3, subscriptions: [Self.twinFilter])))
        #expect(pair.delivered.last == .suback(MQTTSubAck(packetID: 3, codes: [1])), "attached again")
        try pair.deviceWrites(Self.get(5))
        #expect(Self.answers(pair.delivered).map(\.topic) == ["$iothub/twin/res/200/?$rid=5"])
    }
}
