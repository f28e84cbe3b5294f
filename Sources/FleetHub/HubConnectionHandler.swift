internal import FleetCore
internal import FleetMQTT
internal import FleetMetrics
import Foundation
internal import NIOCore

/// The hub's state on its loop: statistics and open connections. Loop-bound.
final class HubState {
    var recorder = HubRecorder()
    var channels: [ObjectIdentifier: any Channel] = [:]
    /// The live connection of each device id (IoT Hub allows one; a new CONNECT takes over).
    var byDevice: [String: any Channel] = [:]
    var stopping = false
    /// IoT Hub throttles (nil: unlimited) and the hub's clock origin for them.
    var connectShaper: RateShaper?
    var sendShaper: RateShaper?
    let origin = NIODeadline.now()

    init(quotas: HubQuotas?) {
        connectShaper = quotas?.shaper()
        sendShaper = quotas?.shaper()
    }

    func instant() -> Instant {
        Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds - origin.uptimeNanoseconds))
    }

    /// Windowed faults in force.
    var outage = false
    var rejectAuth = false
    var blackhole = false
    var slowConnack: Duration?
    var slowPuback: Duration?

    var stats: HubStats { recorder.stats }

    func record(_ event: HubEvent, peer: String?) {
        recorder.record(event, peer: peer)
    }
}

@available(*, unavailable)
extension HubState: Sendable {}

