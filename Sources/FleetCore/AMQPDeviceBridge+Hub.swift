public import FleetAMQP
internal import FleetMQTT
internal import NIOCore

extension AMQPDeviceBridge {
    /// A protocol header or frame from the hub.
    public mutating func received(_ item: AMQPInbound, now: Instant, into actions: inout [Action]) {
        guard phase != .closed else { return }
        lastHeard = now
        if pongOwed {
            pongOwed = false
            actions.append(.deliver(.pingresp))
        }
        switch item {
        case .header(let header):
            switch (phase, header) {
            case (.awaitingMechanisms, .sasl), (.awaitingAMQPHeader, .amqp):
                if phase == .awaitingAMQPHeader { phase = .opening }
            default:
                fail("the hub answered with protocol header \(header) here", into: &actions)
            }
        case .frame(let frame):
            switch frame.body {
            case .empty: break
            case .sasl(let sasl): received(sasl, into: &actions)
            case .performative(let p): received(p, into: &actions)
            }
        }
    }

    private mutating func fail(_ why: String, into actions: inout [Action]) {
        phase = .closed
        actions.append(.protocolError(why))
    }

    private mutating func refuse(_ code: Int, into actions: inout [Action]) {
        phase = .closed
        actions.append(.refused(code: code))
    }

    /// The AMQP layer: its header, our open and our session's begin, in one flight (after SASL, or at once without).
    mutating func startAMQP(into actions: inout [Action]) {
        phase = .awaitingAMQPHeader
        actions.append(.sendHeader(.amqp))
        actions.append(
            .send(
                Self.opening(
                    containerID: deviceID,
                    hubHost: configuration.hubHost,
                    maxFrameSize: configuration.maxFrameSize,
                    channelMax: 0,
                    idleTimeOut: configuration.idleTimeOut
                )
            )
        )
        actions.append(.send(.performative(.begin(beginning))))
    }

    private mutating func received(_ sasl: AMQPSASLFrame, into actions: inout [Action]) {
        guard phase == .awaitingMechanisms || phase == .awaitingOutcome else {
            return fail("SASL \(sasl.name) out of place", into: &actions)
        }
        let plain = !configuration.cbs ? username.flatMap { u in password.map { (u, $0) } } : nil
        switch Self.saslStep(
            sasl,
            awaitingMechanisms: phase == .awaitingMechanisms,
            mechanism: configuration.mechanism,
            plain: plain,
            hubHost: configuration.hubHost
        ) {
        case .send(let frame):
            if phase == .awaitingMechanisms { phase = .awaitingOutcome }
            actions.append(.send(frame))
        case .accepted:
            startAMQP(into: &actions)
        case .refused(let code):
            refuse(code, into: &actions)
        case .violation(let why):
            fail(why, into: &actions)
        }
    }

    private mutating func received(_ p: AMQPPerformative, into actions: inout [Action]) {
        switch p {
        case .open(let open):
            guard phase == .opening else { return fail("open out of place", into: &actions) }
            remoteMaxFrameSize = max(
                AMQPFrameDecoder.minimumMaxFrameSize,
                Int(open.maxFrameSize ?? UInt32.max)
            )
            if let idle = open.idleTimeOut, idle > 0 {
                actions.append(.heartbeat(every: .milliseconds(Int64(idle / 2))))
            }
        case .begin(let begin):
            guard phase == .opening else { return fail("begin out of place", into: &actions) }
            nextIncomingID = begin.nextOutgoingID
            remoteIncomingWindow = begin.incomingWindow
            if configuration.cbs {
                phase = .authorizing
                attach(.cbsSender, into: &actions)
                attach(.cbsReceiver, into: &actions)
                grant(.cbsReceiver, credit: 1, into: &actions)
                enqueue(Pending(link: .cbsSender, payload: putToken(id: cbsRequestID), settled: false, packetID: nil))
            } else {
                phase = .attaching
                attach(.telemetry, into: &actions)
            }
        case .attach(let attach):
            guard let link = Link.allCases.first(where: { $0.name == attach.name }) else {
                return fail("attach for a link we did not ask for", into: &actions)
            }
            links[link].remoteHandle = attach.handle
            // A refused link comes back without its terminus; the detach that follows says why.
            let refused = link.isSender ? attach.target == nil : attach.source == nil
            if !refused {
                links[link].attached = true
                switch link {
                case .telemetry:
                    if phase == .attaching {
                        phase = .ready
                        actions.append(.deliver(.connack(MQTTConnAck(code: 0))))
                    }
                case .cloudToDevice:
                    grant(.cloudToDevice, credit: configuration.cloudToDeviceCredit, into: &actions)
                case .twinReceiver:
                    grant(.twinReceiver, credit: Self.twinCredit, into: &actions)
                case .cbsSender, .cbsReceiver, .twinSender:
                    break
                }
            }
            linkAnswered(link, into: &actions)
            pump(into: &actions)
        case .flow(let flow):
            remoteIncomingWindow = (flow.nextIncomingID ?? 0) &+ flow.incomingWindow &- nextOutgoingID
            if let handle = flow.handle, let link = links.link(remote: handle), link.isSender {
                let ours = links[link].deliveryCount
                links[link].credit = (flow.deliveryCount ?? ours) &+ (flow.linkCredit ?? 0) &- ours
            }
            if flow.echo { actions.append(.send(.performative(.flow(sessionFlow())))) }
            pump(into: &actions)
        case .transfer(let transfer):
            receivedTransfer(transfer, into: &actions)
        case .disposition(let disposition):
            guard disposition.role == .receiver else { return }
            settled(disposition, into: &actions)
        case .detach(let detach):
            guard let link = links.link(remote: detach.handle) else { return }
            let ours = links[link].closing
            links[link].remoteHandle = nil
            links[link].attached = false
            links[link].closing = false
            if link.isTwin {
                // A twin link the hub ends or refused ends the twin, not the connection (a request on it is then
                // never answered: the device's twin timeout gives up); the hub's own detach is answered in kind.
                if !ours { actions.append(.send(.performative(.detach(.init(handle: link.rawValue, closed: true))))) }
            } else if let error = detach.error {
                refuse(AMQPConditions.serviceCode(for: error.condition), into: &actions)
            } else if link != .cloudToDevice {
                refuse(HubServiceError.serviceUnavailable, into: &actions)
            }
        case .end(let error), .close(let error):
            let wasOpen = phase.hasOpened
            if case .close = p, wasOpen { actions.append(.send(.performative(.close(nil)))) }
            // A pooled session answers the hub's end in kind (the pool frees the channel on the hub's end).
            if case .end = p, configuration.pooled { actions.append(.send(.performative(.end(nil)))) }
            if let error {
                refuse(AMQPConditions.serviceCode(for: error.condition), into: &actions)
            } else {
                phase = .closed
                actions.append(.close)
            }
        }
    }

