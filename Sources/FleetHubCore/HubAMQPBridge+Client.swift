public import FleetAMQP
internal import FleetCore
internal import FleetMQTT
internal import NIOCore

extension HubAMQPBridge {
    /// A protocol header or frame from the client.
    public mutating func received(_ item: AMQPInbound, into actions: inout [Action]) {
        guard phase != .closed else { return }
        switch item {
        case .header(let header):
            switch (phase, header) {
            case (.awaitingHeader, .sasl):
                phase = .sasl
                actions.append(.sendHeader(.sasl))
                actions.append(.send(AMQPFrame(.sasl(.mechanisms(Self.mechanisms)))))
            case (.awaitingAMQPHeader, .amqp):
                phase = .awaitingOpen
                actions.append(.sendHeader(.amqp))
            default:
                // IoT Hub needs SASL first: answer with the header we speak, then close (part 2.2).
                phase = .closed
                actions.append(.sendHeader(.sasl))
                actions.append(.close)
            }
        case .frame(let frame):
            switch frame.body {
            case .empty: break
            case .sasl(let sasl): received(sasl, into: &actions)
            case .performative(let p): received(p, channel: frame.channel, into: &actions)
            }
        }
    }

    /// Bytes from the client that do not decode: close with the condition the spec names for it.
    public mutating func malformed(_ error: AMQPCodecError, into actions: inout [Action]) {
        guard phase != .closed else { return }
        let condition =
            error.code == .frameTooLarge || error.code == .frameTooSmall || error.code == .unknownFrameType
            ? AMQPConditions.framingError : AMQPConditions.decodeError
        closeConnection(condition, "\(error)", into: &actions)
    }

    mutating func closeConnection(_ condition: String, _ description: String, into actions: inout [Action]) {
        if phase == .open || phase == .awaitingOpen {
            actions.append(.send(.performative(.close(AMQPError(condition: condition, description: description)))))
        }
        phase = .closed
        actions.append(.close)
    }

    private mutating func received(_ sasl: AMQPSASLFrame, into actions: inout [Action]) {
        guard phase == .sasl, case .initial(let mechanism, let response, _) = sasl else {
            // A SASL frame other than the init: refused with an outcome while the exchange is open; after the outcome
            // the SASL layer is over and nothing more may be written in it.
            if phase == .sasl { actions.append(.send(AMQPFrame(.sasl(.outcome(.sys, additionalData: nil))))) }
            phase = .closed
            actions.append(.close)
            return
        }
        switch mechanism {
        case "PLAIN":
            // authzid \0 authcid \0 password; authcid is {deviceId}@sas.{hub}.
            let parts = (response ?? []).split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let user = String(validating: parts[1], as: UTF8.self) else {
                phase = .closed
                actions.append(.send(AMQPFrame(.sasl(.outcome(.auth, additionalData: nil)))))
                actions.append(.close)
                return
            }
            let id = user.range(of: "@sas.").map { String(user[..<$0.lowerBound]) } ?? user
            plain = (id, Array(parts[2]))
        case "ANONYMOUS", "MSSBCBS":
            break
        default:
            phase = .closed
            actions.append(.send(AMQPFrame(.sasl(.outcome(.auth, additionalData: nil)))))
            actions.append(.close)
            return
        }
        // The token itself is checked when the device connects (PLAIN) or puts it (CBS).
        phase = .awaitingAMQPHeader
        actions.append(.send(AMQPFrame(.sasl(.outcome(.ok, additionalData: nil)))))
    }

