import FleetHub
import FleetTLS
import Foundation
import NIOCore
import NIOEmbedded
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

/// Our TLS handler on both ends, a client (the devices') and a server (the hub's), each over the system's OpenSSL and
/// on an EmbeddedChannel; the test moves the ciphertext between them, in whatever chunks and order it likes. Peers
/// nobody here wrote are met over sockets (OpenSSLPeerTests: `openssl s_server`, mosquitto; the hub's TLS tests:
/// paho-mqtt, curl, the Azure SDK).
final class TLSPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientSink = Sink()
    let serverSink = Sink()
    /// Ciphertext written by one side and not yet handed to the other.
    var toServer: [UInt8] = []
    var toClient: [UInt8] = []

    /// Which sides run TLS 1.3's record layer themselves after the handshake (`TLS13Records`); the others keep
    /// OpenSSL's, so each side's records are also read by an implementation nobody here wrote.
    enum Records: CaseIterable { case both, clientOnly, serverOnly, neither }

    /// A fresh CA and server certificate for `host`; the client trusts `trust` (default: that CA) and asks for `name`.
    init(
        host: String = "hub.test",
        name: String? = "hub.test",
        bundle: HubCertificates.Bundle? = nil,
        trust: String? = nil,
        records: Records = .both
    ) throws {
        let bundle = try bundle ?? HubCertificates.generate(host: host)
        let serverContext = try OpenSSLContext(
            certificateChainPEM: bundle.serverPEM,
            keyPEM: bundle.serverKeyPEM,
            protectsRecordsItself: records == .both || records == .serverOnly
        )
        try server.pipeline.syncOperations.addHandlers([OpenSSLHandler(context: serverContext), serverSink])
        let clientContext = try OpenSSLContext(
            trustingPEM: trust ?? bundle.caPEM,
            protectsRecordsItself: records == .both || records == .clientOnly
        )
        try client.pipeline.syncOperations.addHandlers([
            OpenSSLHandler(context: clientContext, serverName: name), clientSink,
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

    var clientHandler: OpenSSLHandler {
        get throws { try client.pipeline.syncOperations.handler(type: OpenSSLHandler.self) }
    }
    var serverHandler: OpenSSLHandler {
        get throws { try server.pipeline.syncOperations.handler(type: OpenSSLHandler.self) }
    }
}