    mutating func attach(_ link: Link, into actions: inout [Action]) {
        let name = link.name
        let (source, target): (String, String)
        switch link {
        case .cbsSender: (source, target) = (name, "$cbs")
        case .cbsReceiver: (source, target) = ("$cbs", "cbs")
        case .telemetry: (source, target) = (name, telemetryAddress)
        case .cloudToDevice: (source, target) = (cloudToDeviceAddress, cloudToDeviceAddress)
        case .twinSender: (source, target) = (name, twinAddress)
        case .twinReceiver: (source, target) = (twinAddress, name)
        }
        var attach = AMQPPerformative.Attach(
            name: name,
            handle: link.rawValue,
            role: link.isSender ? .sender : .receiver,
            // Twin requests go settled (reference §11.2), telemetry and CBS unsettled; C2D is settled by the device.
            senderSettleMode: link.isTwin ? 1 : link.isSender || link == .cloudToDevice ? 0 : nil,
            receiverSettleMode: 0,
            source: AMQPTerminus(address: source),
            target: AMQPTerminus(address: target),
            initialDeliveryCount: link.isSender ? 0 : nil
        )
        switch link {
        case .telemetry, .cloudToDevice: attach.properties = Self.linkProperties
        case .twinSender, .twinReceiver: attach.properties = twinLinkProperties
        case .cbsSender, .cbsReceiver: break
        }
        actions.append(.send(.performative(.attach(attach))))
    }

    mutating func grant(_ link: Link, credit amount: UInt32, into actions: inout [Action]) {
        links[link].credit = amount
        if link == .cloudToDevice { receivedSinceGrant = 0 }
        var flow = sessionFlow()
        flow.handle = link.rawValue
        flow.deliveryCount = links[link].deliveryCount
        flow.linkCredit = amount
        actions.append(.send(.performative(.flow(flow))))
    }

    private func sessionFlow() -> AMQPPerformative.Flow {
        AMQPPerformative.Flow(
            nextIncomingID: nextIncomingID,
            incomingWindow: Self.incomingWindow,
            nextOutgoingID: nextOutgoingID,
            outgoingWindow: Self.outgoingWindow
        )
    }

    /// The CBS put-token request: the SAS token for this device's audience (reference §11.1).
    func putToken(id: String) -> ByteBuffer {
        let token = String(decoding: password ?? [], as: UTF8.self)
        let message = AMQPMessage(
            properties: .init(messageID: .string(id), to: "$cbs", replyTo: "cbs"),
            applicationProperties: [
                .string("operation"): .string("put-token"),
                .string("type"): .string("servicebus.windows.net:sastoken"),
                .string("name"): .string("\(configuration.hubHost)/devices/\(deviceID)"),
            ],
            body: .value(.string(token))
        )
        return AMQPMessages.encoded(message)
    }

