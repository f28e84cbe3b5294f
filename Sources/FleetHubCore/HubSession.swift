public import FleetCore
public import FleetMQTT
internal import NIOCore

/// What a hub connection must do.
public enum HubAction: Sendable, Hashable {
    case write(MQTTPacket)
    /// Close the connection; `clean` is false for protocol errors.
    case close(clean: Bool)
    case record(HubEvent)
    /// Answer a twin request from the hub's twin store (GET when `body` is nil, else a reported PATCH).
    case twin(rid: String, body: [UInt8]?)
    /// The device subscribed to its C2D topic: deliver what is queued for it.
    case deliverCloudToDevice
    /// The device acknowledged a C2D message.
    case cloudToDeviceAcked(packetID: UInt16)
}

public enum HubEvent: Sendable, Hashable {
    /// Accepted; the token expires at this Unix time (nil: anonymous).
    case accepted(clientID: String, tokenExpiry: Int64?)
    case refused(code: UInt8, reason: HubAuthenticator.Refusal?)
    /// A D2C message; `messageID` from the topic's `$.mid` when it is a number.
    case message(clientID: String, messageID: UInt64?)
    /// The connection was closed for breaking a rule: bad bytes, a timeout, a forbidden topic, a PINGREQ flood.
    case protocolError
    case pingFlood
    case forbiddenTopic
}

/// The IoT Hub rules a session enforces.
public struct HubRules: Sendable, Hashable {
    /// Only IoT Hub topics and filters (reference §4.3, §4.4); off for plain MQTT load (anonymous hubs).
    public var iotHubTopics = true
    /// Subscriptions a device may hold at a time (IoT Hub: five).
    public var maxSubscriptions = 5
    /// PINGREQs a connection may send at once, and the rate the allowance refills at (per second). More is a flood:
    /// the connection is closed.
    public var pingBurst = 10.0
    public var pingRate = 2.0

    public init() {}
}

/// One hub-side MQTT connection as a pure state machine: CONNECT first, then IoT Hub's subset of MQTT
/// (QoS 0/1 only: a QoS 2 PUBLISH closes the connection, as IoT Hub does).
public struct HubSession: Sendable {
    enum State: Sendable {
        case awaitingConnect
        case connected(clientID: String, version: MQTTVersion)
        case closed
    }

    /// Who may connect and the rules every session of a hub enforces: one shared value per hub, so a connection's
    /// session holds a reference, not a copy.
    public final class Policy: Sendable {
        public let authenticator: HubAuthenticator
        public let rules: HubRules

        public init(authenticator: HubAuthenticator = HubAuthenticator(), rules: HubRules = HubRules()) {
            self.authenticator = authenticator
            self.rules = rules
        }
    }

    private var state: State = .awaitingConnect
    public let policy: Policy
    private var subscriptions: Set<String> = []
    private var pingAllowance: Double
    private var lastPing = Instant.zero

    public var authenticator: HubAuthenticator { policy.authenticator }
    public var rules: HubRules { policy.rules }

    public init(policy: Policy) {
        self.policy = policy
        self.pingAllowance = policy.rules.pingBurst
    }

    public init(authenticator: HubAuthenticator = HubAuthenticator(), rules: HubRules = HubRules()) {
        self.init(policy: Policy(authenticator: authenticator, rules: rules))
    }

    /// The protocol version once CONNECT arrived.
    public var version: MQTTVersion? {
        if case .connected(_, let v) = state { return v }
        return nil
    }

    /// True when `publish` is a D2C message the hub's throttles and daily quota see: QoS 0 or 1 on an accepted
    /// connection (anything else the session answers by closing).
    public func meters(_ publish: MQTTPublish) -> Bool {
        version != nil && publish.qos != .exactlyOnce
    }

    /// Which of the hub's throttles a PUBLISH that `meters` is for (reference §5.1): a twin GET is a twin read and a
    /// reported-properties PATCH a twin update, each with its request id; anything else a device publishes is a D2C
    /// send.
    public enum Meter: Sendable, Hashable {
        case send
        case twin(update: Bool, rid: String)
    }

    public func meter(_ publish: MQTTPublish) -> Meter {
        // Only `$iothub/…` topics can be twin requests: telemetry is told apart by its first byte.
        guard publish.topic.utf8.first == UInt8(ascii: "$"), rules.iotHubTopics, case .connected(let id, _) = state
        else { return .send }
        switch HubTopics.classify(publish.topic, deviceID: id) {
        case .twinGet(let rid): return .twin(update: false, rid: rid)
        case .twinPatch(let rid): return .twin(update: true, rid: rid)
        default: return .send
        }
    }

    /// A fault the hub is injecting that overrides the answer to CONNECT.
    public enum ConnectOverride: Sendable, Hashable {
        /// CONNACK 3 / 0x88 (the outage fault).
        case serverUnavailable
        /// CONNACK 5 / 0x87 (the reject-auth fault).
        case notAuthorized
        /// CONNACK 3 / 0x9F "connection rate exceeded" (the new-connection throttle's queue is full).
        case connectionRateExceeded
        /// CONNACK 5 / 0x8A (the disable fault: IoT Hub's 403012 DeviceDisabled).
        case disabled
    }

