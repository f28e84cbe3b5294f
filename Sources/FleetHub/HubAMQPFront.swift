internal import FleetAMQP
internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
import Foundation
internal import NIOCore

/// The hub's AMQP 1.0 front: runs a `HubAMQPBridge` for one connection in front of the hub's MQTT session handler
/// (as the HTTPS front does), so AMQP devices meet the same authentication, quotas, throttles, faults and counts as
/// MQTT ones. The rules live in the machine; this handler decodes, encodes, counts malformed frames, arms the
/// heartbeat and checks renewed tokens against the hub's authenticator.
final class HubAMQPFront: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let session: HubConnectionHandler
    private let configuration: HubConfiguration
    private var machine: HubAMQPBridge
    private var frames: AMQPFrameDecoder
    private var answers = MQTTDecoder(version: .v5)
    private let encoder = MQTTEncoder(version: .v5)
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer?
    private var answerBytes: ByteBuffer?
    private var heartbeat: Scheduled<Void>?
    private var heartbeatInterval = TimeAmount.zero
    private var closing = false

    init(session: HubConnectionHandler, configuration: HubConfiguration) {
        self.session = session
        self.configuration = configuration
        var settings = HubAMQPBridge.Configuration(hostName: configuration.auth.hostName)
        settings.maxFrameSize = UInt32(clamping: configuration.maxPacketSize)
        machine = HubAMQPBridge(configuration: settings)
        frames = AMQPFrameDecoder(maxFrameSize: configuration.maxPacketSize)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        context.fireChannelInactive()
    }

    // MARK: - the client's frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if session.blackholed || closing { return }  // half-open: the bytes vanish, nothing is answered
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
            session.state.record(.protocolError, peer: session.peer, at: session.state.instant())
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

    // MARK: - the session's answers

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if answerBytes == nil { answerBytes = bytes } else { answerBytes!.writeBuffer(&bytes) }
        while var buffer = answerBytes, let packet = try? answers.decode(buffer: &buffer) {
            answerBytes = buffer.readableBytes == 0 ? nil : buffer
            var actions: [HubAMQPBridge.Action] = []
            let quota = session.dailyQuotaRefused
            session.dailyQuotaRefused = false
            machine.sessionAnswered(packet, dailyQuota: quota, into: &actions)
            run(actions, context: context, fromSession: true)
        }
        if (answerBytes?.readerIndex ?? 0) > 0 { answerBytes!.discardReadBytes() }
        promise?.succeed()
    }

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
            case .toSession(let packet):
                var buffer = context.channel.allocator.buffer(capacity: 64)
                guard (try? encoder.encode(packet, into: &buffer)) != nil else { continue }
                if fromSession {
                    // The session is still running the actions of its last answer: the next packet goes in on the
                    // next loop turn, not inside them.
                    context.eventLoop.assumeIsolated().execute { [self] in
                        guard let context = self.context, !self.closing else { return }
                        context.fireChannelRead(self.wrapInboundOut(buffer))
                    }
                } else {
                    context.fireChannelRead(wrapInboundOut(buffer))
                }
            case .authenticate(let connect):
                // A renewed token: checked as a CONNECT's would be; accepted, it is enforced until its own expiry.
                var accepted = false
                if case .accepted(let expiry) = configuration.auth.check(
                    connect,
                    nowUnix: Int64(Date().timeIntervalSince1970)
                ) {
                    accepted = true
                    session.renewed(tokenExpiry: expiry)
                }
                var more: [HubAMQPBridge.Action] = []
                machine.authenticated(accepted: accepted, into: &more)
                run(more, context: context, fromSession: fromSession)
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
        // After its writes the session handler flushes (the flush passes through here): no flush per packet.
    }

    private func armHeartbeat(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = context.eventLoop.assumeIsolated().scheduleTask(in: heartbeatInterval) { [self] in
            guard let context = self.context, !self.closing else { return }
            // A blackholed hub is silent: no heartbeat either, so the device's own liveness check finds it out.
            guard !self.session.blackholed else { return self.armHeartbeat(context: context) }
            var buffer = context.channel.allocator.buffer(capacity: 8)
            try? AMQPFrame(.empty).encode(into: &buffer)
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            self.armHeartbeat(context: context)
        }
    }
}

@available(*, unavailable)
extension HubAMQPFront: Sendable {}

/// The hub's AMQP listener pipeline: the AMQP front, then the MQTT session that does the work.
enum HubAMQP {
    static func configure(_ channel: any Channel, configuration: HubConfiguration, state: HubState) throws {
        let session = HubConnectionHandler(state: state)
        try channel.pipeline.syncOperations.addHandler(HubAMQPFront(session: session, configuration: configuration))
        try channel.pipeline.syncOperations.addHandler(session)
    }
}
