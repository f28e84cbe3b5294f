internal import FleetAMQP
internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetTLS
import Foundation
internal import NIOCore

/// The hub's AMQP 1.0 front: runs a `HubAMQPBridge` for one connection and, for each AMQP session on it (one device),
/// a `HubConnectionHandler` of its own without a pipeline (as the HTTPS front feeds one), so AMQP devices meet the same
/// authentication, quotas, throttles, faults and counts as MQTT ones, one by one, even when hundreds share the
/// connection. The rules live in the machines; this handler decodes, encodes, counts malformed frames, arms the
/// heartbeat, checks renewed tokens against the hub's authenticator and hands packets between the bridge and the
/// sessions' handlers.
final class HubAMQPFront: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: HubState
    private var machine: HubAMQPBridge
    private var frames: AMQPFrameDecoder
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer?
    private var heartbeat: Scheduled<Void>?
    private var heartbeatInterval = TimeAmount.zero
    private var closing = false
    /// The devices' handlers by AMQP channel.
    private var sessions: [UInt16: HubConnectionHandler] = [:]
    private var everBegan = false
    /// The network-switch fault silenced one of the connection's devices: the whole connection is dead both ways.
    private var silenced = false
    private var peerCache: String??
    /// The certificate the TLS handshake presented (X.509 devices): each session's device is authenticated by it.
    private var certificate: PeerCertificate?

    init(state: HubState) {
        self.state = state
        var settings = HubAMQPBridge.Configuration(hostName: state.configuration.auth.hostName)
        settings.maxFrameSize = UInt32(clamping: state.configuration.maxPacketSize)
        machine = HubAMQPBridge(configuration: settings)
        frames = AMQPFrameDecoder(maxFrameSize: state.configuration.maxPacketSize)
    }

    private var configuration: HubConfiguration { state.configuration }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.core.recorder.countAMQPConnection()
        // A client that never begins a session is closed after the CONNECT timeout, as an MQTT one without CONNECT.
        let timeout = TimeAmount.nanoseconds(configuration.connectTimeout.nanoseconds)
        context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard !self.everBegan, let context = self.context else { return }
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        endSessions()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        endSessions()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let presented = event as? TLSPeerCertificate {
            certificate = PeerCertificate(presented)
            machine.clientPresentedCertificate()
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func endSessions() {
        let all = sessions.values
        sessions.removeAll()
        for handler in all { handler.detachFromCarrier() }
    }

    private var peer: String? {
        if let peerCache { return peerCache }
        let p = context?.channel.remoteAddress?.ipAddress
        peerCache = .some(p)
        return p
    }

    /// Half-open: the network-switch fault on any of its devices, a blackhole of its address, or of its only device.
    private var blackholed: Bool {
        if silenced { return true }
        let only = sessions.count == 1 ? sessions.first?.value.deviceID : nil
        return state.core.isBlackholed(deviceID: only, peer: { peer })
    }

    // MARK: - the client's frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing || blackholed { return }  // half-open: the bytes vanish, nothing is answered
        var bytes = unwrapInboundIn(data)
        if inbound == nil { inbound = bytes } else { inbound!.writeBuffer(&bytes) }
        do {
            while var buffer = inbound, let item = try frames.decode(buffer: &buffer) {
                inbound = buffer.readableBytes == 0 ? nil : buffer
                // A fresh array per event: a kept one would hold its largest burst's capacity per connection.
                var actions: [HubAMQPBridge.Action] = []
                machine.received(item, into: &actions)
                run(actions, context: context, fromSession: false)
                if closing { return }
            }
        } catch {
            inbound = nil
            state.record(.protocolError, peer: peer, at: state.instant())
            var actions: [HubAMQPBridge.Action] = []
            machine.malformed(error, into: &actions)
            run(actions, context: context, fromSession: false)
            return
        }
        if (inbound?.readerIndex ?? 0) > 0 { inbound!.discardReadBytes() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    // MARK: - the sessions' handlers

    /// A packet a device's handler wrote (its session's answer).
    func carry(_ packet: MQTTPacket, channel: UInt16, dailyQuota: Bool) {
        guard let context, !closing else { return }
        var actions: [HubAMQPBridge.Action] = []
        machine.sessionAnswered(channel: channel, packet, dailyQuota: dailyQuota, into: &actions)
        run(actions, context: context, fromSession: true)
    }

    /// A device's handler ended its connection: its AMQP session ends.
    func endSession(_ channel: UInt16) {
        guard let context, !closing else { return }
        var actions: [HubAMQPBridge.Action] = []
        machine.sessionClosed(channel: channel, into: &actions)
        run(actions, context: context, fromSession: true)
        context.flush()
    }

    func silence() { silenced = true }

    // MARK: - the machine's actions

    private func run(_ actions: [HubAMQPBridge.Action], context: ChannelHandlerContext, fromSession: Bool) {
        for action in actions {
            switch action {
            case .sendHeader(let header):
                var buffer = context.channel.allocator.buffer(capacity: 8)
                buffer.writeBytes(header.bytes)
                context.write(wrapOutboundOut(buffer), promise: nil)
            case .send(let frame):
                var buffer = context.channel.allocator.buffer(capacity: 64)
                guard (try? frame.encode(into: &buffer)) != nil else { continue }
                context.write(wrapOutboundOut(buffer), promise: nil)
            case .sessionBegan(let channel):
                everBegan = true
                let handler = HubConnectionHandler(state: state)
                handler.peerCertificate = certificate
                sessions[channel] = handler
                handler.attach(carrier: self, channel: channel, context: context)
            case .toSession(let channel, let packet):
                guard let handler = sessions[channel] else { continue }
                if fromSession {
                    // The handler is still running the actions of its last answer: the next packet goes in on the
                    // next loop turn, not inside them.
                    context.eventLoop.assumeIsolated().execute { [self] in
                        guard !self.closing, self.sessions[channel] === handler else { return }
                        handler.received(packet)
                    }
                } else {
                    handler.received(packet)
                }
            case .authenticate(let channel, let connect):
                // A renewed token: checked as a CONNECT's would be; accepted, it is enforced until its own expiry.
                var accepted = false
                if case .accepted(let expiry) = configuration.auth.check(
                    connect,
                    nowUnix: Int64(Date().timeIntervalSince1970)
                ) {
                    accepted = true
                    sessions[channel]?.renewed(tokenExpiry: expiry)
                }
                var more: [HubAMQPBridge.Action] = []
                machine.authenticated(channel: channel, accepted: accepted, into: &more)
                run(more, context: context, fromSession: fromSession)
            case .sessionEnded(let channel):
                sessions.removeValue(forKey: channel)?.detachFromCarrier()
            case .heartbeat(let every):
                heartbeatInterval = .nanoseconds(max(every.nanoseconds, 100_000_000))
                armHeartbeat(context: context)
            case .close:
                closing = true
                heartbeat?.cancel()
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
                    .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
        }
        // After its writes a device's handler flushes (from this handler's context): no flush per packet.
    }

    private func armHeartbeat(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = context.eventLoop.assumeIsolated().scheduleTask(in: heartbeatInterval) { [self] in
            guard let context = self.context, !self.closing else { return }
            // A blackholed hub is silent: no heartbeat either, so the device's own liveness check finds it out.
            guard !self.blackholed else { return self.armHeartbeat(context: context) }
            var buffer = context.channel.allocator.buffer(capacity: 8)
            try? AMQPFrame(.empty).encode(into: &buffer)
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            self.armHeartbeat(context: context)
        }
    }
}

@available(*, unavailable)
extension HubAMQPFront: Sendable {}

/// The hub's AMQP listener pipeline: the AMQP front, which makes a session handler per device.
enum HubAMQP {
    static func configure(_ channel: any Channel, configuration: HubConfiguration, state: HubState) throws {
        try channel.pipeline.syncOperations.addHandler(HubAMQPFront(state: state))
    }
}