/// One client connection of the hub: decodes, feeds `HubSession`, runs the actions it returns.
final class HubConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: HubState
    private let configuration: HubConfiguration
    private var session: HubSession
    private var decoder: MQTTDecoder
    private var encoder = MQTTEncoder(version: .v311)
    private var inbound: ByteBuffer?
    private var actions: [HubAction] = []
    private var connectTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var lastRead = NIODeadline.now()
    private var idleLimit: TimeAmount?
    private var expiryTimer: Scheduled<Void>?
    /// Delayed (shaped) writes go out no earlier than this, and later writes wait behind them.
    private var writesNotBefore = NIODeadline.distantPast
    private var deviceID: String?

    init(state: HubState, configuration: HubConfiguration) {
        self.state = state
        self.configuration = configuration
        self.decoder = MQTTDecoder(version: .v311, maxPacketSize: configuration.maxPacketSize)
        self.session = HubSession(authenticator: configuration.auth)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        state.channels[ObjectIdentifier(context.channel)] = context.channel
        let timeout = TimeAmount.nanoseconds(
            Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000
                + configuration.connectTimeout.components.attoseconds / 1_000_000_000
        )
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        connectTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            if self.session.version == nil {
                self.actions.removeAll(keepingCapacity: true)
                self.session.protocolError(into: &self.actions)
                self.run(context: bound.value, delay: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.channels[ObjectIdentifier(context.channel)] = nil
        if let deviceID, let current = state.byDevice[deviceID], current === context.channel {
            state.byDevice[deviceID] = nil
        }
        connectTimer?.cancel()
        idleTimer?.cancel()
        expiryTimer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state.blackhole { return }  // half-open: the bytes vanish, nothing is answered
        var bytes = unwrapInboundIn(data)
        lastRead = .now()
        if inbound == nil { inbound = bytes } else { inbound!.writeBuffer(&bytes) }
        actions.removeAll(keepingCapacity: true)
        do {
            while var buffer = inbound, let packet = try decoder.decode(buffer: &buffer) {
                inbound = buffer.readableBytes == 0 ? nil : buffer
                if case .connect(let c) = packet { accepted(c, context: context) }
                switch (throttle(packet), packet) {
                case (.reject, .publish(let p)):
                    session.publishThrottled(p, into: &actions)
                    run(context: context, delay: nil)
                case (.reject, _):
                    process(packet, override: .connectionRateExceeded)
                    run(context: context, delay: nil)
                case (.after(let wait), _):
                    process(packet)
                    run(context: context, delay: wait)
                case (.now, _):
                    process(packet)
                    run(context: context, delay: injectedDelay(packet))
                }
                if session.isClosed { break }
            }
        } catch {
            inbound = nil
            session.protocolError(into: &actions)
            run(context: context, delay: nil)
        }
    }

    private func process(_ packet: MQTTPacket, override throttled: HubSession.ConnectOverride? = nil) {
        guard case .connect = packet else {
            session.packetReceived(packet, into: &actions)
            return
        }
        // Only CONNECT needs the wall clock (token expiry) and the faults that answer it.
        let override = throttled ?? (state.outage ? .serverUnavailable : state.rejectAuth ? .notAuthorized : nil)
        session.packetReceived(packet, nowUnix: Int64(Date().timeIntervalSince1970), override: override, into: &actions)
    }

    /// The slow-connack / slow-puback faults' added latency for this packet's answer.
    private func injectedDelay(_ packet: MQTTPacket) -> Duration? {
        switch packet {
        case .connect: state.slowConnack
        case .publish(let p) where p.qos == .atLeastOnce: state.slowPuback
        default: nil
        }
    }

    /// IoT Hub's shaping for new connections and D2C sends (reference §5.2).
    private func throttle(_ packet: MQTTPacket) -> RateShaper.Decision {
        let decision: RateShaper.Decision
        switch packet {
        case .connect:
            guard var shaper = state.connectShaper else { return .now }
            decision = shaper.admit(now: state.instant())
            state.connectShaper = shaper
        case .publish(let p) where p.qos != .exactlyOnce && session.version != nil:
            guard var shaper = state.sendShaper else { return .now }
            decision = shaper.admit(now: state.instant())
            state.sendShaper = shaper
        default:
            return .now
        }
        if case .connect = packet {
            state.recorder.countThrottle(connect: true, decision: decision)
        } else {
            state.recorder.countThrottle(connect: false, decision: decision)
        }
        return decision
    }

    private func accepted(_ connect: MQTTConnect, context: ChannelHandlerContext) {
        encoder.version = connect.version
        connectTimer?.cancel()
        connectTimer = nil
        guard connect.keepAliveSeconds > 0 else { return }
        let limit = TimeAmount.milliseconds(Int64(Double(connect.keepAliveSeconds) * 1000 * configuration.idleFactor))
        idleLimit = limit
        scheduleIdleCheck(context: context, in: limit)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, in delay: TimeAmount) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard let limit = self.idleLimit else { return }
            let idle = NIODeadline.now() - self.lastRead
            if self.state.blackhole {
                // In a network blackhole the hub's close would never arrive either: keep the link half-open.
                self.scheduleIdleCheck(context: bound.value, in: limit)
            } else if idle >= limit {
                self.actions.removeAll(keepingCapacity: true)
                self.session.protocolError(into: &self.actions)
                self.run(context: bound.value, delay: nil)
            } else {
                self.scheduleIdleCheck(context: bound.value, in: limit - idle)
            }
        }
    }

    /// Runs the session's actions. Writes (and a close after them) wait `delay` when the hub shapes this packet, and
    /// never overtake an earlier delayed write: PUBACKs leave in PUBLISH order.
    private func run(context: ChannelHandlerContext, delay: Duration?) {
        let now = NIODeadline.now()
        let release = max(now + .nanoseconds(delay?.nanoseconds ?? 0), writesNotBefore)
        let deferred = release > now
        var pending: [ByteBuffer] = []
        var closeAfter = false
        var wrote = false
        for action in actions {
            switch action {
            case .write(let packet):
                var buffer = context.channel.allocator.buffer(capacity: 16)
                do {
                    try encoder.encode(packet, into: &buffer)
                } catch {
                    preconditionFailure("hub cannot encode \(packet.type): \(error)")
                }
                if deferred {
                    pending.append(buffer)
                } else {
                    context.write(wrapOutboundOut(buffer), promise: nil)
                    wrote = true
                }
            case .close:
                if deferred {
                    closeAfter = true
                } else {
                    if wrote { context.flush() }
                    wrote = false
                    context.close(promise: nil)
                }
            case .record(let event):
                // The peer's address is formatted only where it is kept (accepted connections), not per message.
                if case .accepted = event {
                    state.record(event, peer: context.channel.remoteAddress?.ipAddress)
                } else {
                    state.record(event, peer: nil)
                }
                if case .accepted(let id, let expiry) = event { admitted(id, tokenExpiry: expiry, context: context) }
            }
        }
        actions.removeAll(keepingCapacity: true)
        if wrote { context.flush() }
        guard deferred, !pending.isEmpty || closeAfter else { return }
        writesNotBefore = release
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let buffers = pending
        context.eventLoop.assumeIsolated().scheduleTask(deadline: release) {
            let context = bound.value
            for b in buffers { context.write(NIOAny(b), promise: nil) }
            context.flush()
            if closeAfter { context.close(promise: nil) }
        }
    }

    /// One connection per device id: an older one is closed (IoT Hub's 400027); a token is enforced until expiry
    /// plus the configured grace.
    private func admitted(_ id: String, tokenExpiry: Int64?, context: ChannelHandlerContext) {
        deviceID = id
        if let old = state.byDevice[id], old !== context.channel {
            state.recorder.countTakeover()
            old.close(promise: nil)
        }
        state.byDevice[id] = context.channel
        guard let tokenExpiry else { return }
        let remaining = Double(tokenExpiry) - Date().timeIntervalSince1970
        let grace = Double(configuration.auth.expiryGrace.nanoseconds) / 1e9
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        expiryTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: .milliseconds(Int64(max(0, remaining + grace) * 1000))
        ) {
            [self] in
            self.state.recorder.countTokenExpiry()
            bound.value.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension HubConnectionHandler: Sendable {}
