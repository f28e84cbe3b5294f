internal import FleetAMQP
internal import FleetCore
public import FleetMQTT
internal import NIOCore

extension HubAMQPBridge.Session {
    // MARK: - transfers from the client

    mutating func receivedTransfer(_ transfer: AMQPPerformative.Transfer, into actions: inout [Action]) {
        nextIncomingID &+= 1
        guard var link = links[transfer.handle], link.kind.fromClient else {
            return fail("amqp:session:unattached-handle", "transfer on a link that does not send to the hub")
        }
        var payload = transfer.payload
        if var part = partial {
            guard part.payload.readableBytes + payload.readableBytes <= HubAMQPBridge.maxMessageSize else {
                return fail(AMQPConditions.messageSizeExceeded, "a message is at most 256 KB")
            }
            part.payload.writeBuffer(&payload)
            partial = part
        } else {
            link.deliveryCount &+= 1
            link.sinceGrant += 1
            links[transfer.handle] = link
            partial = (transfer.deliveryID, transfer.settled ?? false, payload)
        }
        guard !transfer.more, var whole = partial else { return }
        partial = nil
        if link.sinceGrant * 2 >= configuration.telemetryCredit { grant(transfer.handle, into: &actions) }
        if transfer.aborted { return }
        guard let message = try? AMQPMessage.decode(from: &whole.payload) else {
            return fail(AMQPConditions.decodeError, "a message that does not decode")
        }
        if link.kind == .cbsIn {
            return putToken(message, deliveryID: whole.settled ? nil : whole.deliveryID, into: &actions)
        }
        guard case .accepted(let id) = device else {
            return fail(AMQPConditions.unauthorizedAccess, "the device is not connected")
        }
        if link.kind == .twinIn || link.kind == .methodsIn {
            if !whole.settled, let deliveryID = whole.deliveryID {
                actions.append(
                    out(.disposition(.init(role: .receiver, first: deliveryID, settled: true, state: .accepted)))
                )
            }
            // A method response answers no request (the test hub invokes none): settled and dropped.
            if link.kind == .twinIn { twinRequest(message, deviceID: id, into: &actions) }
            return
        }
        let qos: MQTTQoS = whole.settled ? .atMostOnce : .atLeastOnce
        var packetID: UInt16?
        if qos == .atLeastOnce, let deliveryID = whole.deliveryID {
            repeat { nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1 } while awaitingAck[nextPacketID] != nil
            awaitingAck[nextPacketID] = deliveryID
            packetID = nextPacketID
        }
        let publish = MQTTPublish(
            topic: DeviceREST.telemetryTopic(deviceID: id, headers: AMQPMessages.headers(of: message)),
            payload: ByteBuffer(bytes: message.body.bytes),
            qos: packetID == nil ? .atMostOnce : .atLeastOnce,
            packetID: packetID
        )
        actions.append(.toSession(channel, .publish(publish)))
    }

    /// A CBS request: a put-token for this connection's device connects it (the first) or renews its token.
    private mutating func putToken(_ message: AMQPMessage, deliveryID: UInt32?, into actions: inout [Action]) {
        if let deliveryID {
            actions.append(
                out(.disposition(.init(role: .receiver, first: deliveryID, settled: true, state: .accepted)))
            )
        }
        let requestID = message.properties?.messageID ?? .null
        let application = message.applicationProperties ?? [:]
        guard application[string: "operation"]?.text == "put-token",
            let audience = application[string: "name"]?.text,
            case .value(let body) = message.body, let token = body.text,
            let deviceID = HubAMQPBridge.device(inAudience: audience)
        else {
            return answerCBS(requestID, status: 400, "not a put-token for {host}/devices/{id}", into: &actions)
        }
        switch device {
        case .none:
            device = .connecting(deviceID)
            cbsRequest = requestID
            actions.append(
                .toSession(
                    channel,
                    .connect(
                        HubAMQPBridge.connect(deviceID, token: Array(token.utf8), hostName: configuration.hostName)
                    )
                )
            )
        case .accepted(let id) where id == deviceID:
            cbsRequest = requestID
            actions.append(
                .authenticate(
                    channel,
                    HubAMQPBridge.connect(deviceID, token: Array(token.utf8), hostName: configuration.hostName)
                )
            )
        case .refused(let id, _) where id == deviceID:
            answerCBS(
                requestID,
                status: 401,
                "the device was refused on this connection: open a new one",
                into: &actions
            )
        default:
            answerCBS(requestID, status: 400, "this connection carries another device", into: &actions)
        }
    }