    private mutating func received(_ p: AMQPPerformative, channel: UInt16, into actions: inout [Action]) {
        switch p {
        case .open(let open):
            guard phase == .awaitingOpen else {
                return closeConnection(AMQPConditions.notAllowed, "open out of place", into: &actions)
            }
            phase = .open
            var ours = AMQPPerformative.Open(
                containerID: "fleetstorm-hub",
                hostname: configuration.hostName,
                maxFrameSize: configuration.maxFrameSize,
                channelMax: 0
            )
            ours.properties = [.symbol("product"): .string("fleetstorm")]
            actions.append(.send(.performative(.open(ours))))
            if let idle = open.idleTimeOut, idle > 0 {
                actions.append(.heartbeat(every: .milliseconds(Int64(idle / 2))))
            }
        case .begin(let begin):
            guard phase == .open else {
                return closeConnection(AMQPConditions.notAllowed, "begin before open", into: &actions)
            }
            guard clientChannel == nil else {
                // One device (one session) per connection on this hub.
                var refused = AMQPPerformative.Begin(
                    remoteChannel: channel,
                    nextOutgoingID: 0,
                    incomingWindow: 0,
                    outgoingWindow: 0
                )
                refused.handleMax = 0
                actions.append(.send(.performative(.begin(refused), channel: 1)))
                actions.append(
                    .send(
                        .performative(
                            .end(
                                AMQPError(
                                    condition: AMQPConditions.notAllowed,
                                    description: "this hub carries one device per connection"
                                )
                            ),
                            channel: 1
                        )
                    )
                )
                return
            }
            clientChannel = channel
            nextIncomingID = begin.nextOutgoingID
            remoteIncomingWindow = begin.incomingWindow
            actions.append(
                .send(
                    .performative(
                        .begin(
                            .init(
                                remoteChannel: channel,
                                nextOutgoingID: nextOutgoingID,
                                incomingWindow: Self.incomingWindow,
                                outgoingWindow: Self.outgoingWindow
                            )
                        )
                    )
                )
            )
        case .attach(let attach):
            guard phase == .open, clientChannel == channel else { return }
            attached(attach, into: &actions)
        case .flow(let flow):
            guard clientChannel == channel else { return }
            remoteIncomingWindow = (flow.nextIncomingID ?? 0) &+ flow.incomingWindow &- nextOutgoingID
            if let handle = flow.handle, var link = links[handle], link.kind == .cbsOut || link.kind == .cloudToDevice {
                link.credit = (flow.deliveryCount ?? link.deliveryCount) &+ (flow.linkCredit ?? 0) &- link.deliveryCount
                links[handle] = link
            }
            if flow.echo { actions.append(.send(.performative(.flow(sessionFlow())))) }
            pump(into: &actions)
        case .transfer(let transfer):
            guard clientChannel == channel else { return }
            receivedTransfer(transfer, into: &actions)
        case .disposition(let d):
            guard clientChannel == channel, d.role == .receiver else { return }
            settled(d, into: &actions)
        case .detach(let detach):
            guard let link = links.removeValue(forKey: detach.handle) else { return }
            actions.append(.send(.performative(.detach(.init(handle: link.ours, closed: detach.closed)))))
            if link.kind == .cloudToDevice, let id = device.id {
                nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
                actions.append(
                    .toSession(
                        .unsubscribe(
                            MQTTUnsubscribe(
                                packetID: nextPacketID,
                                topicFilters: ["devices/\(id)/messages/devicebound/#"]
                            )
                        )
                    )
                )
            }
        case .end:
            guard clientChannel == channel else { return }
            actions.append(.send(.performative(.end(nil))))
            clientChannel = nil
            links.removeAll()
        case .close:
            // Answered in kind only once the AMQP layer is up (our AMQP header sent); a close inside the SASL layer
            // just ends the connection.
            if phase == .open || phase == .awaitingOpen { actions.append(.send(.performative(.close(nil)))) }
            phase = .closed
            actions.append(.close)
        }
    }

    func sessionFlow() -> AMQPPerformative.Flow {
        AMQPPerformative.Flow(
            nextIncomingID: nextIncomingID,
            incomingWindow: Self.incomingWindow,
            nextOutgoingID: nextOutgoingID,
            outgoingWindow: Self.outgoingWindow
        )
    }