    /// The CONNACK code a fault's override answers with in `version`, and why (for the refusal counters).
    public static func refusal(
        _ override: ConnectOverride,
        version: MQTTVersion
    ) -> (code: UInt8, reason: HubAuthenticator.Refusal) {
        switch override {
        case .serverUnavailable: (version == .v5 ? 0x88 : 3, .outage)
        case .notAuthorized: (HubAuthenticator.refusalCode(version), .rejectAuth)
        case .connectionRateExceeded: (version == .v5 ? 0x9F : 3, .throttled)
        case .disabled: (version == .v5 ? 0x8A : 5, .disabled)
        }
    }

    /// The IoT Hub error code (reference §3.3) a refused CONNECT's MQTT 5 reason code stands for: what the HTTPS and
    /// AMQP fronts answer where MQTT answers with the CONNACK.
    public static func serviceCode(forConnAck code: UInt8) -> Int {
        switch code {
        case 0x88: HubServiceError.serviceUnavailable
        case 0x9F: HubServiceError.throttled
        case 0x8A: HubServiceError.deviceDisabled
        case 0x85: HubServiceError.badRequest
        default: HubServiceError.unauthorized
        }
    }

    /// Answers one packet. `nowUnix` is the hub's wall clock (seconds) for token expiry checks; `now` its monotonic
    /// clock for the PINGREQ allowance. `certificate`: the client certificate of the connection's TLS handshake
    /// (X.509 devices), for the CONNECT.
    public mutating func packetReceived(
        _ packet: MQTTPacket,
        now: Instant = .zero,
        nowUnix: Int64 = 0,
        override: ConnectOverride? = nil,
        certificate: PeerCertificate? = nil,
        into actions: inout [HubAction]
    ) {
        switch (state, packet) {
        case (.awaitingConnect, .connect(let c)):
            if c.clientID.isEmpty {
                let code: UInt8 = c.version == .v5 ? 0x85 : 2
                actions.append(.write(.connack(MQTTConnAck(code: code))))
                actions.append(.record(.refused(code: code, reason: .clientID)))
                close(clean: true, into: &actions)
                return
            }
            if let override {
                let (code, reason) = Self.refusal(override, version: c.version)
                actions.append(.write(.connack(MQTTConnAck(code: code))))
                actions.append(.record(.refused(code: code, reason: reason)))
                close(clean: true, into: &actions)
                return
            }
            switch authenticator.check(c, nowUnix: nowUnix, certificate: certificate) {
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
            guard p.qos != .exactlyOnce else {
                protocolError(into: &actions)
                return
            }
            let kind = rules.iotHubTopics ? HubTopics.classify(p.topic, deviceID: id) : .telemetry
            switch kind {
            case .telemetry:
                actions.append(.record(.message(clientID: id, messageID: SequenceTracker.messageID(inTopic: p.topic))))
            case .twinGet(let rid):
                actions.append(.twin(rid: rid, body: nil))
            case .twinPatch(let rid):
                actions.append(.twin(rid: rid, body: Array(p.payload.readableBytesView)))
            case .methodResponse:
                break
            case .invalid:
                actions.append(.record(.forbiddenTopic))
                close(clean: false, into: &actions)
                return
            }
            if p.qos == .atLeastOnce, let packetID = p.packetID {
                actions.append(.write(.puback(MQTTAck(packetID: packetID))))
            }
        case (.connected, .pingreq):
            let elapsed = Double((now - lastPing).nanoseconds) / 1e9
            if elapsed > 0 {
                pingAllowance = min(rules.pingBurst, pingAllowance + elapsed * rules.pingRate)
                lastPing = now
            }
            guard pingAllowance >= 1 else {
                actions.append(.record(.pingFlood))
                close(clean: false, into: &actions)
                return
            }
            pingAllowance -= 1
            actions.append(.write(.pingresp))
        case (.connected(let id, _), .subscribe(let s)):
            var codes: [UInt8] = []
            var c2d = false
            for sub in s.subscriptions {
                let kind = HubTopics.filter(sub.topicFilter, deviceID: id)
                if rules.iotHubTopics {
                    let room = subscriptions.contains(sub.topicFilter) || subscriptions.count < rules.maxSubscriptions
                    guard kind != nil, room else {
                        codes.append(0x80)
                        continue
                    }
                }
                subscriptions.insert(sub.topicFilter)
                if kind == .cloudToDevice { c2d = true }
                codes.append(min(sub.qos, .atLeastOnce).rawValue)
            }
            actions.append(.write(.suback(MQTTSubAck(packetID: s.packetID, codes: codes))))
            if c2d { actions.append(.deliverCloudToDevice) }
        case (.connected, .unsubscribe(let u)):
            for f in u.topicFilters { subscriptions.remove(f) }
            actions.append(
                .write(.unsuback(MQTTSubAck(packetID: u.packetID, codes: u.topicFilters.map { _ in 0 })))
            )
        case (.connected, .puback(let ack)):
            actions.append(.cloudToDeviceAcked(packetID: ack.packetID))
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

    /// A twin request its throttle refused: answered with status 429 (IoT Hub's ThrottlingException), or 403 when the
    /// daily quota is used up (403002); unlike a refused send, the connection stays.
    public mutating func twinThrottled(rid: String, dailyQuota: Bool, into actions: inout [HubAction]) {
        guard case .connected = state else { return }
        let topic = TwinTopic.answer(status: dailyQuota ? 403 : 429, rid: rid)
        actions.append(.write(.publish(MQTTPublish(topic: topic, payload: ByteBuffer()))))
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