    /// The answer to a renewed token (`authenticate`).
    mutating func authenticated(accepted: Bool, into actions: inout [Action]) {
        guard let request = cbsRequest else { return }
        cbsRequest = nil
        answerCBS(
            request,
            status: accepted ? 200 : 401,
            accepted ? "OK" : "the token is not accepted",
            into: &actions
        )
        pump(into: &actions)
    }

    mutating func answerCBS(_ requestID: AMQPValue, status: Int32, _ description: String, into actions: inout [Action])
    {
        let message = AMQPMessage(
            properties: .init(correlationID: requestID),
            applicationProperties: [
                .string("status-code"): .int(status), .string("status-description"): .string(description),
            ]
        )
        cbsAnswers.append(AMQPMessages.encoded(message))
        pump(into: &actions)
    }

    // MARK: - dispositions from the client (C2D outcomes)

    mutating func settled(_ d: AMQPPerformative.Disposition, into actions: inout [Action]) {
        let span = (d.last ?? d.first) &- d.first
        let ids = deliveredC2D.keys.filter { $0 &- d.first <= span }.sorted { $0 &- d.first < $1 &- d.first }
        var requeue: [MQTTPublish] = []
        for id in ids {
            guard let publish = deliveredC2D[id] else { continue }
            switch d.state {
            case .accepted?, .rejected?:
                // Complete or reject: the test hub keeps no dead-letter queue, so both end the message.
                deliveredC2D[id] = nil
                if let packetID = publish.packetID {
                    actions.append(.toSession(channel, .puback(MQTTAck(packetID: packetID))))
                }
            case .released?, .modified?:
                deliveredC2D[id] = nil
                requeue.append(publish)
            case .received?, .other?, nil:
                break
            }
        }
        cloudToDevice.insert(contentsOf: requeue, at: 0)
        pump(into: &actions)
    }

    // MARK: - the session's answers

    /// A packet the hub's MQTT session wrote to this device. `dailyQuota`: a refused PUBACK is the daily quota's.
    mutating func sessionAnswered(_ packet: MQTTPacket, dailyQuota: Bool, into actions: inout [Action]) {
        switch packet {
        case .connack(let ack):
            guard case .connecting(let id) = device else { return }
            let code = ack.isAccepted ? 0 : HubSession.serviceCode(forConnAck: ack.code)
            device = ack.isAccepted ? .accepted(id) : .refused(id, serviceCode: code)
            if let request = cbsRequest {
                cbsRequest = nil
                let status = Int32(code / 1000)
                answerCBS(
                    request,
                    status: ack.isAccepted ? 200 : status,
                    ack.isAccepted ? "OK" : HubServiceError(code: code).name,
                    into: &actions
                )
            }
            let waiting = deferredAttaches
            deferredAttaches = []
            for attach in waiting {
                guard
                    let named = HubAMQPBridge.device(of: attach)
                else { continue }
                if ack.isAccepted {
                    accept(attach, kind: named.kind, into: &actions)
                } else {
                    refuseLink(
                        attach,
                        AMQPConditions.condition(forServiceCode: code),
                        HubServiceError(code: code).name,
                        into: &actions
                    )
                }
            }
        case .puback(let ack):
            guard let deliveryID = awaitingAck.removeValue(forKey: ack.packetID) else { return }
            let state: AMQPDeliveryState
            if ack.reasonCode == 0 {
                state = .accepted
            } else {
                let code = dailyQuota ? HubServiceError.quotaExceeded : HubServiceError.throttled
                state = .rejected(
                    AMQPError(
                        condition: AMQPConditions.condition(forServiceCode: code),
                        description: HubServiceError(code: code).name
                    )
                )
            }
            actions.append(
                out(.disposition(.init(role: .receiver, first: deliveryID, settled: true, state: state)))
            )
        case .suback(let ack):
            guard let (packetID, handle) = subscribing, packetID == ack.packetID, let link = links[handle] else {
                return
            }
            subscribing = nil
            let attach = AMQPPerformative.Attach(
                name: link.name,
                handle: handle,
                role: .receiver,
                source: AMQPTerminus(address: link.address),
                target: AMQPTerminus(address: link.address)
            )
            answerAttach(attach, ours: link.ours, into: &actions)
            pump(into: &actions)
        case .publish(let publish) where publish.topic.hasPrefix("$iothub/twin/res/"):
            twinAnswered(publish, into: &actions)
        case .publish(let publish):
            cloudToDevice.append(publish)
            pump(into: &actions)
        case .disconnect(let d):
            let condition = d.reasonCode == 0x8E ? "amqp:link:stolen" : AMQPConditions.connectionForced
            ended = (condition, "the hub ended the device's session (reason 0x\(String(d.reasonCode, radix: 16)))")
        default:
            break
        }
    }

