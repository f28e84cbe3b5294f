internal import FleetAMQP
public import FleetMQTT
internal import NIOCore

extension AMQPDeviceBridge {
    /// A packet the device's machine wrote.
    public mutating func deviceWrote(_ packet: MQTTPacket, now: Instant, into actions: inout [Action]) {
        // After the connection ended (the device's machine closes it at once) nothing more goes out.
        guard phase != .closed else { return }
        switch packet {
        case .connect(let c):
            guard phase == .awaitingConnect else { return actions.append(.protocolError("a second CONNECT")) }
            deviceID = c.clientID
            username = c.username
            password = c.password
            lastHeard = now
            if configuration.pooled {
                // The pool's connection is open already: this device's session begins at once.
                phase = .opening
                actions.append(.send(.performative(.begin(beginning))))
            } else if configuration.sasl {
                phase = .awaitingMechanisms
                actions.append(.sendHeader(.sasl))
            } else {
                startAMQP(into: &actions)
            }
        case .publish(let p):
            if let request = TwinTopic.request(p.topic) {
                return twinRequest(request, body: p.payload, into: &actions)
            }
            let settled = p.qos == .atMostOnce
            let payload = AMQPMessages.encoded(topic: p.topic, payload: p.payload, deviceID: deviceID)
            enqueue(Pending(link: .telemetry, payload: payload, settled: settled, packetID: settled ? nil : p.packetID))
            pump(into: &actions)
        case .subscribe(let s):
            subscribe(s, into: &actions)
        case .unsubscribe(let u):
            for filter in u.topicFilters {
                for link in Self.links(serving: filter, deviceID: deviceID) where links[link].attached {
                    links[link].attached = false
                    links[link].closing = true
                    actions.append(.send(.performative(.detach(.init(handle: link.rawValue, closed: true)))))
                }
            }
            actions.append(.deliver(.unsuback(MQTTSubAck(packetID: u.packetID, codes: u.topicFilters.map { _ in 0 }))))
        case .puback(let ack):
            guard let i = handedOver.firstIndex(where: { $0.packetID == ack.packetID }) else { return }
            let deliveryID = handedOver.remove(at: i).deliveryID
            let disposition = AMQPPerformative.Disposition(
                role: .receiver,
                first: deliveryID,
                settled: true,
                state: .accepted
            )
            actions.append(.send(.performative(.disposition(disposition))))
        case .pingreq:
            // The hub's heartbeats (every half of the idle timeout we announced, which is the device's ping
            // interval) stand for PINGRESPs: answered at once when the hub was heard within that interval, else when
            // it is next heard. A silent hub (blackholed, half-open) is found by the machine's own ping timeout, as
            // over MQTT.
            if let idle = configuration.idleTimeOut, now - lastHeard > idle {
                pongOwed = true
            } else {
                actions.append(.deliver(.pingresp))
            }
        case .auth(let reauth):
            // A renewed SAS token (the machine's in-band renewal): a new put-token on the same CBS links.
            guard configuration.cbs, phase == .ready,
                let token = reauth.properties.first(where: { $0.id == .authenticationData }),
                case .binary(let bytes) = token.value
            else { return }
            password = bytes
            renewals += 1
            pendingRenewal = "put-token-\(renewals + 1)"
            // The answer needs credit on the CBS receiver again (the first answer used the one granted).
            grant(.cbsReceiver, credit: 1, into: &actions)
            enqueue(
                Pending(link: .cbsSender, payload: putToken(id: pendingRenewal ?? ""), settled: false, packetID: nil)
            )
            pump(into: &actions)
        case .disconnect:
            if phase != .closed && phase.hasOpened {
                actions.append(.send(.performative(configuration.pooled ? .end(nil) : .close(nil))))
            }
            phase = .closed
        default:
            break
        }
    }

    /// A pooled session learns the hub's frame size from the pool connection's open.
    public mutating func joinedPool(remoteMaxFrameSize: Int) {
        self.remoteMaxFrameSize = max(AMQPFrameDecoder.minimumMaxFrameSize, remoteMaxFrameSize)
    }

    /// Time for an empty frame (the handler's heartbeat timer).
    public mutating func heartbeatDue(into actions: inout [Action]) {
        guard phase != .closed, phase.hasOpened, !configuration.pooled else { return }
        actions.append(.send(AMQPFrame(.empty)))
    }

    /// Our begin: the session's window and the transfer ids we start from.
    var beginning: AMQPPerformative.Begin {
        AMQPPerformative.Begin(
            nextOutgoingID: nextOutgoingID,
            incomingWindow: Self.incomingWindow,
            outgoingWindow: Self.outgoingWindow
        )
    }

    /// What a client does with a SASL frame from the hub (`AMQPDeviceBridge` for its own connection,
    /// `AMQPPoolConnection` for a pooled one): answer it, go on to the AMQP header (outcome ok), or stop.
    enum SASLStep {
        case send(AMQPFrame)
        case accepted
        case refused(code: Int)
        case violation(String)
    }

    /// The client's SASL exchange (part 5.3): the mechanisms answered with our init, a challenge with an empty
    /// response (none of our mechanisms has a second step), the outcome taken; anything else out of place.
    static func saslStep(
        _ sasl: AMQPSASLFrame,
        awaitingMechanisms: Bool,
        mechanism: String,
        plain: (username: String, password: [UInt8])?,
        hubHost: String
    ) -> SASLStep {
        switch (awaitingMechanisms, sasl) {
        case (true, .mechanisms(let offered)):
            guard let initial = saslInit(offered: offered, mechanism: mechanism, plain: plain, hubHost: hubHost) else {
                return .violation(
                    "the hub offers SASL \(offered.joined(separator: ", ")), none of which FleetStorm speaks"
                )
            }
            return .send(initial)
        case (false, .outcome(let outcome, _)):
            return outcome.code == AMQPSASLFrame.Outcome.ok.code
                ? .accepted : .refused(code: serviceCode(forSASLOutcome: outcome.code))
        case (false, .challenge):
            return .send(AMQPFrame(.sasl(.response([]))))
        default:
            return .violation("SASL \(sasl.name) out of place")
        }
    }

