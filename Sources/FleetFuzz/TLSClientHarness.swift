import FleetHub
import FleetTLS
import NIOCore
import NIOEmbedded

/// A device's TLS handler (OpenSSL) fed a server's bytes in the chunks the input says, with the device's writes and
/// flushes interleaved. Nothing may trap; the device sees no plaintext before a handshake, and none can complete
/// (the input cannot sign with the CA the device trusts); a failure closes the channel; no buffer outlives it.
enum TLSClientHarness {
    /// One CA for every input (making one per input would be most of the time spent).
    static let context: OpenSSLContext? = {
        guard let bundle = try? HubCertificates.generate(host: "fuzz.local") else { return nil }
        return try? OpenSSLContext(trustingPEM: bundle.caPEM)
    }()

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

    static func run(_ input: [UInt8]) -> String? {
        guard let context else { return "cannot make the fuzz CA" }
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
        if watch.handshakes > 0 { return "a handshake completed against a server that holds no trusted key" }
        if watch.plaintext > 0 { return "\(watch.plaintext) bytes of plaintext without a handshake" }
        _ = try? channel.finish()
        if handler.heldBufferBytes > 0 { return "\(handler.heldBufferBytes) bytes held after the channel closed" }
        return nil
    }
}
