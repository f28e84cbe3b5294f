import NIOCore
import Testing

@testable import FleetMQTT

@Suite("Codec round trips")
struct CodecRoundTripTests {
    static func samples(_ v: MQTTVersion) -> [MQTTPacket] {
        let props: MQTTProperties =
            v == .v5 ? [.userProperty("k", "v"), MQTTProperty(.contentType, .string("a/b"))] : []
        let will = MQTTWill(
            topic: "w",
            payload: ByteBuffer(bytes: [9]),
            qos: .atLeastOnce,
            retain: true,
            properties: v == .v5 ? [MQTTProperty(.willDelayInterval, .integer(5))] : []
        )
        var packets: [MQTTPacket] = [
            .connect(
                MQTTConnect(
                    version: v,
                    clientID: "dev",
                    cleanStart: false,
                    keepAliveSeconds: 30,
                    username: "u",
                    password: [0, 1, 2],
                    will: will,
                    properties: v == .v5
                        ? [
                            MQTTProperty(.sessionExpiryInterval, .integer(600)),
                            MQTTProperty(.receiveMaximum, .integer(16)),
                        ] : []
                )
            ),
            .connect(MQTTConnect(version: v, clientID: "bare")),
            .connack(
                MQTTConnAck(
                    sessionPresent: true,
                    code: v == .v5 ? 0x87 : 5,
                    properties: v == .v5 ? [MQTTProperty(.reasonString, .string("no"))] : []
                )
            ),
            .publish(
                MQTTPublish(
                    topic: "devices/d/messages/events/",
                    payload: ByteBuffer(string: "{}"),
                    qos: .atLeastOnce,
                    dup: true,
                    retain: true,
                    packetID: 65535,
                    properties: props
                )
            ),
            .publish(MQTTPublish(topic: "t", payload: ByteBuffer(), qos: .atMostOnce)),
            .publish(MQTTPublish(topic: "t2", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetID: 3)),
            .puback(MQTTAck(packetID: 1)),
            .pubrec(MQTTAck(packetID: 2)),
            .pubrel(MQTTAck(packetID: 3)),
            .pubcomp(MQTTAck(packetID: 4)),
            .subscribe(
                MQTTSubscribe(
                    packetID: 5,
                    subscriptions: [
                        MQTTSubscription(topicFilter: "devices/d/messages/devicebound/#", qos: .atLeastOnce),
                        MQTTSubscription(topicFilter: "$iothub/twin/res/#", qos: .atMostOnce),
                    ],
                    properties: v == .v5 ? [MQTTProperty(.subscriptionIdentifier, .integer(300))] : []
                )
            ),
            .suback(MQTTSubAck(packetID: 5, codes: [1, 0x80])),
            .unsubscribe(MQTTUnsubscribe(packetID: 6, topicFilters: ["a", "b"])),
            .unsuback(MQTTSubAck(packetID: 6, codes: v == .v5 ? [0, 0x11] : [])),
            .pingreq,
            .pingresp,
            .disconnect(MQTTReasonPacket()),
        ]
        if v == .v5 {
            packets += [
                .puback(
                    MQTTAck(packetID: 9, reasonCode: 0x97, properties: [MQTTProperty(.reasonString, .string("quota"))])
                ),
                .disconnect(
                    MQTTReasonPacket(reasonCode: 0x8E, properties: [MQTTProperty(.reasonString, .string("taken over"))])
                ),
                .disconnect(MQTTReasonPacket(reasonCode: 0x04)),
                .auth(
                    MQTTReasonPacket(
                        reasonCode: 0x18,
                        properties: [
                            MQTTProperty(.authenticationMethod, .string("SCRAM")),
                            MQTTProperty(.authenticationData, .binary([1, 2])),
                        ]
                    )
                ),
            ]
        }
        return packets
    }

    @Test("every packet type survives encode → decode", arguments: [MQTTVersion.v311, .v5])
    func roundTrip(version: MQTTVersion) throws {
        for packet in Self.samples(version) {
            let bytes = try MQTTEncoder(version: version).encode(packet)
            var buffer = bytes
            var decoder = MQTTDecoder(version: version)
            let decoded = try decoder.decode(buffer: &buffer)
            #expect(decoded == packet, "\(packet.type) \(version)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("a stream of all packets decodes the same byte by byte", arguments: [MQTTVersion.v311, .v5])
    func streamByteByByte(version: MQTTVersion) throws {
        var stream = ByteBuffer()
        let packets = Self.samples(version).filter { if case .connect = $0 { return false } else { return true } }
        for p in packets { try MQTTEncoder(version: version).encode(p, into: &stream) }
        var decoder = MQTTDecoder(version: version)
        var partial = ByteBuffer()
        var out: [MQTTPacket] = []
        for byte in stream.readableBytesView {
            partial.writeInteger(byte)
            while let p = try decoder.decode(buffer: &partial) { out.append(p) }
        }
        #expect(out == packets)
    }

    @Test func auth311IsRejected() {
        #expect(throws: MQTTCodecError.self) {
            try MQTTEncoder(version: .v311).encode(.auth(MQTTReasonPacket()))
        }
    }
}
