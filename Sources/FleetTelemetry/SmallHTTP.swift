internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// What the run's two small HTTP servers (`--metrics`, `--ui`) share: a listener whose connections get NIO's
/// HTTP/1 server pipeline and one handler each, and a whole response written at once.
enum SmallHTTP {
    /// Listens on `host:port` on `group`; `handler` makes each connection's handler (on its event loop).
    static func listen(
        group: any EventLoopGroup,
        host: String,
        port: Int,
        handler: @escaping @Sendable () -> any ChannelHandler
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(handler())
                }
            }
            .bind(host: host, port: port).get()
    }

    /// Writes a response with `body` and its length, `type` and the `extra` headers.
    static func reply(
        _ context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        type: String,
        extra: [(String, String)] = [],
        body: [UInt8]
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }
}
