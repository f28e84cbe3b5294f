internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetMetrics
internal import FleetTLS
import Foundation
internal import NIOCore

/// One client connection of the hub: decodes, feeds `HubSession`, runs the actions it returns, and applies the
/// faults and throttles in force.
final class HubConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let state: HubState
    var session: HubSession
    private var decoder: MQTTDecoder
    var encoder = MQTTEncoder(version: .v311)
    private var inbound: ByteBuffer?
    /// The session's answers being run. While a read is handled this holds the hub's one scratch array
    /// (`HubState.scratch`), so an idle connection keeps no array storage.
    var actions: [HubAction] = []
    var context: ChannelHandlerContext?
    /// What the hub's sweep checks (`HubState.sweep`; no timer per connection), on the loop's clock: when the
    /// connection opened (CONNECT timeout) and when it last sent bytes (both stamped with `HubState.sweepNow`), how
    /// long it may stay silent (keep-alive), when its token's grace ends.
    private var openedAt = NIODeadline.distantPast
    var lastRead = NIODeadline.distantPast
    var idleLimit: TimeAmount?
    private var expiresAt: NIODeadline?
    var slowConsumerTimer: Scheduled<Void>?
    /// Bytes written while the channel was over its high-water mark.
    var backlog = 0
    /// Delayed (shaped) writes go out no earlier than this, and later writes wait behind them.
    private var writesNotBefore = NIODeadline.distantPast
    private(set) var deviceID: String?
    /// The network-switch fault: the connection is dead both ways but never closed.
    private(set) var isSilenced = false
    /// Set when this device is one session of an AMQP connection: its packets come from and go to the AMQP front
    /// (no pipeline of its own; `context` is then the front's, for the loop, the peer and the connection's resets).
    /// Strong, not weak: it is read for every packet the hub writes, and the front detaches (clearing it) every
    /// session it holds when the session or the connection ends.
    var carrier: HubAMQPFront?
    var carrierChannel: UInt16 = 0
    private var peerCache: String??
    /// C2D messages sent on this connection and not acknowledged yet (packet id → message id).
    var cloudToDeviceInFlight: [UInt16: UInt64] = [:]
    var cloudToDeviceSubscribed = false
    var nextPacketID: UInt16 = 0

    /// The client certificate of the TLS handshake (X.509 devices), kept until the CONNECT it authenticates.
    var peerCertificate: PeerCertificate?

    /// False behind the HTTPS API: its bridge sends CONNECT with the first request, whenever that comes.
    private let awaitsConnect: Bool
    /// The last D2C refusal was the daily quota, not a throttle (the HTTPS API answers 403, not 429).
    var dailyQuotaRefused = false

    init(state: HubState, awaitsConnect: Bool = true) {
        self.state = state
        self.awaitsConnect = awaitsConnect
        self.decoder = MQTTDecoder(version: .v311, maxPacketSize: state.configuration.maxPacketSize)
        self.session = HubSession(policy: state.sessionPolicy)
    }

    /// The hub's settings (one copy, on the hub's state).
    var configuration: HubConfiguration { state.configuration }

    /// The client's IP address, formatted once and only when a fault or an accepted CONNECT needs it.
    var peer: String? {
        if let peerCache { return peerCache }
        let p = context?.channel.remoteAddress?.ipAddress
        peerCache = .some(p)
        return p
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.opened(self, at: state.instant(), loop: context.eventLoop)
        openedAt = state.sweepNow
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.closed(self, deviceID: deviceID, at: state.instant())
        self.context = nil
        slowConsumerTimer?.cancel()
    }

    /// What the sweep finds due on a connection.
    enum Due {
        /// No CONNECT within the connect timeout.
        case connectTimeout
        /// Silent past 1.5 × its keep-alive.
        case idle
        /// Its token expired (plus the grace) while it was connected.
        case tokenExpiry
    }

    /// What is due on this connection at `now`, if anything. A blackholed connection is never idle: in a network
    /// blackhole the hub's close would never arrive either, so the link stays half-open, and its idle clock starts
    /// again when the blackhole ends (the device gets a whole keep-alive allowance to be heard).
    func due(at now: NIODeadline) -> Due? {
        guard !session.isClosed else { return nil }
        if session.version == nil {
            let limit = Self.amount(state.configuration.connectTimeout) + state.sweepInterval
            return awaitsConnect && now - openedAt >= limit ? .connectTimeout : nil
        }
        if let expiresAt, now >= expiresAt { return .tokenExpiry }
        guard let idleLimit else { return nil }
        if blackholed {
            lastRead = now
            return nil
        }
        return now - lastRead >= idleLimit + state.sweepInterval ? .idle : nil
    }

    /// Carries out what the sweep found due.
    func expire(_ due: Due) {
        switch due {
        case .connectTimeout, .idle:
            actions.removeAll(keepingCapacity: true)
            session.protocolError(into: &actions)
            run(delay: nil)
        case .tokenExpiry:
            expiresAt = nil
            state.core.recorder.countTokenExpiry()
            closeByHub()
        }
    }

    /// Closes the device's connection without a DISCONNECT (a takeover, token expiry); over AMQP, its session.
    func closeByHub() { closeOwn() }

    /// The drop faults: the network connection itself closes (over AMQP, with every device it carries).
    func dropByHub() { context?.close(promise: nil) }

    func silence() {
        isSilenced = true
        carrier?.silence()
    }

    /// Closes and returns the close's future (the hub's stop waits for every connection).
    func closeFuture() -> EventLoopFuture<Void>? { context?.close() }

    var blackholed: Bool {
        isSilenced || state.core.isBlackholed(deviceID: deviceID, peer: { peer })
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if blackholed { return }  // half-open: the bytes vanish, nothing is answered
        var bytes = unwrapInboundIn(data)
        lastRead = state.sweepNow
        let now = state.instant()
        if inbound == nil { inbound = bytes } else { inbound!.writeBuffer(&bytes) }
        swap(&actions, &state.scratch)
        defer {
            actions.removeAll(keepingCapacity: true)
            swap(&actions, &state.scratch)
            state.answering = nil
        }
        do {
            while var buffer = inbound, let packet = try decoder.decode(buffer: &buffer) {
                inbound = buffer.readableBytes == 0 ? nil : buffer
                guard process(packet, now: now) else { return }
                if session.isClosed { break }
            }
        } catch {
            inbound = nil
            session.protocolError(into: &actions)
            run(delay: nil, now: now)
        }
        // Keep only the partial packet, not the bytes already decoded in front of it.
        if (inbound?.readerIndex ?? 0) > 0 { inbound!.discardReadBytes() }
    }

    /// Runs the session's actions. Writes (and a close after them) wait `delay` when the hub shapes this packet, and
    /// never overtake an earlier delayed write: PUBACKs leave in PUBLISH order.
    func run(delay: Duration?, now: Instant? = nil) {
        guard let context else {
            actions.removeAll(keepingCapacity: true)
            return
        }
        let at = now ?? state.instant()
        let wallNow = NIODeadline.now()
        let release = max(wallNow + .nanoseconds(delay?.nanoseconds ?? 0), writesNotBefore)
        let deferred = release > wallNow
        var pending: [MQTTPacket] = []
        var closeAfter = false
        var wrote = false
        var i = 0
        while i < actions.count {
            let action = actions[i]
            i += 1
            switch action {
            case .write(let packet):
                if deferred {
                    pending.append(packet)
                } else {
                    guard send(packet, context: context) else {
                        // The client made an answer MQTT cannot carry: drop that connection, not the hub.
                        actions.removeAll(keepingCapacity: true)
                        closeOwn()
                        return
                    }
                    wrote = true
                }
            case .close:
                if deferred {
                    closeAfter = true
                } else {
                    if wrote { context.flush() }
                    wrote = false
                    closeOwn()
                }
            case .record(let event):
                // The peer's address is formatted only where it is kept (accepted connections), not per message.
                if case .accepted(let id, let expiry) = event {
                    state.record(event, peer: peer, at: at)
                    admitted(id, tokenExpiry: expiry)
                } else if case .refused(_, let reason?) = event, let onRefusal = configuration.onRefusal,
                    let connect = state.answering
                {
                    state.record(event, peer: nil, at: at)
                    onRefusal(reason.rawValue, configuration.auth.explain(reason, connect))
                } else {
                    state.record(event, peer: nil, at: at)
                }
            case .twin(let rid, let body):
                guard let deviceID else { break }
                let response: MQTTPacket
                if let body {
                    let topic = state.twins.patch(deviceID: deviceID, rid: rid, body: body)
                    response = .publish(MQTTPublish(topic: topic, payload: ByteBuffer()))
                } else {
                    let (topic, doc) = state.twins.get(deviceID: deviceID, rid: rid)
                    response = .publish(MQTTPublish(topic: topic, payload: ByteBuffer(bytes: doc)))
                }
                actions.append(.write(response))
            case .deliverCloudToDevice:
                cloudToDeviceSubscribed = true
                deliverCloudToDevice()
            case .cloudToDeviceAcked(let packetID):
                if let id = cloudToDeviceInFlight.removeValue(forKey: packetID), let deviceID {
                    state.cloudToDevice.completed(deviceID: deviceID, messageID: id)
                    state.core.recorder.countCloudToDeviceAck()
                }
            }
        }
        actions.removeAll(keepingCapacity: true)
        if wrote { context.flush() }
        guard deferred, !pending.isEmpty || closeAfter else { return }
        writesNotBefore = release
        let packets = pending
        context.eventLoop.assumeIsolated().scheduleTask(deadline: release) { [self] in
            guard let context = self.context else { return }
            for packet in packets where !self.send(packet, context: context) {
                return self.closeOwn()
            }
            context.flush()
            if closeAfter { self.closeOwn() }
        }
    }

    /// One connection per device id: an older one is closed (IoT Hub's 400027); a token is enforced until expiry
    /// plus the configured grace.
    private func admitted(_ id: String, tokenExpiry: Int64?) {
        deviceID = id
        state.knownDevices.insert(id)
        if let old = state.byDevice[id], old !== self {
            state.core.recorder.countTakeover()
            old.closeByHub()
        }
        state.byDevice[id] = self
        guard let tokenExpiry else { return }
        let wait = Self.expiryWait(
            tokenExpiry: tokenExpiry,
            nowUnix: Date().timeIntervalSince1970,
            grace: configuration.auth.expiryGrace
        )
        expiresAt = wait.map { (context?.eventLoop.now ?? .now()) + $0 }
    }

    /// A token renewed on the open connection (AMQP's CBS put-token): it is enforced until its own expiry instead.
    func renewed(tokenExpiry: Int64?) {
        guard let tokenExpiry else {
            expiresAt = nil
            return
        }
        let wait = Self.expiryWait(
            tokenExpiry: tokenExpiry,
            nowUnix: Date().timeIntervalSince1970,
            grace: configuration.auth.expiryGrace
        )
        expiresAt = wait.map { (context?.eventLoop.now ?? .now()) + $0 }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let presented = event as? TLSPeerCertificate { peerCertificate = PeerCertificate(presented) }
        context.fireUserInboundEventTriggered(event)
    }

    static func amount(_ d: Duration) -> TimeAmount { .nanoseconds(d.nanoseconds) }

    /// How long until a token that expires at `tokenExpiry` (Unix seconds, any value a signed token can carry) is
    /// past its grace; nil when that is beyond any run (a century), so nothing needs checking. Never traps.
    static func expiryWait(tokenExpiry: Int64, nowUnix: Double, grace: Duration) -> TimeAmount? {
        let remaining = Double(tokenExpiry) - nowUnix + Double(grace.nanoseconds) / 1e9
        guard remaining < 100 * 365 * 86_400 else { return nil }
        return .nanoseconds(Int64(saturating: max(0, remaining) * 1e9))
    }
}

@available(*, unavailable)
extension HubConnectionHandler: Sendable {}