    // MARK: - sending to the client

    /// Sends CBS answers and C2D messages while their links have credit and the client's window has room.
    mutating func pump(into actions: inout [Action]) {
        while !cbsAnswers.isEmpty, let (handle, link) = links.first(where: { $0.value.kind == .cbsOut }),
            link.credit > 0, remoteIncomingWindow > 0
        {
            let answer = cbsAnswers.removeFirst()
            send(answer, on: handle, settled: true, into: &actions)
        }
        while !twinAnswers.isEmpty, let (handle, link) = links.first(where: { $0.value.kind == .twinOut }),
            link.credit > 0, remoteIncomingWindow > 0
        {
            send(twinAnswers.removeFirst(), on: handle, settled: true, into: &actions)
        }
        while !cloudToDevice.isEmpty, subscribing == nil,
            let (handle, link) = links.first(where: { $0.value.kind == .cloudToDevice }),
            link.credit > 0, remoteIncomingWindow > 0
        {
            let publish = cloudToDevice.removeFirst()
            let deliveryID = send(
                HubAMQPBridge.message(publish, deviceID: device.id ?? ""),
                on: handle,
                settled: false,
                into: &actions
            )
            deliveredC2D[deliveryID] = publish
        }
    }

    @discardableResult
    private mutating func send(
        _ payload: ByteBuffer,
        on handle: UInt32,
        settled: Bool,
        into actions: inout [Action]
    )
        -> UInt32
    {
        guard var link = links[handle] else { return 0 }
        let deliveryID = nextDeliveryID
        nextDeliveryID &+= 1
        link.credit -= 1
        link.deliveryCount &+= 1
        links[handle] = link
        let tag = withUnsafeBytes(of: deliveryID.bigEndian) { Array($0) }
        let transfer = AMQPPerformative.Transfer(
            handle: link.ours,
            deliveryID: deliveryID,
            deliveryTag: tag,
            settled: settled,
            payload: payload
        )
        actions.append(out(.transfer(transfer)))
        nextOutgoingID &+= 1
        remoteIncomingWindow &-= 1
        return deliveryID
    }
}

extension HubAMQPBridge {
    /// A packet the hub's MQTT session for `channel` wrote to its device. `dailyQuota`: a refused PUBACK is the daily
    /// quota's.
    public mutating func sessionAnswered(
        channel: UInt16,
        _ packet: MQTTPacket,
        dailyQuota: Bool,
        into actions: inout [Action]
    ) {
        guard phase != .closed, sessions[channel] != nil else { return }
        sessions[channel]!.sessionAnswered(packet, dailyQuota: dailyQuota, into: &actions)
        if let ended = sessions[channel]?.ended {
            endSession(channel, ended.condition, ended.description, into: &actions)
        }
    }

    /// The answer to a renewed token (`authenticate`).
    public mutating func authenticated(channel: UInt16, accepted: Bool, into actions: inout [Action]) {
        guard phase != .closed, sessions[channel] != nil else { return }
        sessions[channel]!.authenticated(accepted: accepted, into: &actions)
    }

    /// The hub's MQTT session for `channel` ended on its own (after a refusal, a takeover, token expiry, silence past
    /// the keep-alive): the AMQP session ends with an error, the connection and its other sessions go on.
    public mutating func sessionClosed(channel: UInt16, into actions: inout [Action]) {
        guard phase != .closed, sessions[channel] != nil else { return }
        let ended = sessions[channel]?.ended
        endSession(
            channel,
            ended?.condition ?? AMQPConditions.connectionForced,
            ended?.description ?? "the hub ended the device's session",
            into: &actions
        )
    }

    private mutating func endSession(
        _ channel: UInt16,
        _ condition: String,
        _ description: String,
        into actions: inout [Action]
    ) {
        guard let session = sessions.removeValue(forKey: channel) else { return }
        actions.append(session.out(.end(AMQPError(condition: condition, description: description))))
        actions.append(.sessionEnded(channel))
    }

    /// A C2D PUBLISH as an AMQP message: the topic's property bag as properties, a lock token annotation.
    static func message(_ publish: MQTTPublish, deviceID: String) -> ByteBuffer {
        var message = AMQPMessages.message(topic: publish.topic, payload: publish.payload, deviceID: deviceID)
        var lock = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: (publish.packetID ?? 0).bigEndian) { lock.replaceSubrange(14..<16, with: $0) }
        message.messageAnnotations = [.symbol("x-opt-lock-token"): .uuid(lock)]
        return AMQPMessages.encoded(message)
    }
}
