import Foundation
import NIOCore
import Testing

@testable import FleetMQTT

/// Byte streams recorded between real MQTT peers (mosquitto 2.0.11, paho-mqtt, the Azure Python SDK); copied from
/// ../shared/fixtures/mqtt-captures.
enum Captures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mqtt-captures")

    static func bytes(_ name: String, _ side: String) throws -> [UInt8] {
        let url = directory.appendingPathComponent(name).appendingPathComponent("conn1.\(side).bin")
        return Array(try Data(contentsOf: url))
    }

    /// Decodes a whole stream; a server-side decoder learns the version from CONNECT, a client-side one is told it.
    static func decodeAll(_ bytes: [UInt8], version: MQTTVersion = .v311) throws -> [MQTTPacket] {
        var decoder = MQTTDecoder(version: version)
        var buffer = ByteBuffer(bytes: bytes)
        var packets: [MQTTPacket] = []
        while let p = try decoder.decode(buffer: &buffer) { packets.append(p) }
        #expect(buffer.readableBytes == 0, "bytes left after the last packet")
        return packets
    }

    static func encodeAll(_ packets: [MQTTPacket], version: MQTTVersion) throws -> [UInt8] {
        var buffer = ByteBuffer()
        for p in packets { try MQTTEncoder(version: version).encode(p, into: &buffer) }
        return Array(buffer.readableBytesView)
    }
}

@Suite("Captures from real MQTT peers")
struct FixtureCaptureTests {
    static let cases: [(String, MQTTVersion, [MQTTPacketType], [MQTTPacketType])] = [
        ("mosquitto-pub-v311-qos1", .v311, [.connect, .publish, .disconnect], [.connack, .puback]),
        ("mosquitto-pub-v5-qos1-props", .v5, [.connect, .publish, .disconnect], [.connack, .puback]),
        ("mosquitto-sub-v5-c2d", .v5, [.connect, .subscribe, .puback, .disconnect], [.connack, .suback, .publish]),
        (
            "mosquitto-sub-v311-c2d", .v311, [.connect, .subscribe, .puback, .disconnect],
            [.connack, .suback, .publish]
        ),
        (
            "paho-v5-connect-publish-subscribe", .v5, [.connect, .publish, .subscribe, .disconnect],
            [.connack, .puback, .suback]
        ),
        ("azure-python-sdk-tls", .v311, [.connect, .publish, .disconnect], [.connack, .puback]),
    ]

    @Test("each capture decodes to the recorded packet sequence and re-encodes to the same bytes", arguments: 0..<6)
    func decodeAndReencode(index: Int) throws {
        let (name, version, clientTypes, serverTypes) = Self.cases[index]
        let client = try Captures.bytes(name, "client")
        let server = try Captures.bytes(name, "server")
        let fromClient = try Captures.decodeAll(client)
        let fromServer = try Captures.decodeAll(server, version: version)
        #expect(fromClient.map(\.type) == clientTypes)
        #expect(fromServer.map(\.type) == serverTypes)
        #expect(try Captures.encodeAll(fromClient, version: version) == client)
        #expect(try Captures.encodeAll(fromServer, version: version) == server)
    }

    @Test("byte-by-byte feeding yields the same packets as all at once", arguments: 0..<6)
    func byteByByte(index: Int) throws {
        let (name, _, _, _) = Self.cases[index]
        let client = try Captures.bytes(name, "client")
        let whole = try Captures.decodeAll(client)
        var decoder = MQTTDecoder()
        var buffer = ByteBuffer()
        var packets: [MQTTPacket] = []
        for byte in client {
            buffer.writeInteger(byte)
            while let p = try decoder.decode(buffer: &buffer) { packets.append(p) }
        }
        #expect(packets == whole)
    }

    @Test func azureSDKConnectFields() throws {
        let packets = try Captures.decodeAll(try Captures.bytes("azure-python-sdk-tls", "client"))
        guard case .connect(let c) = packets[0], case .publish(let p) = packets[1] else {
            Issue.record("expected CONNECT then PUBLISH")
            return
        }
        #expect(c.version == .v311)
        #expect(c.clientID == "dev-sdk-fixture")
        #expect(c.cleanStart == false)
        #expect(c.keepAliveSeconds == 60)
        #expect(c.username?.hasPrefix("localhost/dev-sdk-fixture/?api-version=2019-10-01") == true)
        let password = String(decoding: c.password ?? [], as: UTF8.self)
        #expect(password.hasPrefix("SharedAccessSignature sr=localhost%2Fdevices%2Fdev-sdk-fixture&sig="))
        #expect(p.qos == .atLeastOnce)
        #expect(p.topic.hasPrefix("devices/dev-sdk-fixture/messages/events/"))
    }

    @Test func mosquittoV5PublishProperties() throws {
        let packets = try Captures.decodeAll(try Captures.bytes("mosquitto-pub-v5-qos1-props", "client"))
        guard case .connect(let c) = packets[0], case .publish(let p) = packets[1] else {
            Issue.record("expected CONNECT then PUBLISH")
            return
        }
        #expect(c.properties.integer(.sessionExpiryInterval) == 3600)
        #expect(c.properties.integer(.receiveMaximum) == 20)
        #expect(p.properties.integer(.messageExpiryInterval) == 120)
        #expect(p.properties.string(.contentType) == "application/json")
        #expect(p.properties.userProperties.first.map { [$0.0, $0.1] } == ["seq", "7"])
    }
}
