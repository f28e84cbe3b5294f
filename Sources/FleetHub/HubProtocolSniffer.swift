internal import FleetHubCore
internal import NIOCore

/// Waits for a connection's first byte and hands the connection to the front it names: `A` (AMQP's protocol header)
/// the AMQP front, anything else the MQTT session handler, which judges it as any MQTT client's bytes. A client that
/// sends nothing is closed after the CONNECT timeout, as on an MQTT listener.
final class HubProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let state: HubState
    private var deadline: Scheduled<Void>?

    init(state: HubState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) {
        let timeout = TimeAmount.nanoseconds(state.configuration.connectTimeout.nanoseconds)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        deadline?.cancel()
        let front: any ChannelHandler =
            first == UInt8(ascii: "A") ? HubAMQPFront(state: state) : HubConnectionHandler(state: state)
        do {
            try context.pipeline.syncOperations.addHandler(front, position: .after(self))
        } catch {
            return context.close(promise: nil)
        }
        // The bytes go to the front, then this handler leaves (later reads go straight to the front).
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension HubProtocolSniffer: Sendable {}