    private mutating func attached(_ attach: AMQPPerformative.Attach, into actions: inout [Action]) {
        let address = (attach.role == .sender ? attach.target?.address : attach.source?.address) ?? ""
        let kind: Kind
        let deviceID: String?
        if address == "$cbs" || address.hasSuffix("/$cbs") {
            kind = attach.role == .sender ? .cbsIn : .cbsOut
            deviceID = nil
        } else if let named = Self.device(inAddress: address),
            (named.kind == .telemetry) == (attach.role == .sender)
        {
            kind = named.kind
            deviceID = named.id
        } else {
            return refuseLink(attach, AMQPConditions.notFound, "no such node: \(address)", into: &actions)
        }
        if let deviceID {
            switch device {
            case .none:
                // Neither CBS nor PLAIN came first: the link's device connects with what SASL gave (maybe nothing).
                let token = plain?.deviceID == deviceID ? plain?.token : nil
                device = .connecting(deviceID)
                actions.append(.toSession(.connect(connect(deviceID, token: token))))
                deferredAttaches.append(attach)
                return
            case .connecting(let id) where id == deviceID:
                deferredAttaches.append(attach)
                return
            case .accepted(let id) where id == deviceID:
                break
            case .refused(let id, let code) where id == deviceID:
                return refuseLink(
                    attach,
                    AMQPConditions.condition(forServiceCode: code),
                    "the device is not connected",
                    into: &actions
                )
            default:
                return refuseLink(
                    attach,
                    AMQPConditions.notAllowed,
                    "this connection carries another device",
                    into: &actions
                )
            }
        }
        accept(attach, kind: kind, into: &actions)
    }

    /// Answers a link the hub serves. A C2D link subscribes first; its answer waits for the SUBACK.
    mutating func accept(_ attach: AMQPPerformative.Attach, kind: Kind, into actions: inout [Action]) {
        let ours = nextHandle
        nextHandle &+= 1
        let address = (attach.role == .sender ? attach.target?.address : attach.source?.address) ?? ""
        links[attach.handle] = Link(kind: kind, name: attach.name, ours: ours, address: address)
        if kind == .cloudToDevice, let id = device.id {
            nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
            subscribing = (nextPacketID, attach.handle)
            let filter = MQTTSubscription(topicFilter: "devices/\(id)/messages/devicebound/#", qos: .atLeastOnce)
            actions.append(.toSession(.subscribe(MQTTSubscribe(packetID: nextPacketID, subscriptions: [filter]))))
            return
        }
        answerAttach(attach, ours: ours, into: &actions)
        if kind == .telemetry || kind == .cbsIn {
            grant(attach.handle, into: &actions)
        }
    }

    mutating func answerAttach(_ attach: AMQPPerformative.Attach, ours: UInt32, into actions: inout [Action]) {
        var answer = AMQPPerformative.Attach(
            name: attach.name,
            handle: ours,
            role: attach.role == .sender ? .receiver : .sender,
            senderSettleMode: attach.senderSettleMode,
            receiverSettleMode: attach.receiverSettleMode,
            source: attach.source,
            target: attach.target,
            initialDeliveryCount: attach.role == .sender ? nil : 0
        )
        answer.maxMessageSize = UInt64(Self.maxMessageSize)
        actions.append(.send(.performative(.attach(answer))))
    }

    /// A link the hub will not serve: an attach without its terminus, then a detach saying why (part 2.6.3).
    mutating func refuseLink(
        _ attach: AMQPPerformative.Attach,
        _ condition: String,
        _ why: String,
        into actions: inout [Action]
    ) {
        let ours = nextHandle
        nextHandle &+= 1
        let answer = AMQPPerformative.Attach(
            name: attach.name,
            handle: ours,
            role: attach.role == .sender ? .receiver : .sender,
            source: attach.role == .sender ? attach.source : nil,
            target: attach.role == .sender ? nil : attach.target,
            initialDeliveryCount: attach.role == .sender ? nil : 0
        )
        actions.append(.send(.performative(.attach(answer))))
        actions.append(
            .send(
                .performative(
                    .detach(
                        .init(
                            handle: ours,
                            closed: true,
                            error: AMQPError(condition: condition, description: why)
                        )
                    )
                )
            )
        )
    }

    /// Credit for a client's sending link (telemetry or CBS requests).
    mutating func grant(_ handle: UInt32, into actions: inout [Action]) {
        guard var link = links[handle] else { return }
        link.sinceGrant = 0
        links[handle] = link
        var flow = sessionFlow()
        flow.handle = link.ours
        flow.deliveryCount = link.deliveryCount
        flow.linkCredit = configuration.telemetryCredit
        actions.append(.send(.performative(.flow(flow))))
    }
}
