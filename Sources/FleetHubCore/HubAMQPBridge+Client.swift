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
            case (.awaitingAMQPHeader, .amqp),
                (.awaitingHeader, .amqp) where certificatePresented:
                phase = .awaitingOpen
                actions.append(.sendHeader(.amqp))
            default:
                // IoT Hub needs SASL first, unless a certificate identified the client: answer with the header we
                // speak, then close (part 2.2).
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
        endConnection(into: &actions)
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
                channelMax: configuration.maxSessions &- 1
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
            guard sessions[channel] == nil, channel < configuration.maxSessions else {
                // A channel in use or past the channel maximum we announced: a connection error (part 2.7.1).
                return closeConnection(
                    "amqp:connection:framing-error",
                    "begin on channel \(channel): in use or past the channel maximum \(configuration.maxSessions - 1)",
                    into: &actions
                )
            }
            var session = Session(channel: channel, configuration: configuration)
            session.nextIncomingID = begin.nextOutgoingID
            session.remoteIncomingWindow = begin.incomingWindow
            actions.append(
                session.out(
                    .begin(
                        .init(
                            remoteChannel: channel,
                            nextOutgoingID: session.nextOutgoingID,
                            incomingWindow: Self.incomingWindow,
                            outgoingWindow: Self.outgoingWindow
                        )
                    )
                )
            )
            sessions[channel] = session
            actions.append(.sessionBegan(channel))
        case .end:
            guard let session = sessions.removeValue(forKey: channel) else { return }
            actions.append(session.out(.end(nil)))
            actions.append(.sessionEnded(channel))
        case .close:
            // Answered in kind only once the AMQP layer is up (our AMQP header sent); a close inside the SASL layer
            // just ends the connection.
            if phase == .open || phase == .awaitingOpen { actions.append(.send(.performative(.close(nil)))) }
            endConnection(into: &actions)
        case .attach, .flow, .transfer, .disposition, .detach:
            // Frames on a channel with no session are ignored (a session this side already ended may still be
            // answered by frames in flight).
            guard phase == .open, sessions[channel] != nil else { return }
            sessions[channel]!.received(p, plain: plain, into: &actions)
            checkFailure(channel, into: &actions)
        }
    }

    /// A session that broke the protocol ends the connection.
    mutating func checkFailure(_ channel: UInt16, into actions: inout [Action]) {
        guard let failure = sessions[channel]?.failure else { return }
        closeConnection(failure.condition, failure.description, into: &actions)
    }

    /// The connection is over: every session ends with it, then the socket closes.
    mutating func endConnection(into actions: inout [Action]) {
        phase = .closed
        for channel in sessions.keys.sorted() { actions.append(.sessionEnded(channel)) }
        sessions.removeAll()
        actions.append(.close)
    }
}

extension HubAMQPBridge.Session {
    typealias Action = HubAMQPBridge.Action
    typealias Kind = HubAMQPBridge.Kind
    typealias Link = HubAMQPBridge.Link

    /// A link performative on this session.
    mutating func received(
        _ p: AMQPPerformative,
        plain: (deviceID: String, token: [UInt8])?,
        into actions: inout [Action]
    ) {
        switch p {
        case .attach(let attach):
            attached(attach, plain: plain, into: &actions)
        case .flow(let flow):
            remoteIncomingWindow = (flow.nextIncomingID ?? 0) &+ flow.incomingWindow &- nextOutgoingID
            if let handle = flow.handle, var link = links[handle], !link.kind.fromClient {
                link.credit = (flow.deliveryCount ?? link.deliveryCount) &+ (flow.linkCredit ?? 0) &- link.deliveryCount
                links[handle] = link
            }
            if flow.echo { actions.append(out(.flow(sessionFlow()))) }
            pump(into: &actions)
        case .transfer(let transfer):
            receivedTransfer(transfer, into: &actions)
        case .disposition(let d):
            guard d.role == .receiver else { return }
            settled(d, into: &actions)
        case .detach(let detach):
            guard let link = links.removeValue(forKey: detach.handle) else { return }
            actions.append(out(.detach(.init(handle: link.ours, closed: detach.closed))))
            if link.kind == .cloudToDevice, let id = device.id {
                nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
                actions.append(
                    .toSession(
                        channel,
                        .unsubscribe(
                            MQTTUnsubscribe(
                                packetID: nextPacketID,
                                topicFilters: ["devices/\(id)/messages/devicebound/#"]
                            )
                        )
                    )
                )
            }
        case .open, .begin, .end, .close:
            break
        }
    }

    func sessionFlow() -> AMQPPerformative.Flow {
        AMQPPerformative.Flow(
            nextIncomingID: nextIncomingID,
            incomingWindow: HubAMQPBridge.incomingWindow,
            nextOutgoingID: nextOutgoingID,
            outgoingWindow: HubAMQPBridge.outgoingWindow
        )
    }

    private mutating func attached(
        _ attach: AMQPPerformative.Attach,
        plain: (deviceID: String, token: [UInt8])?,
        into actions: inout [Action]
    ) {
        let address = (attach.role == .sender ? attach.target?.address : attach.source?.address) ?? ""
        let kind: Kind
        let deviceID: String?
        if address == "$cbs" || address.hasSuffix("/$cbs") {
            kind = attach.role == .sender ? .cbsIn : .cbsOut
            deviceID = nil
        } else if let named = HubAMQPBridge.device(of: attach) {
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
                actions.append(
                    .toSession(
                        channel,
                        .connect(HubAMQPBridge.connect(deviceID, token: token, hostName: configuration.hostName))
                    )
                )
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
            actions.append(
                .toSession(channel, .subscribe(MQTTSubscribe(packetID: nextPacketID, subscriptions: [filter])))
            )
            return
        }
        answerAttach(attach, ours: ours, into: &actions)
        if kind.fromClient { grant(attach.handle, into: &actions) }
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
        answer.maxMessageSize = UInt64(HubAMQPBridge.maxMessageSize)
        actions.append(out(.attach(answer)))
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
        actions.append(out(.attach(answer)))
        actions.append(
            out(
                .detach(
                    .init(
                        handle: ours,
                        closed: true,
                        error: AMQPError(condition: condition, description: why)
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
        actions.append(out(.flow(flow)))
    }
}
