internal import FleetAMQP
internal import FleetCore
internal import FleetMQTT
internal import NIOCore

/// Runs an `AMQPDeviceBridge` for one device connection: MQTT bytes from the device's handler in, AMQP bytes to the
/// hub out, and the reverse. The rules live in the machine; this handler decodes, encodes, arms the heartbeat and
/// turns the machine's refusals into the errors the device's handler classifies.
final class DeviceAMQPBridge: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: AMQPDeviceBridge
    private var frames: AMQPFrameDecoder
    private var packets: MQTTDecoder
    private let encoder: MQTTEncoder
    private let now: () -> Instant
    private var context: ChannelHandlerContext?
    private var inbound: ByteBuffer?
    private var outbound: ByteBuffer?
    private var heartbeat: Scheduled<Void>?
    private var heartbeatInterval = TimeAmount.zero
    private var failed = false

    init(configuration: AMQPDeviceBridge.Configuration, version: MQTTVersion, now: @escaping () -> Instant) {
        machine = AMQPDeviceBridge(configuration: configuration)
        frames = AMQPFrameDecoder(maxFrameSize: Int(configuration.maxFrameSize))
        packets = MQTTDecoder(version: version)
        encoder = MQTTEncoder(version: version)
        self.now = now
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = nil
        context.fireChannelInactive()
    }

    // MARK: - what the device writes

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if outbound == nil { outbound = bytes } else { outbound!.writeBuffer(&bytes) }
        do {
            while var buffer = outbound, let packet = try packets.decode(buffer: &buffer) {
                outbound = buffer.readableBytes == 0 ? nil : buffer
                // A fresh array per event: a kept one would hold its largest burst's capacity per device.
                var actions: [AMQPDeviceBridge.Action] = []
                machine.deviceWrote(packet, now: now(), into: &actions)
                run(actions, context: context, fromDevice: true)
            }
        } catch {
            // Our own machine wrote bytes our own codec cannot read: end the connection rather than guess.
            outbound = nil
            promise?.fail(error)
            context.close(promise: nil)
            return
        }
        if (outbound?.readerIndex ?? 0) > 0 { outbound!.discardReadBytes() }
        promise?.succeed()
    }

    // MARK: - what the hub sends

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !failed else { return }
        if inbound == nil { inbound = bytes } else { inbound!.writeBuffer(&bytes) }
        do {
            while var buffer = inbound, let item = try frames.decode(buffer: &buffer) {
                inbound = buffer.readableBytes == 0 ? nil : buffer
                var actions: [AMQPDeviceBridge.Action] = []
                machine.received(item, now: now(), into: &actions)
                run(actions, context: context, fromDevice: false)
                if failed { return }
            }
        } catch {
            inbound = nil
            return fail(AMQPBridgeError.malformed, context: context)
        }
        if (inbound?.readerIndex ?? 0) > 0 { inbound!.discardReadBytes() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    // MARK: - the machine's actions

    private func run(_ actions: [AMQPDeviceBridge.Action], context: ChannelHandlerContext, fromDevice: Bool) {
        var wrote = false
        for action in actions {
            switch action {
            case .sendHeader(let header):
                var buffer = context.channel.allocator.buffer(capacity: 8)
                buffer.writeBytes(header.bytes)
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            case .send(let frame):
                var buffer = context.channel.allocator.buffer(capacity: 64)
                do {
                    try frame.encode(into: &buffer)
                } catch {
                    return fail(AMQPBridgeError.malformed, context: context)
                }
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            case .deliver(let packet):
                var buffer = context.channel.allocator.buffer(capacity: 16)
                guard (try? encoder.encode(packet, into: &buffer)) != nil else { continue }
                if fromDevice {
                    // An answer to the device's own write arrives on the next loop turn, as one from the network
                    // would: never inside the device handler's write.
                    context.eventLoop.assumeIsolated().execute { [self] in
                        guard let context = self.context, !self.failed else { return }
                        context.fireChannelRead(self.wrapInboundOut(buffer))
                        context.fireChannelReadComplete()
                    }
                } else {
                    context.fireChannelRead(wrapInboundOut(buffer))
                }
            case .refused(let code):
                return fail(HubServiceError(code: code), context: context)
            case .protocolError:
                return fail(AMQPBridgeError.protocolViolation, context: context)
            case .close:
                if wrote { context.flush() }
                context.close(promise: nil)
                return
            case .heartbeat(let every):
                heartbeatInterval = .nanoseconds(max(every.nanoseconds, 100_000_000))
                armHeartbeat(context: context)
            }
        }
        // After the device's own writes its handler flushes (the flush passes through here): no flush per packet.
    }

    /// One scheduled task at a time, re-armed when it fires (an empty frame every half of the hub's idle timeout).
    private func armHeartbeat(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = context.eventLoop.assumeIsolated().scheduleTask(in: heartbeatInterval) { [self] in
            guard let context = self.context, !self.failed else { return }
            var actions: [AMQPDeviceBridge.Action] = []
            self.machine.heartbeatDue(into: &actions)
            self.run(actions, context: context, fromDevice: false)
            context.flush()
            self.armHeartbeat(context: context)
        }
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !failed else { return }
        failed = true
        heartbeat?.cancel()
        heartbeat = nil
        context.flush()
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension DeviceAMQPBridge: Sendable {}

/// What ends an AMQP device connection besides the hub's refusals: bytes that do not decode, or frames out of place.
enum AMQPBridgeError: Error {
    case malformed
    case protocolViolation
}
