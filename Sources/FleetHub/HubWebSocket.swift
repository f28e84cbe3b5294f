internal import FleetHubCore
internal import FleetTLS
internal import FleetWebSocket
internal import NIOCore
internal import NIOHTTP1
internal import NIOWebSocket

/// The hub's WebSocket front (reference §10.1, §11.1): an HTTP/1.1 upgrade at IoT Hub's path with the `mqtt`
/// subprotocol, then binary frames carrying the same MQTT bytes to the same `HubConnectionHandler`; or with the
/// `AMQPWSB10` subprotocol, the AMQP front with its handler per session (IoT Hub serves both on one port). Anything else —
/// another path, neither subprotocol, a plain HTTP request, bytes that are not HTTP — gets an HTTP error (or a
/// close) and the connection ends; a client that never finishes its upgrade is closed after the CONNECT timeout.
enum HubWebSocket {
    static func configure(
        _ channel: any Channel,
        configuration: HubConfiguration,
        front: @escaping @Sendable (_ amqp: Bool) -> any ChannelHandler
    ) throws {
        let path = configuration.webSocketPath
        let timeout = TimeAmount.nanoseconds(configuration.connectTimeout.nanoseconds)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        // Over TLS the device's certificate arrives in the handshake, before the upgrade adds the front: kept here
        // and handed to the front (X.509 devices over wss://).
        let keeper = NIOLoopBound(PeerCertificateKeeper(), eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(keeper.value)
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: configuration.maxPacketSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                guard head.uri.split(separator: "?").first.map(String.init) == path, let chosen = subprotocol(head)
                else { return channel.eventLoop.makeSucceededFuture(nil) }
                var headers = HTTPHeaders()
                headers.add(name: "Sec-WebSocket-Protocol", value: chosen)
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    deadline.cancel()
                    // From here on the bytes are WebSocket frames: the HTTP refusal must not see them.
                    channel.pipeline.syncOperations.removeHandler(name: RefuseHTTP.name, promise: nil)
                    try channel.pipeline.syncOperations.addHandler(MQTTWebSocketFraming(role: .server))
                    try channel.pipeline.syncOperations.addHandler(front(subprotocol(head) == amqpWebSocketSubprotocol))
                    if let certificate = keeper.value.kept {
                        channel.pipeline.fireUserInboundEventTriggered(certificate)
                    }
                }
            }
        )
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }),
            withErrorHandling: true
        )
        try channel.pipeline.syncOperations.addHandler(RefuseHTTP(path: path), name: RefuseHTTP.name)
    }

    /// The subprotocol the hub answers an upgrade with: `mqtt` when offered, else `AMQPWSB10` (names compared
    /// without case, as clients spell them differently); nil for neither.
    static func subprotocol(_ head: HTTPRequestHead) -> String? {
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }
        if offered.contains(mqttWebSocketSubprotocol) { return mqttWebSocketSubprotocol }
        if offered.contains(amqpWebSocketSubprotocol.lowercased()) { return amqpWebSocketSubprotocol }
        return nil
    }
}

/// Answers any request that was not a WebSocket upgrade to the hub's path, then closes.
final class RefuseHTTP: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let name = "fleetstorm.refuse-http"
    let path: String

    init(path: String) { self.path = path }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let wrongPath = head.uri.split(separator: "?").first.map(String.init) != path
        let status: HTTPResponseStatus = wrongPath ? .notFound : .badRequest
        let body =
            wrongPath
            ? "MQTT over WebSockets is served at \(path)\n"
            : "expected a WebSocket upgrade with subprotocol \(mqttWebSocketSubprotocol) or \(amqpWebSocketSubprotocol)\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension RefuseHTTP: Sendable {}

/// Keeps the TLS peer's certificate (an event of the handshake) for a handler that joins the pipeline later.
final class PeerCertificateKeeper: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private(set) var kept: TLSPeerCertificate?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let certificate = event as? TLSPeerCertificate { kept = certificate }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension PeerCertificateKeeper: Sendable {}
