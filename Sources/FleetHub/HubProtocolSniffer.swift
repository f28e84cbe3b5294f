internal import FleetHubCore
internal import FleetTLS
internal import NIOCore

/// Waits for a connection's first byte and hands the connection to the front it names: `A` (AMQP's protocol header)
/// the AMQP front, anything else the MQTT session handler, which judges it as any MQTT client's bytes. A client that
/// sends nothing is closed after the CONNECT timeout, as on an MQTT listener.
final class HubProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let state: HubState
    private var deadline: Scheduled<Void>?
    /// The TLS handshake's client certificate, which arrives before the first byte: handed to the front.
    private var certificate: TLSPeerCertificate?

    init(state: HubState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) {
        let timeout = TimeAmount.nanoseconds(state.configuration.connectTimeout.nanoseconds)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let presented = event as? TLSPeerCertificate { certificate = presented }
        context.fireUserInboundEventTriggered(event)
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
        // The certificate, then the bytes go to the front, then this handler leaves (later reads go straight to it).
        if let certificate { context.fireUserInboundEventTriggered(certificate) }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension HubProtocolSniffer: Sendable {}
