import FleetTLS
import NIOCore
import NIOEmbedded

/// TLS 1.3 after a real handshake (`tls-records`): a device whose handler runs the record layer itself, and a server
/// on OpenSSL's record layer or on ours (the input's first byte), both on EmbeddedChannels. The input then writes
/// both ways, delivers the server's records in any chunks, flips bits in them, slips garbage between them, asks
/// for key updates and closes. Nothing may trap; the device's plaintext is always a prefix of what the server wrote,
/// and all of it when nothing was tampered with; no buffer outlives the channel.
enum TLSRecordsHarness {
    final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var received: [UInt8] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += Array(buffer: unwrapInboundIn(data))
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {}
    }

    static let client: OpenSSLContext? = TLSHarness.bundle.flatMap {
        try? OpenSSLContext(trustingPEM: $0.caPEM, protectsRecordsItself: true)
    }
    static let servers: [OpenSSLContext] = [true, false].compactMap { ours in
        TLSHarness.bundle.flatMap {
            try? OpenSSLContext(
                certificateChainPEM: $0.serverPEM,
                keyPEM: $0.serverKeyPEM,
                protectsRecordsItself: ours
            )
        }
    }

    static func run(_ input: [UInt8]) -> String? {
        guard let clientContext = client, servers.count == 2 else { return "cannot make the fuzz certificates" }
        var bytes = FuzzBytes(input)
        let device = EmbeddedChannel()
        let hub = EmbeddedChannel()
        let deviceSink = Sink()
        let hubSink = Sink()
        let handler = OpenSSLHandler(context: clientContext, serverName: "fuzz.local")
        do {
            try hub.pipeline.syncOperations.addHandlers([
                OpenSSLHandler(context: servers[Int(bytes.byte() % 2)]), hubSink,
            ])
            try device.pipeline.syncOperations.addHandlers([handler, deviceSink])
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: 8883)
            try hub.connect(to: address).wait()
            try device.connect(to: address).wait()
        } catch {
            return "setup failed: \(error)"
        }
        var toDevice: [UInt8] = []
        var toHub: [UInt8] = []
        func collect() {
            while let b = try? device.readOutbound(as: ByteBuffer.self) { toHub += Array(buffer: b) }
            while let b = try? hub.readOutbound(as: ByteBuffer.self) { toDevice += Array(buffer: b) }
        }
        func deliver(toDevice n: Int) {
            collect()
            let chunk = Array(toDevice.prefix(n))
            toDevice.removeFirst(chunk.count)
            if !chunk.isEmpty, device.isActive { _ = try? device.writeInbound(ByteBuffer(bytes: chunk)) }
            collect()
        }
        func deliverToHub() {
            collect()
            while !toHub.isEmpty, hub.isActive {
                let chunk = toHub
                toHub = []
                _ = try? hub.writeInbound(ByteBuffer(bytes: chunk))
                collect()
            }
        }
        // The handshake, settled.
        for _ in 0..<8 {
            deliverToHub()
            deliver(toDevice: .max)
        }
        guard handler.protectsRecordsItself else { return "the device did not take over its records after TLS 1.3" }
        var sentByHub: [UInt8] = []
        var sentByDevice: [UInt8] = []
        var tampered = false
        var hubClosed = false
        while !bytes.isEmpty, device.isActive {
            switch bytes.byte() % 8 {
            case 0:
                let chunk = bytes.chunk(limit: 200)
                if hub.isActive, !hubClosed {
                    sentByHub += chunk
                    hub.writeAndFlush(ByteBuffer(bytes: chunk), promise: nil)
                }
            case 1:
                deliver(toDevice: Int(bytes.byte()) * 4 + 1)
            case 2:
                collect()
                if !toDevice.isEmpty {
                    let at = Int(bytes.byte()) % toDevice.count
                    toDevice[at] ^= 1 << (bytes.byte() % 8)
                    tampered = true
                }
            case 3:
                collect()
                toDevice += bytes.chunk(limit: 64)
                tampered = true
            case 4:
                if hub.isActive, !hubClosed {
                    hub.pipeline.triggerUserOutboundEvent(
                        TLSKeyUpdate(requestingPeer: bytes.byte() % 2 == 0),
                        promise: nil
                    )
                }
            case 5:
                let chunk = bytes.chunk(limit: 200)
                sentByDevice += chunk
                device.writeAndFlush(ByteBuffer(bytes: chunk), promise: nil)
                deliverToHub()
            case 6:
                device.pipeline.triggerUserOutboundEvent(
                    TLSKeyUpdate(requestingPeer: bytes.byte() % 2 == 0),
                    promise: nil
                )
                deliverToHub()
            default:
                if hub.isActive, !hubClosed {
                    hubClosed = true
                    hub.close(promise: nil)
                }
            }
        }
        for _ in 0..<4 {
            deliverToHub()
            deliver(toDevice: .max)
        }
        let got = deviceSink.received
        guard got.count <= sentByHub.count, Array(sentByHub.prefix(got.count)) == got else {
            return "the device read \(got.count) bytes that the hub did not write in that order"
        }
        if !tampered, got != sentByHub {
            return "the device read \(got.count) of the \(sentByHub.count) bytes the hub wrote, nothing tampered"
        }
        if !tampered, !hubClosed, hubSink.received != sentByDevice {
            return "the hub read \(hubSink.received.count) of the \(sentByDevice.count) bytes the device wrote"
        }
        _ = try? device.finish()
        device.embeddedEventLoop.run()
        _ = try? hub.finish()
        hub.embeddedEventLoop.run()
        if handler.heldBufferBytes > 0 { return "\(handler.heldBufferBytes) bytes held after the channel closed" }
        return nil
    }
}
