internal import FleetHubCore
internal import FleetWebSocket
internal import NIOCore
internal import NIOHTTP1
internal import NIOWebSocket

/// The hub's MQTT-over-WebSockets front (reference §10.1): an HTTP/1.1 upgrade at IoT Hub's path with the `mqtt`
/// subprotocol, then binary frames carrying the same MQTT bytes to the same `HubConnectionHandler`. Anything else —
/// another path, no `mqtt` subprotocol, a plain HTTP request, bytes that are not HTTP — gets an HTTP error (or a
/// close) and the connection ends; a client that never finishes its upgrade is closed after the CONNECT timeout.
enum HubWebSocket {
    static func configure(
        _ channel: any Channel,
        configuration: HubConfiguration,
        session: @escaping @Sendable () -> HubConnectionHandler
    ) throws {
        let path = configuration.webSocketPath
        let timeout = TimeAmount.nanoseconds(configuration.connectTimeout.nanoseconds)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: configuration.maxPacketSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                let protocols = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }
                guard head.uri.split(separator: "?").first.map(String.init) == path,
                    protocols.contains(mqttWebSocketSubprotocol)
                else { return channel.eventLoop.makeSucceededFuture(nil) }
                var headers = HTTPHeaders()
                headers.add(name: "Sec-WebSocket-Protocol", value: mqttWebSocketSubprotocol)
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    deadline.cancel()
                    // From here on the bytes are WebSocket frames: the HTTP refusal must not see them.
                    channel.pipeline.syncOperations.removeHandler(name: RefuseHTTP.name, promise: nil)
                    try channel.pipeline.syncOperations.addHandler(MQTTWebSocketFraming(role: .server))
                    try channel.pipeline.syncOperations.addHandler(session())
                }
            }
        )
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }),
            withErrorHandling: true
        )
        try channel.pipeline.syncOperations.addHandler(RefuseHTTP(path: path), name: RefuseHTTP.name)
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
            : "expected a WebSocket upgrade with subprotocol \(mqttWebSocketSubprotocol)\n"
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
