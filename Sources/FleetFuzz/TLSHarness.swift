import FleetHub
import FleetTLS
import NIOCore
import NIOEmbedded

/// Our TLS handler (OpenSSL) fed the peer's bytes in the chunks the input says, with its own writes and flushes
/// interleaved: a device's (`tls-client`: a server's bytes) or the hub's (`tls-server`: a client's bytes, the server
/// asking for a client certificate as it does for X.509 devices). Nothing may trap; no plaintext passes before a
/// handshake, and none can complete (the input cannot sign with a trusted key, nor finish a key exchange); a failure
/// closes the channel; no buffer outlives it.
enum TLSHarness {
    /// One CA and server certificate for every input (making them per input would be most of the time spent).
    static let bundle = try? HubCertificates.generate(host: "fuzz.local")
    static let clientContext: OpenSSLContext? = bundle.flatMap { try? OpenSSLContext(trustingPEM: $0.caPEM) }
    static let serverContext: OpenSSLContext? = bundle.flatMap {
        try? OpenSSLContext(certificateChainPEM: $0.serverPEM, keyPEM: $0.serverKeyPEM, clientCertificates: $0.caPEM)
    }

    final class Watch: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var plaintext = 0
        var handshakes = 0
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            plaintext += unwrapInboundIn(data).readableBytes
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) { handshakes += 1 }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {}
    }

    static func run(_ input: [UInt8], server: Bool) -> String? {
        guard let context = server ? serverContext : clientContext else { return "cannot make the fuzz certificates" }
        var bytes = FuzzBytes(input)
        let channel = EmbeddedChannel()
        let watch = Watch()
        let handler = OpenSSLHandler(context: context, serverName: "fuzz.local")
        do {
            try channel.pipeline.syncOperations.addHandlers([handler, watch])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8883)).wait()
        } catch {
            return "setup failed: \(error)"
        }
        while !bytes.isEmpty && channel.isActive {
            let choice = bytes.byte()
            switch choice % 8 {
            case 0:
                channel.write(ByteBuffer(bytes: bytes.chunk(limit: 64)), promise: nil)
            case 1:
                channel.flush()
            default:
                do { try channel.writeInbound(ByteBuffer(bytes: bytes.chunk())) } catch {}
            }
            while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
        }
        if watch.handshakes > 0 { return "a handshake completed with a peer that holds no trusted key" }
        if watch.plaintext > 0 { return "\(watch.plaintext) bytes of plaintext without a handshake" }
        // A channel the handler closed makes finish() throw before it runs the loop, and the loop's task is what
        // removes the handlers: without this run every failed handshake kept its handler and SSL object (52 KB an
        // input; the fuzzer ran out of memory).
        _ = try? channel.finish()
        channel.embeddedEventLoop.run()
        if handler.heldBufferBytes > 0 { return "\(handler.heldBufferBytes) bytes held after the channel closed" }
        return nil
    }
}
