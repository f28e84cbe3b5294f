public import FleetAMQP

/// One pooled AMQP connection (reference §11.1: the .NET SDK carries up to 995 devices on one connection, one session
/// each): the connection's own part — SASL, open, heartbeats, close — and the routing of session frames between the
/// hub's channels and our devices' sessions. Each device's session is an `AMQPDeviceBridge` with `pooled` set; it
/// authenticates itself by CBS put-token on its own session. Pure: `DeviceAMQPPool` runs the actions.
///
/// Channels: a device gets the lowest channel free; a channel stays taken until the hub has answered its end (so the
/// hub's late frames for an ended session never reach the next device on that channel).
public struct AMQPPoolConnection: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var hubHost: String
        /// The SASL mechanism asked for when offered (else ANONYMOUS); no PLAIN: a pool is not one device.
        public var mechanism: String
        /// Announced in our open (the devices' ping interval); nil: none.
        public var idleTimeOut: Duration?
        /// Sessions this connection carries at most (the profile's devices per connection).
        public var sessions: Int
        public var maxFrameSize: UInt32 = UInt32(AMQPFrameDecoder.defaultMaxFrameSize)
        public var containerID: String

        public init(hubHost: String, mechanism: String, idleTimeOut: Duration?, sessions: Int, containerID: String) {
            self.hubHost = hubHost
            self.mechanism = mechanism
            self.idleTimeOut = idleTimeOut
            self.sessions = sessions
            self.containerID = containerID
        }
    }

    public enum Action: Sendable, Hashable {
        case sendHeader(AMQPProtocolHeader)
        case send(AMQPFrame)
        /// The connection is open: sessions may begin (the hub's frame size for them).
        case opened(maxFrameSize: Int)
        /// A frame for the session on our `channel`.
        case toSession(channel: UInt16, AMQPInbound)
        /// Send an empty frame this often from now on.
        case heartbeat(every: Duration)
        /// The hub refused the connection (SASL) or ended it with an error: the IoT Hub code for its devices.
        case refused(code: Int)
        case protocolError(String)
        /// The hub closed the connection without an error.
        case close
    }

    enum Phase: Sendable, Hashable {
        case idle, awaitingMechanisms, awaitingOutcome, awaitingAMQPHeader, opening, open, closed
    }

    public let configuration: Configuration
    var phase = Phase.idle
    /// The hub's frame size and channel maximum, from its open.
    public internal(set) var remoteMaxFrameSize = AMQPFrameDecoder.minimumMaxFrameSize
    var remoteChannelMax = UInt16.max
    /// Our channels in use (a device's, or ended but not yet answered by the hub), one bit each.
    var taken: [UInt64]
    /// The hub's channel → ours, learnt from the hub's begin answers (its `remote-channel`).
    var routes: [UInt16: UInt16] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
        taken = Array(repeating: 0, count: (max(1, configuration.sessions) + 63) / 64)
    }

    public var isOpen: Bool { phase == .open }

    /// Starts the connection's handshake (the socket is up).
    public mutating func start(into actions: inout [Action]) {
        guard phase == .idle else { return }
        phase = .awaitingMechanisms
        actions.append(.sendHeader(.sasl))
    }

    /// A free channel for a device's session, taken now; nil when the connection carries all it may.
    public mutating func takeChannel() -> UInt16? {
        let limit = min(configuration.sessions, Int(remoteChannelMax) + 1)
        for word in taken.indices where taken[word] != .max {
            let bit = (~taken[word]).trailingZeroBitCount
            let channel = word * 64 + bit
            guard channel < limit else { return nil }
            taken[word] |= 1 << UInt64(bit)
            return UInt16(channel)
        }
        return nil
    }

    func isTaken(_ channel: UInt16) -> Bool {
        let word = Int(channel) / 64
        return word < taken.count && taken[word] & (1 << UInt64(channel % 64)) != 0
    }

    private mutating func free(_ channel: UInt16) {
        let word = Int(channel) / 64
        guard word < taken.count else { return }
        taken[word] &= ~(1 << UInt64(channel % 64))
    }

    /// Our devices' sessions in use or awaiting the hub's end.
    public var channelsTaken: Int { taken.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// A device gave its channel up before its session ever began on the wire (it stopped while waiting).
    public mutating func release(unused channel: UInt16) {
        if !routes.values.contains(channel) { free(channel) }
    }

    /// Closes the connection (no device left on it).
    public mutating func close(into actions: inout [Action]) {
        guard phase != .closed else { return }
        if phase == .open || phase == .opening { actions.append(.send(.performative(.close(nil)))) }
        phase = .closed
    }

    /// Time for an empty frame.
    public mutating func heartbeatDue(into actions: inout [Action]) {
        guard phase == .open else { return }
        actions.append(.send(AMQPFrame(.empty)))
    }

    /// A protocol header or frame from the hub.
    public mutating func received(_ item: AMQPInbound, into actions: inout [Action]) {
        guard phase != .closed else { return }
        switch item {
        case .header(let header):
            switch (phase, header) {
            case (.awaitingMechanisms, .sasl): break
            case (.awaitingAMQPHeader, .amqp): phase = .opening
            default: fail("the hub answered with protocol header \(header) here", into: &actions)
            }
        case .frame(let frame):
            switch frame.body {
            case .empty: break
            case .sasl(let sasl): received(sasl, into: &actions)
            case .performative(let p): received(p, channel: frame.channel, into: &actions)
            }
        }
    }

    private mutating func fail(_ why: String, into actions: inout [Action]) {
        phase = .closed
        actions.append(.protocolError(why))
    }

    private mutating func received(_ sasl: AMQPSASLFrame, into actions: inout [Action]) {
        guard phase == .awaitingMechanisms || phase == .awaitingOutcome else {
            return fail("SASL \(sasl.name) out of place", into: &actions)
        }
        switch AMQPDeviceBridge.saslStep(
            sasl,
            awaitingMechanisms: phase == .awaitingMechanisms,
            mechanism: configuration.mechanism,
            plain: nil,
            hubHost: configuration.hubHost
        ) {
        case .send(let frame):
            if phase == .awaitingMechanisms { phase = .awaitingOutcome }
            actions.append(.send(frame))
        case .accepted:
            phase = .awaitingAMQPHeader
            actions.append(.sendHeader(.amqp))
            actions.append(
                .send(
                    AMQPDeviceBridge.opening(
                        containerID: configuration.containerID,
                        hubHost: configuration.hubHost,
                        maxFrameSize: configuration.maxFrameSize,
                        channelMax: UInt16(clamping: max(0, configuration.sessions - 1)),
                        idleTimeOut: configuration.idleTimeOut
                    )
                )
            )
        case .refused(let code):
            refuse(code, into: &actions)
        case .violation(let why):
            fail(why, into: &actions)
        }
    }

    private mutating func refuse(_ code: Int, into actions: inout [Action]) {
        phase = .closed
        actions.append(.refused(code: code))
    }

    private mutating func received(_ p: AMQPPerformative, channel: UInt16, into actions: inout [Action]) {
        switch p {
        case .open(let open):
            guard phase == .opening else { return fail("open out of place", into: &actions) }
            phase = .open
            remoteMaxFrameSize = max(AMQPFrameDecoder.minimumMaxFrameSize, Int(open.maxFrameSize ?? UInt32.max))
            remoteChannelMax = open.channelMax ?? UInt16.max
            if let idle = open.idleTimeOut, idle > 0 {
                actions.append(.heartbeat(every: .milliseconds(Int64(idle / 2))))
            }
            actions.append(.opened(maxFrameSize: remoteMaxFrameSize))
        case .close(let error):
            actions.append(.send(.performative(.close(nil))))
            if let error {
                refuse(AMQPConditions.serviceCode(for: error.condition), into: &actions)
            } else {
                phase = .closed
                actions.append(.close)
            }
        case .begin(let begin):
            guard phase == .open else { return fail("begin before open", into: &actions) }
            // The hub answers our begin with `remote-channel` = our channel; a begin of its own we do not serve.
            guard let ours = begin.remoteChannel, isTaken(ours), routes[channel] == nil else {
                return fail("a begin for no session of ours", into: &actions)
            }
            routes[channel] = ours
            actions.append(.toSession(channel: ours, .frame(AMQPFrame(channel: ours, .performative(p)))))
        case .end:
            guard let ours = routes.removeValue(forKey: channel) else { return }
            free(ours)
            actions.append(.toSession(channel: ours, .frame(AMQPFrame(channel: ours, .performative(p)))))
        case .attach, .flow, .transfer, .disposition, .detach:
            guard let ours = routes[channel] else { return }
            actions.append(.toSession(channel: ours, .frame(AMQPFrame(channel: ours, .performative(p)))))
        }
    }
}
