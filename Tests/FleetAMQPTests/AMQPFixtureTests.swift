import Foundation
import NIOCore
import Testing

@testable import FleetAMQP

/// Bytes written by Qpid Proton 0.40 (scripts/record-amqp-fixtures.py): its codec's encoding of each AMQP type, and
/// both directions of a real session between a Proton client and Proton's example broker.
enum ProtonFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures"
    )

    static func values() throws -> [String: [UInt8]] {
        let data = try Data(contentsOf: directory.appendingPathComponent("values.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let hex = try #require(object["values"] as? [String: String])
        return hex.mapValues { string in
            var bytes: [UInt8] = []
            var i = string.startIndex
            while i < string.endIndex {
                let next = string.index(i, offsetBy: 2)
                bytes.append(UInt8(string[i..<next], radix: 16)!)
                i = next
            }
            return bytes
        }
    }

    static func stream(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func decodeAll(_ bytes: [UInt8]) throws -> [AMQPInbound] {
        var decoder = AMQPFrameDecoder()
        var buffer = ByteBuffer(bytes: bytes)
        var out: [AMQPInbound] = []
        while let item = try decoder.decode(buffer: &buffer) { out.append(item) }
        #expect(buffer.readableBytes == 0, "bytes left after the last frame")
        return out
    }
}

@Suite("AMQP bytes written by Qpid Proton")
struct AMQPFixtureTests {
    /// What each recorded encoding stands for (the recorder's source names the same values).
    static let expected: [String: AMQPValue] = [
        "null": .null, "true": .bool(true), "false": .bool(false), "ubyte-200": .ubyte(200),
        "ushort-60000": .ushort(60000), "uint-0": .uint(0), "uint-7": .uint(7), "uint-70000": .uint(70000),
        "ulong-0": .ulong(0), "ulong-9": .ulong(9), "ulong-big": .ulong((1 << 40) + 3), "byte--5": .byte(-5),
        "short--300": .short(-300), "int--2": .int(-2), "int-100000": .int(100000), "long--3": .long(-3),
        "long-big": .long(-(1 << 40)), "float-1.5": .float(Float(1.5)), "double-21.7": .double(21.7),
        "char-euro": .char(0x20AC), "timestamp": .timestamp(1_796_540_400_000),
        "uuid": .uuid([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]),
        "binary-short": .binary([0, 1, 255]), "binary-300": .binary(Array(0...255) + [UInt8](repeating: 0, count: 44)),
        "string-short": .string("dev-17 °C"), "string-300": .string(String(repeating: "x", count: 300)),
        "symbol": .symbol("amqp:not-found"), "decimal32": .decimal32(0x0102_0304),
        "decimal64": .decimal64(0x0102_0304_0506_0708), "decimal128": .decimal128(Array(0..<16)),
        "list-empty": .list([]), "list-mixed": .list([.uint(1), .string("two"), .symbol("three"), .null, .bool(true)]),
        "map": .map([.symbol("x-opt-lock-token"): .uuid([UInt8](repeating: 0, count: 15) + [1]), .string("n"): .int(3)]
        ),
        "array-symbols": .array([.symbol("ANONYMOUS"), .symbol("PLAIN")]),
        "array-ints": .array([.int(1), .int(-1), .int(100000)]),
        "described-list": .described(.code(0x24), .list([])),
        "described-symbolic": .described(.name("com.example:thing"), .string("v")),
        "nested": .map([.string("a"): .list([.uint(1), .map([.string("b"): .list([.symbol("c")])])])]),
    ]

    @Test("each of Proton's encodings decodes to the value it stands for, and ours decodes back to it")
    func values() throws {
        let recorded = try ProtonFixtures.values()
        #expect(Set(recorded.keys) == Set(Self.expected.keys), "fixture and test name the same values")
        for (name, bytes) in recorded.sorted(by: { $0.key < $1.key }) {
            var buffer = ByteBuffer(bytes: bytes)
            let value = try AMQPValue.decode(from: &buffer)
            #expect(buffer.readableBytes == 0, "\(name): bytes left")
            #expect(value == Self.expected[name], "\(name)")
            var ours = ByteBuffer()
            try value.encode(into: &ours)
            #expect(try AMQPValue.decode(from: &ours) == value, "\(name): our encoding")
        }
    }

    @Test("our encoding of a scalar is byte-for-byte Proton's where both pick the same width")
    func sameBytes() throws {
        let recorded = try ProtonFixtures.values()
        // Lists, maps and arrays differ by design (we always write the 32-bit form); scalars must not.
        for name in [
            "null", "true", "false", "uint-0", "uint-7", "uint-70000", "ulong-0", "ulong-9", "ulong-big",
            "int--2", "long--3", "string-short", "string-300", "symbol", "binary-short", "binary-300",
            "timestamp", "uuid", "double-21.7", "char-euro",
        ] {
            var ours = ByteBuffer()
            try #require(Self.expected[name]).encode(into: &ours)
            #expect(Array(ours.readableBytesView) == recorded[name], "\(name)")
        }
    }

    @Test("a client's side of a real session: SASL ANONYMOUS, open, a sender link, two messages, a receiver link")
    func clientSession() throws {
        let items = try ProtonFixtures.decodeAll(try ProtonFixtures.stream("session-client.bin"))
        #expect(items.first == .header(.sasl))
        guard case .frame(let initFrame) = items[1], case .sasl(.initial(let mechanism, _, _)) = initFrame.body else {
            Issue.record("second item is not sasl-init: \(items[1])")
            return
        }
        #expect(mechanism == "ANONYMOUS")
        #expect(items[2] == .header(.amqp))
        let performatives = items.compactMap { item -> AMQPPerformative? in
            if case .frame(let f) = item, case .performative(let p) = f.body { return p }
            return nil
        }
        guard case .open(let open) = performatives.first else {
            Issue.record("no open first")
            return
        }
        #expect(open.containerID == "fixture-client")
        #expect(open.hostname == "127.0.0.1")
        let attaches = performatives.compactMap { p -> AMQPPerformative.Attach? in
            if case .attach(let a) = p { return a } else { return nil }
        }
        #expect(attaches.map(\.name) == ["telemetry", "c2d"])
        #expect(attaches.first?.role == .sender)
        #expect(attaches.first?.target?.address == "devices/dev-17/messages/events")
        #expect(attaches.last?.source?.address == "devices/dev-17/messages/events")
        let transfers = performatives.compactMap { p -> AMQPPerformative.Transfer? in
            if case .transfer(let t) = p { return t } else { return nil }
        }
        #expect(transfers.count == 2)
        var first = try #require(transfers.first).payload
        let message = try AMQPMessage.decode(from: &first)
        #expect(message.properties?.messageID == .string("msg-1"))
        #expect(message.properties?.correlationID == .string("corr-1"))
        #expect(message.properties?.contentType == "application/json")
        #expect(message.properties?.contentEncoding == "utf-8")
        #expect(message.applicationProperties?[string: "temperature-alert"] == .string("true"))
        #expect(message.body == .data([Array(#"{"deviceId":"dev-17","seq":42,"temperature":21.7}"#.utf8)]))
        var second = transfers[1].payload
        let value = try AMQPMessage.decode(from: &second)
        #expect(value.properties?.messageID == .ulong(2))
        #expect(value.body == .value(.string("hello from proton")))
        #expect(performatives.last.map { if case .close = $0 { true } else { false } } == true)
    }

    @Test("the broker's side: mechanisms, outcome ok, open, accepted dispositions, the two messages delivered back")
    func serverSession() throws {
        let items = try ProtonFixtures.decodeAll(try ProtonFixtures.stream("session-server.bin"))
        #expect(items.first == .header(.sasl))
        let sasl = items.compactMap { item -> AMQPSASLFrame? in
            if case .frame(let f) = item, case .sasl(let s) = f.body { return s } else { return nil }
        }
        guard case .mechanisms(let offered) = sasl.first else {
            Issue.record("no mechanisms first")
            return
        }
        #expect(offered.contains("ANONYMOUS"))
        #expect(sasl.last == .outcome(.ok, additionalData: nil))
        let performatives = items.compactMap { item -> AMQPPerformative? in
            if case .frame(let f) = item, case .performative(let p) = f.body { return p } else { return nil }
        }
        let accepted = performatives.filter {
            if case .disposition(let d) = $0, d.state == .accepted, d.role == .receiver { true } else { false }
        }
        #expect(!accepted.isEmpty, "the broker accepts the sender's messages")
        let delivered = performatives.compactMap { p -> AMQPMessage? in
            guard case .transfer(var t) = p else { return nil }
            return try? AMQPMessage.decode(from: &t.payload)
        }
        #expect(delivered.map(\.properties?.messageID) == [.string("msg-1"), .ulong(2)])
    }

    @Test("every recorded frame re-encodes to bytes that decode to the same frame; fed byte by byte, the same frames")
    func roundTripAndPartialFeeding() throws {
        for name in ["session-client.bin", "session-server.bin"] {
            let bytes = try ProtonFixtures.stream(name)
            let items = try ProtonFixtures.decodeAll(bytes)
            for case .frame(let frame) in items {
                var encoded = ByteBuffer()
                try frame.encode(into: &encoded)
                var decoder = AMQPFrameDecoder()
                decoder.expectsHeader = false
                #expect(try decoder.decode(buffer: &encoded) == .frame(frame), "\(name)")
            }
            var decoder = AMQPFrameDecoder()
            var buffer = ByteBuffer()
            var fed: [AMQPInbound] = []
            for byte in bytes {
                buffer.writeInteger(byte)
                while let item = try decoder.decode(buffer: &buffer) { fed.append(item) }
            }
            #expect(fed == items, "\(name) fed byte by byte")
        }
    }
}
