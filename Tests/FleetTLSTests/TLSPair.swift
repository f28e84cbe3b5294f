import FleetHub
import FleetTLS
import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS

/// What reaches the end of one side's pipeline.
final class Sink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var received: [UInt8] = []
    var errors: [any Error] = []
    var handshakes = 0
    var inactive = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(buffer: unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { handshakes += 1 }
    }

    func channelInactive(context: ChannelHandlerContext) { inactive = true }

    var openSSLErrors: [OpenSSLError] { errors.compactMap { $0 as? OpenSSLError } }
}

/// Our OpenSSL client handler and swift-nio-ssl's server handler (BoringSSL: a TLS stack nobody here wrote), each on
/// an EmbeddedChannel; the test moves the ciphertext between them, in whatever chunks and order it likes.
final class TLSPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientSink = Sink()
    let serverSink = Sink()
    /// Ciphertext written by one side and not yet handed to the other.
    var toServer: [UInt8] = []
    var toClient: [UInt8] = []

    /// A fresh CA and server certificate for `host`; the client trusts `trust` (default: that CA) and asks for `name`.
    init(
        host: String = "hub.test",
        name: String? = "hub.test",
        bundle: HubCertificates.Bundle? = nil,
        trust: String? = nil
    ) throws {
        let bundle = try bundle ?? HubCertificates.generate(host: host)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(bundle.serverPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(bundle.serverKeyPEM.utf8), format: .pem))
        )
        configuration.minimumTLSVersion = .tlsv12
        let serverContext = try NIOSSLContext(configuration: configuration)
        try server.pipeline.syncOperations.addHandlers([NIOSSLServerHandler(context: serverContext), serverSink])
        let clientContext = try OpenSSLClientContext(trustingPEM: trust ?? bundle.caPEM)
        try client.pipeline.syncOperations.addHandlers([
            OpenSSLClientHandler(context: clientContext, serverName: name), clientSink,
        ])
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 8883)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
        try collect()
    }

    /// Gathers what each side has written.
    func collect() throws {
        while let b = try client.readOutbound(as: ByteBuffer.self) { toServer += Array(buffer: b) }
        while let b = try server.readOutbound(as: ByteBuffer.self) { toClient += Array(buffer: b) }
    }

    /// Hands up to `n` pending bytes to the server (or client); returns how many moved.
    @discardableResult
    func deliverToServer(_ n: Int) throws -> Int {
        guard server.isActive else { return 0 }
        let chunk = Self.take(n, from: &toServer)
        return try deliver(chunk, to: server)
    }

    @discardableResult
    func deliverToClient(_ n: Int) throws -> Int {
        guard client.isActive else { return 0 }
        let chunk = Self.take(n, from: &toClient)
        return try deliver(chunk, to: client)
    }

    private static func take(_ n: Int, from pending: inout [UInt8]) -> [UInt8] {
        let chunk = Array(pending.prefix(n))
        pending.removeFirst(chunk.count)
        return chunk
    }

    private func deliver(_ chunk: [UInt8], to channel: EmbeddedChannel) throws -> Int {
        guard !chunk.isEmpty else { return 0 }
        try channel.writeInbound(ByteBuffer(bytes: chunk))
        try collect()
        return chunk.count
    }

    /// Delivers everything both ways until nothing moves.
    func settle() throws {
        try collect()
        while try deliverToServer(.max) + deliverToClient(.max) > 0 {}
    }

    var clientHandshakeDone: Bool { clientSink.handshakes == 1 }
}
