import NIOCore
import Testing

@testable import FleetMQTT

@Suite("Codec rejects malformed input")
struct CodecMalformedTests {
    static let table: [(String, [UInt8], MQTTVersion, MQTTCodecError.Code)] = [
        ("remaining length over 4 bytes", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], .v311, .remainingLengthTooLong),
        ("QoS 3 publish", [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], .v311, .invalidQoS),
        ("PUBREL with flags 0", [0x60, 0x02, 0x00, 0x01], .v311, .invalidFixedHeaderFlags),
        ("SUBSCRIBE with flags 0", [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00], .v311, .invalidFixedHeaderFlags),
        ("PINGREQ with flags", [0xC1, 0x00], .v311, .invalidFixedHeaderFlags),
        ("zero packet id in PUBACK", [0x40, 0x02, 0x00, 0x00], .v311, .zeroPacketIdentifier),
        ("zero packet id in QoS 1 PUBLISH", [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00], .v311, .zeroPacketIdentifier),
        (
            "zero packet id in SUBSCRIBE", [0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00], .v311,
            .zeroPacketIdentifier
        ),
        ("invalid UTF-8 topic", [0x30, 0x04, 0x00, 0x02, 0xC3, 0x28], .v311, .invalidUTF8),
        ("U+0000 in topic", [0x30, 0x04, 0x00, 0x02, 0x61, 0x00], .v311, .invalidUTF8),
        ("packet type 0", [0x00, 0x00], .v311, .unknownPacketType),
        ("AUTH in 3.1.1", [0xF0, 0x00], .v311, .unsupportedInVersion),
        ("truncated PUBACK body", [0x40, 0x01, 0x00], .v311, .truncated),
        ("trailing bytes after PINGREQ", [0xC0, 0x01, 0x00], .v311, .trailingBytes),
        (
            "wrong protocol name",
            [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x58, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00], .v311,
            .invalidProtocol
        ),
        (
            "protocol level 3", [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x03, 0x02, 0x00, 0x3C, 0x00, 0x00],
            .v311, .invalidProtocol
        ),
        (
            "CONNECT reserved flag",
            [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x03, 0x00, 0x3C, 0x00, 0x00], .v311,
            .invalidConnectFlags
        ),
        (
            "will QoS 3", [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x1C, 0x00, 0x3C, 0x00, 0x00], .v311,
            .invalidQoS
        ),
        (
            "password without username (3.1.1)",
            [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x42, 0x00, 0x3C, 0x00, 0x00], .v311,
            .invalidConnectFlags
        ),
        ("wildcard in PUBLISH topic", [0x30, 0x03, 0x00, 0x01, 0x23], .v311, .invalidTopic),
        ("DUP on QoS 0", [0x38, 0x03, 0x00, 0x01, 0x61], .v311, .invalidFixedHeaderFlags),
        ("SUBSCRIBE without filters", [0x82, 0x02, 0x00, 0x01], .v311, .emptySubscription),
        ("subscription QoS 3", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03], .v311, .invalidQoS),
        ("unknown v5 property", [0x40, 0x05, 0x00, 0x01, 0x00, 0x01, 0x7F], .v5, .unknownProperty),
        ("v5 property list longer than packet", [0x40, 0x05, 0x00, 0x01, 0x00, 0x09, 0x1F], .v5, .truncated),
        ("CONNACK reserved flags", [0x20, 0x02, 0x02, 0x00], .v311, .invalidFixedHeaderFlags),
    ]

    @Test("malformed packet table", arguments: 0..<table.count)
    func malformed(index: Int) {
        let (name, bytes, version, code) = Self.table[index]
        var decoder = MQTTDecoder(version: version)
        var buffer = ByteBuffer(bytes: bytes)
        do {
            let p = try decoder.decode(buffer: &buffer)
            Issue.record("\(name): decoded \(String(describing: p)) instead of failing")
        } catch {
            #expect(error.code == code, "\(name): \(error)")
            #expect(buffer.readerIndex == 0, "a failed decode must not consume bytes")
        }
    }

    @Test func oversizedPacketIsRefusedFromItsHeader() {
        // 268,435,455 bytes announced; only the header has arrived.
        var decoder = MQTTDecoder(maxPacketSize: 1024)
        var buffer = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: MQTTCodecError(.packetTooLarge, packetType: .publish, detail: "268435460 > 1024 bytes")) {
            _ = try decoder.decode(buffer: &buffer)
        }
    }

    @Test func partialPacketsReturnNil() throws {
        var decoder = MQTTDecoder()
        for bytes: [UInt8] in [[], [0x30], [0x30, 0x80], [0x32, 0x05, 0x00, 0x01]] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(try decoder.decode(buffer: &buffer) == nil)
            #expect(buffer.readableBytes == bytes.count)
        }
    }
}

@Suite("Codec never crashes on random input")
struct CodecFuzzTests {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("seeded random bytes and mutated valid packets", arguments: [MQTTVersion.v311, .v5])
    func random(version: MQTTVersion) throws {
        var rng = SeededGenerator(state: 0xF1EE7 &+ UInt64(version.rawValue))
        let valid = try CodecRoundTripTests.samples(version).map {
            Array(try MQTTEncoder(version: version).encode($0).readableBytesView)
        }
        var decoded = 0
        var rejected = 0
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = valid[Int.random(in: 0..<valid.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            var decoder = MQTTDecoder(version: version, maxPacketSize: 4096)
            var buffer = ByteBuffer(bytes: bytes)
            do {
                while let packet = try decoder.decode(buffer: &buffer) {
                    decoded += 1
                    // Whatever decodes must encode again without trapping.
                    _ = try? MQTTEncoder(version: decoder.version).encode(packet)
                }
            } catch {
                rejected += 1
            }
        }
        #expect(decoded > 0)
        #expect(rejected > 0)
    }
}
