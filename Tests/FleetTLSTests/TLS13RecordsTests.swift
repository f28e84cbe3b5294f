import FleetCore
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetTLS

/// TLS 1.3's record layer run by the handler itself after the handshake (`TLS13Records`), against OpenSSL's own on
/// the other side of a `TLSPair` and against itself.
@Suite("TLS 1.3 records after the handshake: our record layer")
struct TLS13RecordsTests {
    private static func bytes(_ hex: String) -> [UInt8] {
        TLS13Secrets.bytes(hex: Substring(hex.replacingOccurrences(of: " ", with: ""))) ?? []
    }

    /// RFC 8448 §3 (Simple 1-RTT Handshake), "{server} derive write traffic keys for handshake data" and
    /// "{client} derive write traffic keys for handshake data": the traffic secrets and the key and IV expanded from
    /// them with HKDF-Expand-Label (TLS_AES_128_GCM_SHA256).
    @Test("HKDF-Expand-Label gives RFC 8448's keys and IVs")
    func rfc8448Keys() throws {
        let suite = try #require(TLS13Suite.with(id: 0x1301))
        let server = try #require(
            TrafficKeys(
                secret: Self.bytes(
                    "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38"
                ),
                suite: suite
            )
        )
        #expect(server.key == Self.bytes("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"))
        #expect(server.iv == Self.bytes("5d 31 3e b2 67 12 76 ee 13 00 0b 30"))
        let client = try #require(
            TrafficKeys(
                secret: Self.bytes(
                    "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21"
                ),
                suite: suite
            )
        )
        #expect(client.key == Self.bytes("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"))
        #expect(client.iv == Self.bytes("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"))
        // RFC 8446 §5.3: the nonce is the IV XOR the 64-bit sequence number, left-padded (…26 5f XOR …01 02).
        var next = client
        next.sequence = 0x0102
        #expect(next.nonce() == Self.bytes("5b d3 c7 1b 83 6e 0b 76 bb 73 27 5d"))
        #expect(TLS13Suite.with(id: 0x1304) == nil, "CCM stays with OpenSSL")
    }

    @Test(
        "after a TLS 1.3 handshake OpenSSL's connection object is gone and nothing is held",
        arguments: TLSPair.Records.allCases
    )
    func takesOver(records: TLSPair.Records) throws {
        let pair = try TLSPair(records: records)
        try pair.settle()
        try pair.client.writeAndFlush(ByteBuffer(string: "ping")).wait()
        try pair.server.writeAndFlush(ByteBuffer(string: "pong")).wait()
        try pair.settle()
        #expect(String(decoding: pair.serverSink.received, as: UTF8.self) == "ping")
        #expect(String(decoding: pair.clientSink.received, as: UTF8.self) == "pong")
        let client = try pair.clientHandler
        let server = try pair.serverHandler
        #expect(client.protectsRecordsItself == (records == .both || records == .clientOnly))
        #expect(server.protectsRecordsItself == (records == .both || records == .serverOnly))
        #expect(
            client.protectsRecordsItself == (client.ssl == nil),
            "the SSL object is freed exactly when we take over"
        )
        #expect(client.heldBufferBytes == 0 && server.heldBufferBytes == 0)
    }

    /// Either side asks for a key update (with or without asking the peer to update too), between writes both ways,
    /// three times over; every byte arrives, against OpenSSL's record layer or ours.
    @Test("key updates either way, asked for or not", arguments: TLSPair.Records.allCases)
    func keyUpdates(records: TLSPair.Records) throws {
        for fromClient in [true, false] {
            for requesting in [true, false] {
                let pair = try TLSPair(records: records)
                try pair.settle()
                var toServer = ""
                var toClient = ""
                for round in 0..<3 {
                    let up = "up \(round);"
                    let down = "down \(round);"
                    let updater = fromClient ? pair.client : pair.server
                    try updater.pipeline.triggerUserOutboundEvent(TLSKeyUpdate(requestingPeer: requesting)).wait()
                    try pair.client.writeAndFlush(ByteBuffer(string: up)).wait()
                    try pair.server.writeAndFlush(ByteBuffer(string: down)).wait()
                    toServer += up
                    toClient += down
                    try pair.settle()
                }
                let label = "\(records), from \(fromClient ? "client" : "server"), requesting \(requesting)"
                #expect(String(decoding: pair.serverSink.received, as: UTF8.self) == toServer, "\(label)")
                #expect(String(decoding: pair.clientSink.received, as: UTF8.self) == toClient, "\(label)")
                #expect(pair.clientSink.errors.isEmpty && pair.serverSink.errors.isEmpty, "\(label)")
            }
        }
    }

    /// One bit of a protected record flipped on the way: the device fails with a TLS error (not a trap, no
    /// plaintext of that record), sends bad_record_mac, and the server (OpenSSL's record layer or ours) fails on it.
    @Test("a tampered record fails the connection and tells the peer", arguments: [TLSPair.Records.both, .clientOnly])
    func tamperedRecord(records: TLSPair.Records) throws {
        let pair = try TLSPair(records: records)
        try pair.settle()
        try pair.server.writeAndFlush(ByteBuffer(string: "CONNACK")).wait()
        try pair.collect()
        #expect(pair.toClient.count == 5 + 7 + 1 + 16)
        pair.toClient[8] ^= 0x01
        try pair.deliverToClient(.max)
        #expect(pair.clientSink.received.isEmpty)
        #expect(pair.clientSink.openSSLErrors.map(\.kind) == [.handshake])
        #expect(!pair.client.isActive)
        try pair.deliverToServer(.max)
        #expect(!pair.serverSink.errors.isEmpty, "the server heard the alert")
        #expect(!pair.server.isActive)
    }

    /// Bytes that are not the peer's records, after a finished handshake: an error or a wait for more, never a
    /// trap or plaintext; once closed, nothing is held.
    @Test("garbage after the handshake: an error, never plaintext", arguments: 0..<20)
    func garbageAfterHandshake(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let pair = try TLSPair(records: .clientOnly)
        try pair.settle()
        let handler = try pair.clientHandler
        #expect(handler.protectsRecordsItself)
        var header: [UInt8] = [
            23, 3, 3, UInt8.random(in: 0...0x41, using: &rng), UInt8.random(in: 0...255, using: &rng),
        ]
        if seed % 4 == 0 { header[0] = UInt8.random(in: 0...255, using: &rng) }
        let body = (0..<Int.random(in: 0...3_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var rest = header + body
        while !rest.isEmpty, pair.client.isActive {
            let n = min(rest.count, Int.random(in: 1...700, using: &rng))
            try pair.client.writeInbound(ByteBuffer(bytes: rest.prefix(n)))
            rest.removeFirst(n)
        }
        #expect(pair.clientSink.received.isEmpty, "seed \(seed)")
        let length = Int(header[3]) << 8 | Int(header[4])
        let wholeRecord = header[0] == 23 && length <= 16_640 && length > 16 && body.count >= length
        if wholeRecord || header[0] != 23 || length > 16_640 || length <= 16 {
            #expect(!pair.client.isActive, "seed \(seed): a complete bad record fails the connection")
            #expect(pair.clientSink.openSSLErrors.map(\.kind) == [.handshake], "seed \(seed)")
        }
        _ = try? pair.client.finish()
        pair.client.embeddedEventLoop.run()
        #expect(handler.heldBufferBytes == 0, "seed \(seed)")
    }

    @Test("a record header claiming more than 2^14 + 256 bytes fails at once")
    func oversizedRecord() throws {
        let pair = try TLSPair(records: .clientOnly)
        try pair.settle()
        try pair.client.writeInbound(ByteBuffer(bytes: [23, 3, 3, 0x41, 0x01]))
        #expect(!pair.client.isActive)
        #expect(pair.clientSink.openSSLErrors.first?.detail.contains("16641 bytes") == true)
    }
}
