import NIOCore
import NIOPosix

/// Answers CONNECT with CONNACK 0, PINGREQ with PINGRESP and a QoS 1 PUBLISH with its PUBACK; checks nothing else.
/// Whole packets are cut from the stream by their fixed header, so reads that split or join packets are handled.
final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var pending: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if pending == nil { pending = bytes } else { pending!.writeBuffer(&bytes) }
        var out = context.channel.allocator.buffer(capacity: 0)
        while var b = pending, let (type, flags, body) = Self.packet(&b) {
            pending = b.readableBytes == 0 ? nil : b
            switch type {
            case 1: out.writeBytes([0x20, 0x02, 0x00, 0x00])
            case 12: out.writeBytes([0xD0, 0x00])
            case 3 where (flags >> 1) & 3 == 1:
                let topicLength = Int(body.getInteger(at: body.readerIndex, as: UInt16.self) ?? 0)
                let id = body.getInteger(at: body.readerIndex + 2 + topicLength, as: UInt16.self) ?? 0
                out.writeBytes([0x40, 0x02])
                out.writeInteger(id)
            case 14:
                context.close(promise: nil)
                return
            default: break
            }
        }
        if (pending?.readerIndex ?? 0) > 0 { pending!.discardReadBytes() }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    /// One whole packet's type, flags and body, or nil when more bytes are needed.
    static func packet(_ b: inout ByteBuffer) -> (UInt8, UInt8, ByteBuffer)? {
        let start = b.readerIndex
        guard let first: UInt8 = b.readInteger() else { return nil }
        var length = 0
        var shift = 0
        while true {
            guard let byte: UInt8 = b.readInteger(), shift <= 21 else {
                b.moveReaderIndex(to: start)
                return nil
            }
            length |= Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { break }
        }
        guard let body = b.readSlice(length: length) else {
            b.moveReaderIndex(to: start)
            return nil
        }
        return (first >> 4, first & 0x0F, body)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

let arguments = CommandLine.arguments
guard arguments.count == 2, let port = Int(arguments[1]) else {
    print("usage: nio-floor PORT   (e.g. nio-floor 21883: listens on 127.0.0.1)")
    exit(2)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
// The test hub's listener and connection options (Sources/FleetHub/TestHub.swift).
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
    .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 128, maximum: 65536))
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FloorHandler()) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("nio-floor listening on 127.0.0.1:\(port)")
try server.closeFuture.wait()
