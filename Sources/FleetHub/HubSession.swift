internal import FleetCore
public import FleetMQTT

/// What a hub connection must do.
public enum HubAction: Sendable, Hashable {
    case write(MQTTPacket)
    /// Close the connection; `clean` is false for protocol errors.
    case close(clean: Bool)
    case record(HubEvent)
}

public enum HubEvent: Sendable, Hashable {
    /// Accepted; the token expires at this Unix time (nil: anonymous).
    case accepted(clientID: String, tokenExpiry: Int64?)
    case refused(code: UInt8, reason: HubAuthenticator.Refusal?)
    /// A D2C message; `messageID` from the topic's `$.mid` when it is a number.
    case message(clientID: String, messageID: UInt64?)
    case protocolError
}

/// One hub-side MQTT connection as a pure state machine: CONNECT first, then IoT Hub's subset of MQTT
/// (QoS 0/1 only: a QoS 2 PUBLISH closes the connection, as IoT Hub does).
public struct HubSession: Sendable {
    enum State: Sendable {
        case awaitingConnect
        case connected(clientID: String, version: MQTTVersion)
        case closed
    }

    private var state: State = .awaitingConnect
    public let authenticator: HubAuthenticator

    public init(authenticator: HubAuthenticator = HubAuthenticator()) {
        self.authenticator = authenticator
    }

    /// The protocol version once CONNECT arrived.
    public var version: MQTTVersion? {
        if case .connected(_, let v) = state { return v }
        return nil
    }

    /// A fault the hub is injecting that overrides the answer to CONNECT.
    public enum ConnectOverride: Sendable, Hashable {
        /// CONNACK 3 / 0x88 (the outage fault).
        case serverUnavailable
        /// CONNACK 5 / 0x87 (the reject-auth fault).
        case notAuthorized
        /// CONNACK 3 / 0x9F "connection rate exceeded" (the new-connection throttle's queue is full).
        case connectionRateExceeded
    }

    /// Answers one packet. `nowUnix` is the hub's wall clock (seconds) for token expiry checks.
    public mutating func packetReceived(
        _ packet: MQTTPacket,
        nowUnix: Int64 = 0,
        override: ConnectOverride? = nil,
        into actions: inout [HubAction]
    ) {
        switch (state, packet) {
        case (.awaitingConnect, .connect(let c)):
            if c.clientID.isEmpty {
                let code: UInt8 = c.version == .v5 ? 0x85 : 2
                actions.append(.write(.connack(MQTTConnAck(code: code))))
                actions.append(.record(.refused(code: code, reason: nil)))
                close(clean: true, into: &actions)
                return
            }
            if let override {
                let code: UInt8
                switch override {
                case .serverUnavailable: code = c.version == .v5 ? 0x88 : 3
                case .notAuthorized: code = HubAuthenticator.refusalCode(c.version)
                case .connectionRateExceeded: code = c.version == .v5 ? 0x9F : 3
                }
                actions.append(.write(.connack(MQTTConnAck(code: code))))
                actions.append(.record(.refused(code: code, reason: nil)))
                close(clean: true, into: &actions)
                return
            }
            switch authenticator.check(c, nowUnix: nowUnix) {
            case .refused(let why):
                let code = HubAuthenticator.refusalCode(c.version)
                actions.append(.write(.connack(MQTTConnAck(code: code))))
                actions.append(.record(.refused(code: code, reason: why)))
                close(clean: true, into: &actions)
            case .accepted(let expiry):
                state = .connected(clientID: c.clientID, version: c.version)
                actions.append(.write(.connack(MQTTConnAck(sessionPresent: false, code: 0))))
                actions.append(.record(.accepted(clientID: c.clientID, tokenExpiry: expiry)))
            }
        case (.connected(let id, _), .publish(let p)):
            switch p.qos {
            case .atMostOnce:
                actions.append(.record(.message(clientID: id, messageID: SequenceTracker.messageID(inTopic: p.topic))))
            case .atLeastOnce:
                actions.append(.record(.message(clientID: id, messageID: SequenceTracker.messageID(inTopic: p.topic))))
                if let packetID = p.packetID { actions.append(.write(.puback(MQTTAck(packetID: packetID)))) }
            case .exactlyOnce:
                protocolError(into: &actions)
            }
        case (.connected, .pingreq):
            actions.append(.write(.pingresp))
        case (.connected, .subscribe(let s)):
            let codes = s.subscriptions.map { min($0.qos, .atLeastOnce).rawValue }
            actions.append(.write(.suback(MQTTSubAck(packetID: s.packetID, codes: codes))))
        case (.connected, .unsubscribe(let u)):
            actions.append(
                .write(.unsuback(MQTTSubAck(packetID: u.packetID, codes: u.topicFilters.map { _ in 0 })))
            )
        case (.connected, .puback):
            break
        case (.connected, .disconnect):
            close(clean: true, into: &actions)
        case (.closed, _):
            break
        default:
            protocolError(into: &actions)
        }
    }

    /// A PUBLISH past the D2C throttle's queue: PUBACK 0x97 (quota exceeded) in MQTT 5; 3.1.1 has no negative
    /// PUBACK, so the connection is closed. The message is not counted as received.
    public mutating func publishThrottled(_ publish: MQTTPublish, into actions: inout [HubAction]) {
        guard case .connected(_, let version) = state else { return }
        if version == .v5, let id = publish.packetID {
            actions.append(.write(.puback(MQTTAck(packetID: id, reasonCode: 0x97))))
        } else {
            close(clean: false, into: &actions)
        }
    }

    /// Bytes that do not decode, or a timeout: close without a goodbye.
    public mutating func protocolError(into actions: inout [HubAction]) {
        guard !isClosed else { return }
        actions.append(.record(.protocolError))
        close(clean: false, into: &actions)
    }

    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    private mutating func close(clean: Bool, into actions: inout [HubAction]) {
        state = .closed
        actions.append(.close(clean: clean))
    }
}
