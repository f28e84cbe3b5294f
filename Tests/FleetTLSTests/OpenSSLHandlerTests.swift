import FleetCore
import FleetHub
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetTLS

@Suite("OpenSSL handler: a device (client) and the hub (server), each over the system's OpenSSL")
struct OpenSSLHandlerTests {
    @Test("handshake, then bytes both ways, the handshake event once, no buffer held after")
    func handshakeAndBytesBothWays() throws {
        let pair = try TLSPair()
        try pair.settle()
        #expect(pair.clientHandshakeDone)
        #expect(pair.serverSink.handshakes == 1)
        try pair.client.writeAndFlush(ByteBuffer(string: "CONNECT")).wait()
        try pair.server.writeAndFlush(ByteBuffer(string: "CONNACK")).wait()
        try pair.settle()
        #expect(String(decoding: pair.serverSink.received, as: UTF8.self) == "CONNECT")
        #expect(String(decoding: pair.clientSink.received, as: UTF8.self) == "CONNACK")
        let handler = try pair.client.pipeline.syncOperations.handler(type: OpenSSLHandler.self)
        #expect(handler.heldBufferBytes == 0, "an idle connection holds no buffer")
        #expect(pair.clientSink.errors.isEmpty)
    }

    /// Seeded: random chunk sizes (1 byte to everything), random order of deliveries, writes (0 B to 40 KiB, so
    /// several records) and flushes on both sides, writes before the handshake is done. Every byte arrives once, in
    /// order, and every write's promise succeeds.
    @Test("random chunking and interleaving: every byte once, in order", arguments: 0..<40)
    func randomChunksAndInterleavings(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        // Each seed pairs our record layer with OpenSSL's on one side, the other, both or neither.
        let records = TLSPair.Records.allCases[Int(seed % 4)]
        let pair = try TLSPair(records: records)
        var sentByClient: [UInt8] = []
        var sentByServer: [UInt8] = []
        var promises: [EventLoopFuture<Void>] = []
        func message() -> [UInt8] {
            let size =
                Int.random(in: 0...3, using: &rng) == 0
                ? Int.random(in: 0...40_000, using: &rng)
                : Int.random(in: 0...300, using: &rng)
            return (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        for _ in 0..<200 {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0, 1: try pair.deliverToServer(Int.random(in: 1...2_000, using: &rng))
            case 2, 3: try pair.deliverToClient(Int.random(in: 1...2_000, using: &rng))
            case 4:
                let bytes = message()
                sentByClient += bytes
                promises.append(pair.client.write(ByteBuffer(bytes: bytes)))
                if Bool.random(using: &rng) { pair.client.flush() }
                try pair.collect()
            case 5:
                let bytes = message()
                sentByServer += bytes
                pair.server.write(ByteBuffer(bytes: bytes), promise: nil)
                if Bool.random(using: &rng) { pair.server.flush() }
                try pair.collect()
            default:
                pair.client.flush()
                pair.server.flush()
                try pair.collect()
            }
        }
        pair.client.flush()
        pair.server.flush()
        try pair.collect()
        try pair.settle()
        #expect(pair.clientHandshakeDone)
        #expect(try pair.clientHandler.protectsRecordsItself == (records == .both || records == .clientOnly))
        #expect(try pair.serverHandler.protectsRecordsItself == (records == .both || records == .serverOnly))
        let serverGot = pair.serverSink.received
        let clientGot = pair.clientSink.received
        let serverSame = serverGot == sentByClient
        let clientSame = clientGot == sentByServer
        #expect(serverSame, "seed \(seed): server got \(serverGot.count) of \(sentByClient.count) B")
        #expect(clientSame, "seed \(seed): client got \(clientGot.count) of \(sentByServer.count) B")
        for future in promises { try future.wait() }
        #expect(pair.clientSink.errors.isEmpty && pair.serverSink.errors.isEmpty)
        // Closing: the client's close_notify reaches the server, which closes cleanly.
        try pair.client.close().wait()
        try pair.collect()
        try pair.deliverToServer(.max)
        #expect(pair.clientSink.errors.isEmpty, "our own close is not an error")
        #expect(!pair.server.isActive, "the server saw close_notify and closed")
    }

    @Test("the server's close_notify closes the device's channel without an error", arguments: TLSPair.Records.allCases)
    func serverCloseNotify(records: TLSPair.Records) throws {
        let pair = try TLSPair(records: records)
        try pair.settle()
        // The hub's close sends close_notify and closes at once (it does not wait for the answer, as IoT Hub).
        let closed = pair.server.close()
        try pair.collect()
        try pair.deliverToClient(.max)
        #expect(!pair.client.isActive)
        #expect(pair.clientSink.errors.isEmpty, "\(pair.clientSink.errors)")
        try pair.deliverToServer(.max)
        try closed.wait()
    }

    @Test("a close without close_notify, after or during the handshake, is an unclean shutdown")
    func uncleanShutdown() throws {
        for handshakeDone in [true, false] {
            let pair = try TLSPair()
            if handshakeDone { try pair.settle() } else { try pair.deliverToServer(.max) }
            pair.client.pipeline.fireChannelInactive()
            #expect(pair.clientSink.openSSLErrors.map(\.kind) == [.uncleanShutdown])
        }
    }

    @Test("writes made before the handshake wait for it, in order, and their promises succeed")
    func writesBeforeHandshake() throws {
        let pair = try TLSPair()
        let first = pair.client.write(ByteBuffer(string: "one,"))
        let second = pair.client.writeAndFlush(ByteBuffer(string: "two"))
        try pair.settle()
        try first.wait()
        try second.wait()
        #expect(String(decoding: pair.serverSink.received, as: UTF8.self) == "one,two")
    }

    @Test(
        "verification: a certificate from another CA, for another name, or expired is untrusted; the hub's IP passes",
        arguments: ["other CA", "other name", "expired", "IP in the certificate", "IP not in it", "no name"]
    )
    func verification(case name: String) throws {
        let pair: TLSPair
        var trusted = false
        switch name {
        case "other CA":
            pair = try TLSPair(trust: try HubCertificates.generate(host: "hub.test").caPEM)
        case "other name":
            pair = try TLSPair(name: "evil.test")
        case "expired":
            let now = Date()
            let bundle = try HubCertificates.generate(
                host: "hub.test",
                serverValidity: (now - 2 * 86400)..<(now - 86400)
            )
            pair = try TLSPair(bundle: bundle)
        case "IP in the certificate":
            pair = try TLSPair(name: "127.0.0.1")
            trusted = true
        case "IP not in it":
            pair = try TLSPair(name: "10.1.2.3")
        default:
            // No name to check: the chain alone decides (used only when the hub's address is all we know).
            pair = try TLSPair(name: nil)
            trusted = true
        }
        try pair.settle()
        if trusted {
            #expect(pair.clientHandshakeDone && pair.clientSink.errors.isEmpty, "\(name): \(pair.clientSink.errors)")
        } else {
            #expect(!pair.clientHandshakeDone)
            #expect(pair.clientSink.openSSLErrors.map(\.kind) == [.untrusted], "\(name): \(pair.clientSink.errors)")
            #expect(!pair.client.isActive, "\(name): the device's channel closed")
            #expect(!pair.serverSink.errors.isEmpty, "\(name): the server heard the alert")
        }
    }

    @Test("bytes that are not TLS from the server end the handshake with an error, not a trap", arguments: 0..<20)
    func garbageFromServer(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let pair = try TLSPair()
        let garbage = (0..<Int.random(in: 1...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try pair.client.writeInbound(ByteBuffer(bytes: garbage))
        try pair.collect()
        // A prefix that could still become a record leaves the handshake waiting; anything else fails it.
        let kinds = pair.clientSink.openSSLErrors.map(\.kind)
        #expect(kinds.isEmpty || kinds == [.handshake], "seed \(seed): \(kinds)")
        #expect(kinds.isEmpty == pair.client.isActive)
    }

    @Test("bytes that are not TLS from a client end the hub's side with an error, not a trap", arguments: 0..<20)
    func garbageFromClient(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let pair = try TLSPair()
        pair.toServer = []
        let garbage = (0..<Int.random(in: 1...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try pair.server.writeInbound(ByteBuffer(bytes: garbage))
        try pair.collect()
        let kinds = pair.serverSink.openSSLErrors.map(\.kind)
        #expect(kinds.isEmpty || kinds == [.handshake], "seed \(seed): \(kinds)")
        #expect(kinds.isEmpty == pair.server.isActive)
        #expect(pair.serverSink.handshakes == 0 && pair.serverSink.received.isEmpty)
    }

    @Test("a handshake that fails closes the channel and, once the handler is removed, nothing of it is kept")
    func failedHandshakeFreesTheHandler() throws {
        weak var kept: OpenSSLHandler?
        try {
            let pair = try TLSPair()
            kept = try pair.server.pipeline.syncOperations.handler(type: OpenSSLHandler.self)
            // A ClientHello that claims 12 MB: OpenSSL refuses it (excessive message size) and the handler closes.
            try pair.server.writeInbound(ByteBuffer(bytes: [22, 3, 1, 0, 8, 1, 0xC0, 0x13, 0, 0, 0, 0, 0]))
            #expect(!pair.server.isActive)
            #expect(pair.serverSink.openSSLErrors.map(\.kind) == [.handshake])
            pair.server.embeddedEventLoop.run()
            _ = try? pair.client.finish()
        }()
        #expect(kept == nil, "the handler (and its SSL object) outlived its channel")
    }

    @Test("a CA file with no certificate is refused when the context is made")
    func notPEM() {
        #expect(throws: OpenSSLError.self) { try OpenSSLContext(trustingPEM: "not a certificate") }
        #expect(throws: OpenSSLError.self) { try OpenSSLContext(trustingPEM: "") }
    }

    @Test("a server context needs a certificate and the key that belongs to it; errors never quote the key")
    func serverContextChecksItsKey() throws {
        let a = try HubCertificates.generate(host: "hub.test")
        let b = try HubCertificates.generate(host: "hub.test")
        _ = try OpenSSLContext(certificateChainPEM: a.serverPEM, keyPEM: a.serverKeyPEM)
        for (chain, key, problem) in [
            (a.serverPEM, b.serverKeyPEM, "does not match"), ("", a.serverKeyPEM, "certificate chain"),
            (a.serverPEM, "not a key", "private key"), (a.serverKeyPEM, a.serverKeyPEM, "certificate chain"),
        ] {
            do {
                _ = try OpenSSLContext(certificateChainPEM: chain, keyPEM: key)
                Issue.record("accepted: \(problem)")
            } catch {
                #expect(error.kind == .configuration && error.detail.contains(problem), "\(error)")
                #expect(!error.description.contains("PRIVATE KEY"))
            }
        }
    }
}

/// A device handler that closes its channel on the first bytes it reads (as ours does on a malformed packet).
final class CloseOnRead: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var reads = 0
    var inactive = false
    /// Whether channelInactive had already passed by when `close` returned inside the read.
    var inactiveInsideRead = false
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reads += 1
        context.close(promise: nil)
        inactiveInsideRead = inactive
    }
    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        context.fireChannelInactive()
    }
}

@Suite("OpenSSL handler: closes from above")
struct OpenSSLHandlerCloseTests {
    @Test(
        "a handler above closes the channel from inside a read: the TLS handler goes on safely and sends close_notify"
    )
    func closeInsideRead() throws {
        let pair = try TLSPair()
        try pair.settle()
        let closer = CloseOnRead()
        try pair.client.pipeline.syncOperations.addHandler(closer, position: .before(pair.clientSink))
        // Two records in one delivery: the close comes while the first is passed on.
        pair.server.write(ByteBuffer(string: "first"), promise: nil)
        pair.server.write(ByteBuffer(string: "second"), promise: nil)
        pair.server.flush()
        try pair.collect()
        try pair.deliverToClient(.max)
        #expect(closer.reads == 1)
        #expect(closer.inactiveInsideRead, "the channel went inactive inside the TLS handler's read")
        #expect(!pair.client.isActive)
        #expect(pair.clientSink.errors.isEmpty, "\(pair.clientSink.errors)")
        try pair.deliverToServer(.max)
        #expect(!pair.server.isActive, "the server got close_notify and closed")
    }
}
