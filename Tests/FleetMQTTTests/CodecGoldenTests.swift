import NIOCore
import Testing

@testable import FleetMQTT

/// Golden bytes written out from the MQTT 3.1.1 and 5.0 specifications' packet layouts.
@Suite("Codec golden bytes")
struct CodecGoldenTests {
    static func encode(_ p: MQTTPacket, _ v: MQTTVersion) throws -> [UInt8] {
        Array(try MQTTEncoder(version: v).encode(p).readableBytesView)
    }

    static func decode(_ bytes: [UInt8], _ v: MQTTVersion) throws -> MQTTPacket? {
        var d = MQTTDecoder(version: v)
        var b = ByteBuffer(bytes: bytes)
        return try d.decode(buffer: &b)
    }

    @Test func fixedSmallPackets() throws {
        #expect(try Self.encode(.pingreq, .v311) == [0xC0, 0x00])
        #expect(try Self.encode(.pingresp, .v311) == [0xD0, 0x00])
        #expect(try Self.encode(.disconnect(MQTTReasonPacket()), .v311) == [0xE0, 0x00])
        #expect(try Self.encode(.disconnect(MQTTReasonPacket()), .v5) == [0xE0, 0x00])
        #expect(try Self.encode(.connack(MQTTConnAck(code: 0)), .v311) == [0x20, 0x02, 0x00, 0x00])
        #expect(
            try Self.encode(.connack(MQTTConnAck(sessionPresent: true, code: 5)), .v311) == [0x20, 0x02, 0x01, 0x05]
        )
        #expect(try Self.encode(.connack(MQTTConnAck(code: 0x87)), .v5) == [0x20, 0x03, 0x00, 0x87, 0x00])
        #expect(try Self.encode(.puback(MQTTAck(packetID: 0x1234)), .v311) == [0x40, 0x02, 0x12, 0x34])
        #expect(
            try Self.encode(.puback(MQTTAck(packetID: 1, reasonCode: 0x97)), .v5) == [0x40, 0x03, 0x00, 0x01, 0x97]
        )
        #expect(try Self.encode(.pubrel(MQTTAck(packetID: 7)), .v311) == [0x62, 0x02, 0x00, 0x07])
    }

    @Test func connect311() throws {
        let c = MQTTConnect(
            version: .v311,
            clientID: "d1",
            cleanStart: true,
            keepAliveSeconds: 60,
            username: "u",
            password: Array("p".utf8)
        )
        let expected: [UInt8] = [
            0x10, 20, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0xC2, 0x00, 0x3C,
            0x00, 0x02, 0x64, 0x31, 0x00, 0x01, 0x75, 0x00, 0x01, 0x70,
        ]
        #expect(try Self.encode(.connect(c), .v311) == expected)
        #expect(try Self.decode(expected, .v311) == .connect(c))
    }

    @Test func publishQoS1() throws {
        let p = MQTTPublish(topic: "a/b", payload: ByteBuffer(bytes: [1, 2]), qos: .atLeastOnce, packetID: 10)
        let expected: [UInt8] = [0x32, 9, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A, 0x01, 0x02]
        #expect(try Self.encode(.publish(p), .v311) == expected)
        #expect(try Self.decode(expected, .v311) == .publish(p))
    }

    @Test func subscribeAndSuback() throws {
        let s = MQTTSubscribe(packetID: 1, subscriptions: [MQTTSubscription(topicFilter: "a/#", qos: .atLeastOnce)])
        #expect(try Self.encode(.subscribe(s), .v311) == [0x82, 8, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x23, 0x01])
        #expect(try Self.encode(.suback(MQTTSubAck(packetID: 1, codes: [1])), .v311) == [0x90, 3, 0x00, 0x01, 0x01])
        #expect(
            try Self.encode(.suback(MQTTSubAck(packetID: 1, codes: [1])), .v5) == [0x90, 4, 0x00, 0x01, 0x00, 0x01]
        )
    }

    @Test func remainingLengthBoundaries() throws {
        for size in [0, 127, 128, 16383, 16384, 70000] {
            let p = MQTTPacket.publish(MQTTPublish(topic: "t", payload: ByteBuffer(repeating: 7, count: size)))
            var buffer = try MQTTEncoder(version: .v311).encode(p)
            let remaining = size + 3
            let headerLength = remaining < 128 ? 2 : remaining < 16384 ? 3 : 4
            #expect(buffer.readableBytes == headerLength + remaining)
            var d = MQTTDecoder(maxPacketSize: 1 << 20)
            #expect(try d.decode(buffer: &buffer) == p)
        }
    }
}