    private mutating func receivedTransfer(_ transfer: AMQPPerformative.Transfer, into actions: inout [Action]) {
        nextIncomingID &+= 1
        guard let link = links.link(remote: transfer.handle), !link.isSender else {
            return fail("transfer on a link that does not send to the device", into: &actions)
        }
        var payload = transfer.payload
        if var part = partial {
            guard part.payload.readableBytes + payload.readableBytes <= Self.maxMessageSize else {
                return fail("a message larger than \(Self.maxMessageSize) bytes", into: &actions)
            }
            part.payload.writeBuffer(&payload)
            partial = part
        } else {
            links[link].deliveryCount &+= 1
            links[link].credit &-= 1
            if link == .cloudToDevice { receivedSinceGrant += 1 }
            partial = (transfer.deliveryID, transfer.settled ?? false, payload)
        }
        guard !transfer.more, var whole = partial else { return }
        partial = nil
        if transfer.aborted { return }
        guard let message = try? AMQPMessage.decode(from: &whole.payload) else {
            return fail("a message that does not decode", into: &actions)
        }
        switch link {
        case .cbsReceiver:
            accept(whole.settled ? nil : whole.deliveryID, into: &actions)
            let correlation = message.properties?.correlationID
            let status = message.applicationProperties?[string: "status-code"]?.integerValue ?? 0
            if phase == .ready, let renewal = pendingRenewal, correlation == .string(renewal) {
                // A renewal's answer: accepted, the connection goes on; refused, it ends as a first one would.
                pendingRenewal = nil
                if status == 200 || status == 202 { return }
            } else if phase != .authorizing || correlation != .string(cbsRequestID) {
                return
            }
            switch status {
            case 200, 202:
                phase = .attaching
                attach(.telemetry, into: &actions)
            case 401: refuse(HubServiceError.unauthorized, into: &actions)
            case 403: refuse(HubServiceError.deviceDisabled, into: &actions)
            case 404: refuse(HubServiceError.deviceNotFound, into: &actions)
            case 429: refuse(HubServiceError.throttled, into: &actions)
            case 500...599: refuse(HubServiceError.serviceUnavailable, into: &actions)
            default: refuse(HubServiceError.badRequest, into: &actions)
            }
        case .cloudToDevice:
            repeat {
                nextPacketID &+= 1
            } while nextPacketID == 0 || handedOver.contains { $0.packetID == nextPacketID }
            if !whole.settled, let id = whole.deliveryID { handedOver.append((nextPacketID, id)) }
            let publish = MQTTPublish(
                topic: DeviceREST.cloudToDeviceTopic(deviceID: deviceID, headers: AMQPMessages.headers(of: message)),
                payload: ByteBuffer(bytes: message.body.bytes),
                qos: .atLeastOnce,
                packetID: nextPacketID
            )
            actions.append(.deliver(.publish(publish)))
            if receivedSinceGrant * 2 >= configuration.cloudToDeviceCredit {
                grant(.cloudToDevice, credit: configuration.cloudToDeviceCredit, into: &actions)
            }
        case .twinReceiver:
            accept(whole.settled ? nil : whole.deliveryID, into: &actions)
            twinAnswered(message, into: &actions)
        case .cbsSender, .telemetry, .twinSender:
            break
        }
    }

    /// Settles a delivery the hub sent unsettled (nil: it came settled) as `accepted`.
    private func accept(_ deliveryID: UInt32?, into actions: inout [Action]) {
        guard let id = deliveryID else { return }
        actions.append(
            .send(.performative(.disposition(.init(role: .receiver, first: id, settled: true, state: .accepted))))
        )
    }

    /// The hub's outcome for deliveries we sent: accepted is the PUBACK; anything else is the hub's refusal.
    private mutating func settled(_ d: AMQPPerformative.Disposition, into actions: inout [Action]) {
        let span = (d.last ?? d.first) &- d.first
        // Outcomes that arrive in delivery order settle from the front; the rest stay (serial arithmetic, part 2.8.8).
        // In place: no array per disposition.
        var outcome: Int?
        var i = 0
        while i < unsettled.count {
            let delivery = unsettled[i]
            guard outcome == nil, delivery.deliveryID &- d.first <= span else {
                i += 1
                continue
            }
            switch d.state {
            case .accepted?:
                unsettled.remove(at: i)
                if !d.settled { settle(delivery.deliveryID, d.state, into: &actions) }
                if delivery.link == .telemetry, let packetID = delivery.packetID {
                    actions.append(.deliver(.puback(MQTTAck(packetID: packetID))))
                }
            case .rejected(let error)?:
                unsettled.remove(at: i)
                outcome = AMQPConditions.serviceCode(for: error?.condition ?? "")
            case .released?, .modified?:
                unsettled.remove(at: i)
                outcome = HubServiceError.serviceUnavailable
            case .received?, .other?, nil:
                i += 1  // not an outcome yet
            }
        }
        if let outcome { refuse(outcome, into: &actions) }
    }

    private func settle(_ id: UInt32, _ state: AMQPDeliveryState?, into actions: inout [Action]) {
        actions.append(.send(.performative(.disposition(.init(role: .sender, first: id, settled: true, state: state)))))
    }
}

extension AMQPDeviceBridge.Link {
    var isSender: Bool { self == .cbsSender || self == .telemetry || self == .twinSender }
    var isTwin: Bool { self == .twinSender || self == .twinReceiver }
}
