internal import FleetAMQP
internal import FleetCore
internal import FleetMQTT
internal import NIOCore

extension HubAMQPBridge.Session {
    /// Twin requests one session may have waiting for their answers; past it a request is answered 429 at once.
    static let maxTwinRequests = 1_000

    /// A twin request on the twin sender link (reference §11.2): the message annotation `operation` (GET, PATCH,
    /// PUT, DELETE) and `resource`, the request id in `correlation-id`. GET and a reported-properties PATCH become the
    /// MQTT twin requests on the device's session (our own request id in the topic: the client's correlation-id
    /// could be any AMQP value); the desired-properties notification switch is answered here.
    mutating func twinRequest(_ message: AMQPMessage, deviceID: String, into actions: inout [Action]) {
        let correlation = message.properties?.correlationID ?? message.properties?.messageID ?? .null
        let annotations = message.messageAnnotations ?? [:]
        let operation = annotations[symbol: "operation"]?.text ?? ""
        let resource = annotations[symbol: "resource"]?.text ?? ""
        let topic: String
        switch (operation, resource) {
        case ("GET", _):
            topic = "$iothub/twin/GET/"
        case ("PATCH", "/properties/reported"):
            topic = "$iothub/twin/PATCH/properties/reported/"
        case ("PUT", "/notifications/twin/properties/desired"), ("DELETE", "/notifications/twin/properties/desired"):
            // Desired-property notifications on or off: the test hub never changes desired properties.
            return answerTwin(correlation, status: 200, version: nil, body: [], into: &actions)
        default:
            return answerTwin(correlation, status: 400, version: nil, body: [], into: &actions)
        }
        guard twinRequests.count < Self.maxTwinRequests else {
            return answerTwin(correlation, status: 429, version: nil, body: [], into: &actions)
        }
        twinRequestCount &+= 1
        let rid = "amqp\(twinRequestCount)"
        twinRequests[rid] = correlation
        let body = topic.hasPrefix("$iothub/twin/PATCH/") ? ByteBuffer(bytes: message.body.bytes) : ByteBuffer()
        actions.append(.toSession(channel, .publish(MQTTPublish(topic: "\(topic)?$rid=\(rid)", payload: body))))
    }

    /// The session's twin answer (`$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`) goes back to the client
    /// under the correlation-id of its request; an answer to no request of this link is dropped.
    mutating func twinAnswered(_ publish: MQTTPublish, into actions: inout [Action]) {
        guard let (status, rid, version) = TwinTopic.parseAnswer(publish.topic),
            let correlation = twinRequests.removeValue(forKey: String(rid))
        else { return }
        answerTwin(
            correlation,
            status: Int32(clamping: status),
            version: version,
            body: Array(publish.payload.readableBytesView),
            into: &actions
        )
    }

    /// An answer on the twin receiver link: annotations `status` (and `version`), the request's correlation-id.
    mutating func answerTwin(
        _ correlation: AMQPValue,
        status: Int32,
        version: Int64?,
        body: [UInt8],
        into actions: inout [Action]
    ) {
        // Answers the client takes no credit for are bounded: a client that only asks ends its connection.
        guard twinAnswers.count < Self.maxTwinRequests else {
            return fail("amqp:resource-limit-exceeded", "twin answers are not taken: the twin receiver gives no credit")
        }
        var message = AMQPMessage(
            properties: .init(correlationID: correlation),
            body: body.isEmpty ? .none : .data([body])
        )
        var annotations: AMQPMap = [.symbol("status"): .int(status)]
        if let version { annotations.entries.append(.init(key: .symbol("version"), value: .long(version))) }
        message.messageAnnotations = annotations
        twinAnswers.append(AMQPMessages.encoded(message))
        pump(into: &actions)
    }
}
