import FleetAMQP
import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

/// The hub's twin links over AMQP (reference §11.2), driven frame by frame: a request becomes the MQTT twin request
/// on the device's session, the session's answer goes back under the request's correlation-id; bounds hold against a
/// client that only asks.
@Suite("The hub's AMQP twin links")
struct HubAMQPTwinTests {
    struct Client {
        var hub = HubAMQPBridge(configuration: .init(hostName: "hub.local"))
        var toSession: [MQTTPacket] = []
        var answers: [AMQPMessage] = []
        var closed: AMQPError?
        var nextDelivery: UInt32 = 0

        mutating func run(_ actions: [HubAMQPBridge.Action]) {
            for action in actions {
                switch action {
                case .toSession(_, let packet):
                    toSession.append(packet)
                    if case .connect = packet {
                        var more: [HubAMQPBridge.Action] = []
                        hub.sessionAnswered(channel: 0, .connack(MQTTConnAck(code: 0)), dailyQuota: false, into: &more)
                        run(more)
                    }
                case .send(let frame):
                    if case .performative(.transfer(var t)) = frame.body,
                        let m = try? AMQPMessage.decode(from: &t.payload)
                    {
                        answers.append(m)
                    }
                    if case .performative(.close(let error)) = frame.body { closed = error }
                default: break
                }
            }
        }

        mutating func receive(_ item: AMQPInbound) {
            var actions: [HubAMQPBridge.Action] = []
            hub.received(item, into: &actions)
            run(actions)
        }

        mutating func send(_ p: AMQPPerformative) { receive(.frame(.performative(p))) }

        /// SASL ANONYMOUS, open, begin, then the twin sender (handle 0) and receiver (handle 1) of device `d`.
        mutating func open(credit: UInt32) {
            receive(.header(.sasl))
            receive(.frame(AMQPFrame(.sasl(.initial(mechanism: "ANONYMOUS", initialResponse: nil, hostname: nil)))))
            receive(.header(.amqp))
            send(.open(.init(containerID: "client")))
            send(.begin(.init(nextOutgoingID: 0, incomingWindow: 1_000_000, outgoingWindow: 1_000_000)))
            let twin = AMQPTerminus(address: "amqps://hub.local/devices/d/twin")
            send(.attach(.init(name: "twin-sender", handle: 0, role: .sender, source: twin, target: twin)))
            send(.attach(.init(name: "twin-receiver", handle: 1, role: .receiver, source: twin, target: twin)))
            send(
                .flow(
                    .init(
                        nextIncomingID: 0,
                        incomingWindow: 1_000_000,
                        nextOutgoingID: nextDelivery,
                        outgoingWindow: 1_000_000,
                        handle: 1,
                        deliveryCount: 0,
                        linkCredit: credit
                    )
                )
            )
        }

        mutating func request(_ operation: String, resource: String? = nil, id: String, body: String = " ") {
            var message = AMQPMessage(properties: .init(correlationID: .string(id)), body: .value(.string(body)))
            var annotations: AMQPMap = [.symbol("operation"): .string(operation)]
            if let resource { annotations.entries.append(.init(key: .symbol("resource"), value: .string(resource))) }
            message.messageAnnotations = annotations
            var payload = ByteBuffer()
            try? message.encode(into: &payload)
            send(
                .transfer(.init(handle: 0, deliveryID: nextDelivery, deliveryTag: [1], settled: true, payload: payload))
            )
            nextDelivery &+= 1
        }

        mutating func sessionAnswers(_ topic: String, _ body: String = "") {
            var actions: [HubAMQPBridge.Action] = []
            let publish = MQTTPublish(topic: topic, payload: ByteBuffer(string: body))
            hub.sessionAnswered(channel: 0, .publish(publish), dailyQuota: false, into: &actions)
            run(actions)
        }
    }

    @Test("GET and PATCH reach the session as MQTT twin requests; answers carry status, version and the correlation-id")
    func requestsAndAnswers() {
        var client = Client()
        client.open(credit: 10)
        client.request("GET", id: "r-1")
        client.request("PATCH", resource: "/properties/reported", id: "r-2", body: "{\"t\":1}")
        let requests = client.toSession.compactMap { packet -> MQTTPublish? in
            if case .publish(let p) = packet { return p } else { return nil }
        }
        #expect(
            requests.map(\.topic) == [
                "$iothub/twin/GET/?$rid=amqp1", "$iothub/twin/PATCH/properties/reported/?$rid=amqp2",
            ]
        )
        #expect(Array(requests[1].payload.readableBytesView) == Array("{\"t\":1}".utf8))
        // Answered out of order, plus one for a request this link never made: dropped.
        client.sessionAnswers("$iothub/twin/res/204/?$rid=amqp2&$version=2")
        client.sessionAnswers("$iothub/twin/res/200/?$rid=amqp9", "{}")
        client.sessionAnswers("$iothub/twin/res/200/?$rid=amqp1", "{\"reported\":{}}")
        #expect(client.answers.map { $0.properties?.correlationID } == [.string("r-2"), .string("r-1")])
        #expect(client.answers.map { $0.messageAnnotations?[symbol: "status"] } == [.int(204), .int(200)])
        #expect(client.answers[0].messageAnnotations?[symbol: "version"] == .long(2))
        #expect(client.answers[1].body.bytes == Array("{\"reported\":{}}".utf8))
        // Desired-notification switch: answered at once; an unknown operation: 400.
        client.request("PUT", resource: "/notifications/twin/properties/desired", id: "r-3")
        client.request("DELETE", resource: "/properties/reported", id: "r-4")
        #expect(client.answers.suffix(2).map { $0.messageAnnotations?[symbol: "status"] } == [.int(200), .int(400)])
        #expect(client.closed == nil)
    }

    @Test("a client that only asks: past 1,000 waiting requests 429; answers it gives no credit for end the connection")
    func bounds() {
        var waiting = Client()
        waiting.open(credit: 5_000)
        for i in 0..<1_001 { waiting.request("GET", id: "g-\(i)") }
        #expect(waiting.toSession.filter { if case .publish = $0 { true } else { false } }.count == 1_000)
        #expect(waiting.answers.map { $0.messageAnnotations?[symbol: "status"] } == [.int(429)])

        var noCredit = Client()
        noCredit.open(credit: 0)
        for i in 0..<1_001 { noCredit.request("PUT", resource: "/notifications/twin/properties/desired", id: "p-\(i)") }
        #expect(noCredit.answers.isEmpty)
        #expect(noCredit.closed?.condition == "amqp:resource-limit-exceeded", "\(String(describing: noCredit.closed))")
    }
}
