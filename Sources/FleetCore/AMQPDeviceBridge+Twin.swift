internal import FleetAMQP
internal import FleetMQTT
internal import NIOCore

extension AMQPDeviceBridge {
    /// Answers the hub may send on the twin receiver before the device takes them (one request is out at a time).
    static let twinCredit: UInt32 = 4

    /// The twin links' properties: the SDKs' own, and the channel correlation id that pairs the two links (the SDKs
    /// put `twin:` and a fresh UUID there, reference §11.2; the device id pairs them as well and needs no random draw).
    var twinLinkProperties: AMQPMap {
        var properties = Self.linkProperties
        properties.entries.append(
            .init(key: .symbol("com.microsoft:channel-correlation-id"), value: .string("twin:\(deviceID)"))
        )
        return properties
    }

    /// The links a subscription's filter stands for: the C2D receiver, or the twin's sender and receiver (the answer
    /// topic); none for any other filter (methods and desired-property pushes have no link here).
    static func links(serving filter: String, deviceID: String) -> [Link] {
        if filter == TwinTopic.responses + "#" { return [.twinSender, .twinReceiver] }
        if filter == "devices/\(deviceID)/messages/devicebound/#" { return [.cloudToDevice] }
        return []
    }

    /// Whether every link behind a filter is attached (the SUBACK's code for it).
    func grants(_ filter: String) -> Bool {
        let served = Self.links(serving: filter, deviceID: deviceID)
        return !served.isEmpty && served.allSatisfy { links[$0].attached }
    }

    /// A SUBSCRIBE: the links its filters need and that are not attached yet are asked for, and the SUBACK waits for
    /// their answers; with nothing to ask (links attached, filters we do not serve, the connection not ready, or a
    /// SUBSCRIBE already waiting) it is answered at once from the links as they are.
    mutating func subscribe(_ s: MQTTSubscribe, into actions: inout [Action]) {
        var wanted: [Link] = []
        for subscription in s.subscriptions {
            for link in Self.links(serving: subscription.topicFilter, deviceID: deviceID)
            where !links[link].attached && !wanted.contains(link) {
                wanted.append(link)
            }
        }
        guard phase == .ready, subscribeID == nil, !wanted.isEmpty else {
            let codes = s.subscriptions.map { grants($0.topicFilter) ? UInt8(1) : 0x80 }
            return actions.append(.deliver(.suback(MQTTSubAck(packetID: s.packetID, codes: codes))))
        }
        subscribeID = s.packetID
        subscribeFilters = s.subscriptions.map(\.topicFilter)
        awaitingLinks = wanted
        for link in wanted { attach(link, into: &actions) }
    }

    /// The hub answered a link's attach (granted or refused): the waiting SUBACK goes once all its links are answered.
    mutating func linkAnswered(_ link: Link, into actions: inout [Action]) {
        guard let id = subscribeID, let i = awaitingLinks.firstIndex(of: link) else { return }
        awaitingLinks.remove(at: i)
        guard awaitingLinks.isEmpty else { return }
        subscribeID = nil
        let codes = subscribeFilters.map { grants($0) ? UInt8(1) : 0x80 }
        subscribeFilters = []
        actions.append(.deliver(.suback(MQTTSubAck(packetID: id, codes: codes))))
    }

    /// A twin GET or reported-properties PATCH the device wrote: a request message on the twin sender, held until
    /// the link is attached and has credit. Without twin links (the hub refused them, or none were asked for) it
    /// stays held and is never answered, as an SDK's request on a closed twin channel; the device's twin timeout
    /// ends the operation.
    mutating func twinRequest(_ request: (update: Bool, rid: UInt32), body: ByteBuffer, into actions: inout [Action]) {
        var message = AMQPMessage(
            properties: .init(correlationID: .string(String(request.rid))),
            // An empty request carries one space, as the SDKs send it (reference §11.2).
            body: .data([request.update && body.readableBytes > 0 ? Array(body.readableBytesView) : [0x20]])
        )
        var annotations: AMQPMap = [.symbol("operation"): .string(request.update ? "PATCH" : "GET")]
        if request.update {
            annotations.entries.append(.init(key: .symbol("resource"), value: .string("/properties/reported")))
        }
        message.messageAnnotations = annotations
        heldTwin = AMQPMessages.encoded(message)
        pump(into: &actions)
    }

    /// An answer on the twin receiver: annotation `status` (and `version`) under the request's correlation-id, handed
    /// to the device as the MQTT answer topic with the body. A message without a status or a correlation-id (a
    /// desired-property push) answers nothing and is dropped.
    mutating func twinAnswered(_ message: AMQPMessage, into actions: inout [Action]) {
        if links[.twinReceiver].credit <= Self.twinCredit / 2 {
            grant(.twinReceiver, credit: Self.twinCredit, into: &actions)
        }
        let annotations = message.messageAnnotations ?? [:]
        guard let status = annotations[symbol: "status"]?.integerValue,
            let rid = message.properties?.correlationID?.propertyText, !rid.isEmpty
        else { return }
        let version = annotations[symbol: "version"]?.integerValue
        let bytes = message.body.bytes
        let publish = MQTTPublish(
            topic: TwinTopic.answer(status: status, rid: rid, version: version),
            payload: ByteBuffer(bytes: bytes)
        )
        actions.append(.deliver(.publish(publish)))
    }
}