    /// The SASL init for the mechanisms a hub offers: the SDK's mechanism, else PLAIN with a username and password
    /// (no CBS), else ANONYMOUS; nil when the hub offers none of them. Shared with `AMQPPoolConnection`.
    static func saslInit(
        offered: [String],
        mechanism preferred: String,
        plain: (username: String, password: [UInt8])?,
        hubHost: String
    ) -> AMQPFrame? {
        let response: [UInt8]
        let mechanism: String
        if offered.contains(preferred) && preferred != "PLAIN" {
            mechanism = preferred
            response = []
        } else if let plain, offered.contains("PLAIN") {
            mechanism = "PLAIN"
            response = [0] + Array(plain.username.utf8) + [0] + plain.password
        } else if offered.contains("ANONYMOUS") {
            mechanism = "ANONYMOUS"
            response = []
        } else {
            return nil
        }
        return AMQPFrame(.sasl(.initial(mechanism: mechanism, initialResponse: response, hostname: hubHost)))
    }

    /// The IoT Hub code a refused SASL outcome stands for: `auth` a bad credential, `sys-temp` a hub that is busy,
    /// anything else a request it could not take.
    static func serviceCode(forSASLOutcome code: UInt8) -> Int {
        switch code {
        case AMQPSASLFrame.Outcome.auth.code: HubServiceError.unauthorized
        case AMQPSASLFrame.Outcome.sysTemp.code: HubServiceError.serviceUnavailable
        default: HubServiceError.badRequest
        }
    }

    /// Our open: container id, the hub's host, our frame size and idle timeout, the SDK-style client version.
    static func opening(
        containerID: String,
        hubHost: String,
        maxFrameSize: UInt32,
        channelMax: UInt16,
        idleTimeOut: Duration?
    ) -> AMQPFrame {
        var open = AMQPPerformative.Open(
            containerID: containerID,
            hostname: hubHost,
            maxFrameSize: maxFrameSize,
            channelMax: channelMax,
            idleTimeOut: idleTimeOut.map { UInt32(clamping: $0.nanoseconds / 1_000_000) }
        )
        open.properties = [.symbol("com.microsoft:client-version"): .string("fleetstorm")]
        return .performative(.open(open))
    }

    /// Link properties the SDKs send on every attach (reference §11.2).
    static let linkProperties: AMQPMap = [
        .symbol("com.microsoft:client-version"): .string("fleetstorm"),
        .symbol("com.microsoft:api-version"): .string(DeviceREST.defaultAPIVersion),
    ]

    // MARK: - sending

    mutating func enqueue(_ pending: Pending) {
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        queue.append(pending)
    }

    /// Sends queued deliveries, in order, while their link has credit and the session window has room.
    mutating func pump(into actions: inout [Action]) {
        guard phase == .ready || phase == .authorizing || phase == .attaching else { return }
        if let held = heldTwin, links[.twinSender].attached, links[.twinSender].credit > 0,
            remoteIncomingWindow >= frameCount(held.readableBytes)
        {
            heldTwin = nil
            send(Pending(link: .twinSender, payload: held, settled: true, packetID: nil), into: &actions)
        }
        while queueHead < queue.count {
            let pending = queue[queueHead]
            guard links[pending.link].attached, links[pending.link].credit > 0,
                remoteIncomingWindow >= frameCount(pending.payload.readableBytes)
            else { return }
            queueHead += 1
            send(pending, into: &actions)
        }
    }

    /// Payload bytes per transfer frame: the hub's frame size less the frame header and the transfer performative.
    var chunkSize: Int { max(64, remoteMaxFrameSize - 8 - 64) }

    func frameCount(_ bytes: Int) -> UInt32 {
        UInt32(clamping: max(1, (bytes + chunkSize - 1) / chunkSize))
    }

    mutating func send(_ pending: Pending, into actions: inout [Action]) {
        let deliveryID = nextDeliveryID
        nextDeliveryID &+= 1
        let tag = withUnsafeBytes(of: deliveryID.bigEndian) { Array($0) }
        links[pending.link].credit -= 1
        links[pending.link].deliveryCount &+= 1
        if !pending.settled {
            unsettled.append(Unsettled(deliveryID: deliveryID, link: pending.link, packetID: pending.packetID))
        }
        var payload = pending.payload
        var first = true
        repeat {
            let length = min(chunkSize, payload.readableBytes)
            let chunk = payload.readSlice(length: length) ?? ByteBuffer()
            var transfer = AMQPPerformative.Transfer(
                handle: pending.link.rawValue,
                deliveryID: first ? deliveryID : nil,
                deliveryTag: first ? tag : nil,
                messageFormat: first ? 0 : nil,
                settled: first ? pending.settled : nil,
                payload: chunk
            )
            transfer.more = payload.readableBytes > 0
            actions.append(.send(.performative(.transfer(transfer))))
            nextOutgoingID &+= 1
            remoteIncomingWindow &-= 1
            first = false
        } while payload.readableBytes > 0
    }
}

extension AMQPDeviceBridge.Phase {
    /// Whether our open has gone out (a close or an empty frame makes sense from then on).
    var hasOpened: Bool {
        switch self {
        case .awaitingConnect, .awaitingMechanisms, .awaitingOutcome: false
        case .awaitingAMQPHeader, .opening, .authorizing, .attaching, .ready, .closed: true
        }
    }
}
