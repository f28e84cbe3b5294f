import NIOCore
import Testing

@testable import FleetAMQP

/// Random values and frames (seeded) through encode and decode: what we write, we (and so a peer) read back as the
/// same value, and a malformed or cut input is a typed error, never a trap.
@Suite("AMQP codec round trips and malformed input")
struct AMQPRoundTripTests {
    static func randomValue(_ rng: inout SplitMix64, depth: Int = 0) -> AMQPValue {
        let scalarKinds = 21
        let kind = Int.random(in: 0..<(depth < 3 ? scalarKinds + 5 : scalarKinds), using: &rng)
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        func text(_ n: Int) -> String {
            String((0..<n).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))) })
        }
        switch kind {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .ubyte(.random(in: .min ... .max, using: &rng))
        case 3: return .ushort(.random(in: .min ... .max, using: &rng))
        case 4: return .uint([0, 1, 255, 256, .max].randomElement(using: &rng)! &+ .random(in: 0...3, using: &rng))
        case 5: return .ulong(.random(in: .min ... .max, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
        case 6: return .byte(.random(in: .min ... .max, using: &rng))
        case 7: return .short(.random(in: .min ... .max, using: &rng))
        case 8: return .int(.random(in: -200...200, using: &rng) * (Bool.random(using: &rng) ? 1 : 100_000))
        case 9: return .long(.random(in: .min ... .max, using: &rng) >> Int64.random(in: 0...63, using: &rng))
        case 10: return .float(bits: .random(in: .min ... .max, using: &rng))
        case 11: return .double(bits: .random(in: .min ... .max, using: &rng))
        case 12: return .decimal32(.random(in: .min ... .max, using: &rng))
        case 13: return .decimal128(bytes(16))
        case 14: return .char(UInt32(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng)).value))
        case 15: return .timestamp(.random(in: -1_000_000...4_000_000_000_000, using: &rng))
        case 16: return .uuid(bytes(16))
        case 17: return .binary(bytes([0, 3, 255, 256, 700].randomElement(using: &rng)!))
        case 18:
            return .string(
                text([0, 5, 255, 256, 600].randomElement(using: &rng)!) + (Bool.random(using: &rng) ? "°" : "")
            )
        case 19: return .symbol(text([0, 4, 255, 300].randomElement(using: &rng)!))
        case 20: return .decimal64(.random(in: .min ... .max, using: &rng))
        case 21: return .list((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        case 22:
            return .map(
                AMQPMap(
                    (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                        AMQPMap.Entry(key: randomValue(&rng, depth: 3), value: randomValue(&rng, depth: depth + 1))
                    }
                )
            )
        case 23:
            // Arrays hold one type: repeat one generator's kind by drawing until the constructor matches.
            let first = randomValue(&rng, depth: depth + 1)
            var elements = [first]
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                for _ in 0..<50 {
                    let next = randomValue(&rng, depth: depth + 1)
                    if next.elementConstructor == first.elementConstructor, !next.isDescribed, !first.isDescribed {
                        elements.append(next)
                        break
                    }
                }
            }
            // Arrays of nulls (zero-width elements) are refused beyond one element, by both sides.
            return first.isDescribed || first == .null ? .array([]) : .array(elements)
        case 24:
            let descriptor: AMQPDescriptor =
                Bool.random(using: &rng) ? .code(.random(in: 0...0xFF, using: &rng)) : .name(text(8))
            return .described(descriptor, randomValue(&rng, depth: depth + 1))
        default:
            return .array([.described(.code(0x24), .list([])), .described(.code(0x24), .list([.uint(1)]))])
        }
    }

    @Test("random values: decode(encode(v)) == v, for 20 seeds × 200 values")
    func valuesRoundTrip() throws {
        for seed in UInt64(1)...20 {
            var rng = SplitMix64(seed: seed)
            for _ in 0..<200 {
                let value = Self.randomValue(&rng)
                var buffer = ByteBuffer()
                try value.encode(into: &buffer)
                let back = try AMQPValue.decode(from: &buffer)
                #expect(back == value, "seed \(seed)")
                #expect(buffer.readableBytes == 0)
            }
        }
    }

    @Test("every prefix of every encoded value is a typed error, never a trap, and never a different value")
    func truncations() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<100 {
            let value = Self.randomValue(&rng)
            var full = ByteBuffer()
            try value.encode(into: &full)
            let bytes = Array(full.readableBytesView)
            for cut in 0..<bytes.count {
                var prefix = ByteBuffer(bytes: bytes[0..<cut])
                #expect(throws: AMQPCodecError.self) { try AMQPValue.decode(from: &prefix) }
            }
        }
    }

    static func sampleFrames() -> [AMQPFrame] {
        var open = AMQPPerformative.Open(
            containerID: "dev-1",
            hostname: "hub.example",
            maxFrameSize: 65536,
            channelMax: 9,
            idleTimeOut: 240_000
        )
        open.offeredCapabilities = ["ANONYMOUS-RELAY"]
        open.desiredCapabilities = ["a", "b"]
        open.properties = [.symbol("product"): .string("fleetstorm")]
        var attach = AMQPPerformative.Attach(
            name: "$cbs-sender",
            handle: 0,
            role: .sender,
            senderSettleMode: 0,
            receiverSettleMode: 0,
            source: AMQPTerminus(address: "$cbs-sender"),
            target: AMQPTerminus(address: "$cbs"),
            initialDeliveryCount: 0
        )
        attach.maxMessageSize = 262_144
        attach.properties = [.symbol("com.microsoft:client-version"): .string("fleetstorm")]
        var flow = AMQPPerformative.Flow(
            nextIncomingID: 1,
            incomingWindow: 2048,
            nextOutgoingID: 0,
            outgoingWindow: 2048,
            handle: 0,
            deliveryCount: 0,
            linkCredit: 100
        )
        flow.echo = true
        var transfer = AMQPPerformative.Transfer(
            handle: 2,
            deliveryID: 7,
            deliveryTag: [0, 0, 0, 7],
            payload: ByteBuffer(bytes: [0x00, 0x53, 0x77, 0xA1, 0x01, 0x78])
        )
        transfer.more = true
        let rejected = AMQPError(
            condition: "amqp:resource-limit-exceeded",
            description: "throttled",
            info: [.symbol("retry-after"): .uint(5)]
        )
        return [
            AMQPFrame(.empty),
            .performative(.open(open)),
            .performative(
                .begin(
                    .init(
                        remoteChannel: 0,
                        nextOutgoingID: 1,
                        incomingWindow: 5000,
                        outgoingWindow: 5000,
                        handleMax: 255
                    )
                ),
                channel: 3
            ),
            .performative(.attach(attach), channel: 3),
            .performative(.flow(flow), channel: 3),
            .performative(.transfer(transfer), channel: 3),
            .performative(.disposition(.init(role: .receiver, first: 7, last: 9, settled: true, state: .accepted))),
            .performative(.disposition(.init(role: .receiver, first: 8, settled: true, state: .rejected(rejected)))),
            .performative(
                .disposition(
                    .init(
                        role: .sender,
                        first: 1,
                        settled: false,
                        state: .modified(
                            deliveryFailed: true,
                            undeliverableHere: nil,
                            annotations: nil
                        )
                    )
                )
            ),
            .performative(
                .disposition(
                    .init(
                        role: .sender,
                        first: 1,
                        settled: false,
                        state: .received(sectionNumber: 1, sectionOffset: 9)
                    )
                )
            ),
            .performative(.detach(.init(handle: 2, closed: true, error: rejected))),
            .performative(.end(nil)),
            .performative(.close(AMQPError(condition: "amqp:connection:forced"))),
            AMQPFrame(.sasl(.mechanisms(["MSSBCBS", "PLAIN", "ANONYMOUS"]))),
            AMQPFrame(
                .sasl(
                    .initial(
                        mechanism: "PLAIN",
                        initialResponse: Array("\0dev@sas.hub\0token".utf8),
                        hostname: "hub"
                    )
                )
            ),
            AMQPFrame(.sasl(.challenge([1, 2]))),
            AMQPFrame(.sasl(.response([]))),
            AMQPFrame(.sasl(.outcome(.auth, additionalData: nil))),
        ]
    }

    @Test("every performative and SASL frame round trips; each cut short is partial, never a frame or a trap")
    func framesRoundTrip() throws {
        for frame in Self.sampleFrames() {
            var buffer = ByteBuffer()
            try frame.encode(into: &buffer)
            let bytes = Array(buffer.readableBytesView)
            var decoder = AMQPFrameDecoder()
            decoder.expectsHeader = false
            #expect(try decoder.decode(buffer: &buffer) == .frame(frame))
            for cut in 0..<bytes.count {
                var d = AMQPFrameDecoder()
                d.expectsHeader = false
                var prefix = ByteBuffer(bytes: bytes[0..<cut])
                #expect(try d.decode(buffer: &prefix) == nil, "\(frame.body) cut at \(cut)")
            }
        }
    }

    @Test("the field-by-field writer gives the bytes the value encoder gives: transfers, dispositions, flows, 20 seeds")
    func fastPathSameBytes() throws {
        var performatives: [AMQPPerformative] = Self.sampleFrames().compactMap {
            if case .performative(let p) = $0.body { p } else { nil }
        }
        for seed in UInt64(1)...20 {
            var rng = SplitMix64(seed: seed)
            func maybe<T>(_ v: T) -> T? { Bool.random(using: &rng) ? v : nil }
            let states: [AMQPDeliveryState?] = [
                nil, .accepted, .released, .rejected(nil), .rejected(AMQPError(condition: "x", description: "y")),
                .modified(deliveryFailed: true, undeliverableHere: nil, annotations: [.symbol("k"): .int(1)]),
                .received(sectionNumber: 1, sectionOffset: 300),
            ]
            var t = AMQPPerformative.Transfer(
                handle: .random(in: 0...300, using: &rng),
                deliveryID: maybe(.random(in: 0...UInt32.max, using: &rng)),
                deliveryTag: maybe([1, 2, 3]),
                messageFormat: maybe(0),
                settled: maybe(Bool.random(using: &rng)),
                payload: ByteBuffer(bytes: [9, 9])
            )
            t.more = Bool.random(using: &rng)
            t.receiverSettleMode = maybe(1)
            t.state = states.randomElement(using: &rng)!
            t.resume = Bool.random(using: &rng)
            t.aborted = Bool.random(using: &rng)
            t.batchable = Bool.random(using: &rng)
            var d = AMQPPerformative.Disposition(
                role: Bool.random(using: &rng) ? .sender : .receiver,
                first: .random(in: 0...70_000, using: &rng),
                last: maybe(.random(in: 0...70_000, using: &rng)),
                settled: Bool.random(using: &rng),
                state: states.randomElement(using: &rng)!
            )
            d.batchable = Bool.random(using: &rng)
            var f = AMQPPerformative.Flow(
                nextIncomingID: maybe(7),
                incomingWindow: .random(in: 0...UInt32.max, using: &rng),
                nextOutgoingID: 0,
                outgoingWindow: 256,
                handle: maybe(3),
                deliveryCount: maybe(0),
                linkCredit: maybe(1000)
            )
            f.available = maybe(5)
            f.drain = Bool.random(using: &rng)
            f.echo = Bool.random(using: &rng)
            f.properties = maybe([.symbol("p"): .null])
            performatives += [.transfer(t), .disposition(d), .flow(f)]
        }
        for p in performatives {
            var fast = ByteBuffer()
            try p.encodeBody(into: &fast)
            var slow = ByteBuffer()
            try p.value.encode(into: &slow)
            if case .transfer(let t) = p {
                var payload = t.payload
                slow.writeBuffer(&payload)
            }
            #expect(fast == slow, "\(p.name)")
        }
    }

    @Test("a message with every section round trips; sections out of order or mixed bodies are refused")
    func messages() throws {
        var message = AMQPMessage(
            properties: .init(
                messageID: .string("m-1"),
                to: "/devices/d/messages/events",
                replyTo: "cbs",
                correlationID: .uuid(Array(0..<16)),
                contentType: "application/json",
                contentEncoding: "utf-8"
            ),
            applicationProperties: [.string("iothub-creation-time-utc"): .string("2026-12-06T07:00:00Z")],
            body: .data([Array("{}".utf8), [1, 2, 3]])
        )
        message.header = [.bool(true)]
        message.messageAnnotations = [.symbol("x-opt-lock-token"): .uuid(Array(0..<16))]
        message.deliveryAnnotations = [.symbol("k"): .null]
        message.properties?.creationTime = 1_796_540_400_000
        message.properties?.groupSequence = 4
        message.footer = [.symbol("f"): .int(1)]
        var buffer = ByteBuffer()
        try message.encode(into: &buffer)
        #expect(try AMQPMessage.decode(from: &buffer) == message)

        var reversed = ByteBuffer()
        try AMQPValue.described(.code(0x74), .map([:])).encode(into: &reversed)
        try AMQPValue.described(.code(0x73), .list([])).encode(into: &reversed)
        #expect(throws: AMQPCodecError.self) { try AMQPMessage.decode(from: &reversed) }

        var mixed = ByteBuffer()
        try AMQPValue.described(.code(0x75), .binary([1])).encode(into: &mixed)
        try AMQPValue.described(.code(0x77), .null).encode(into: &mixed)
        #expect(throws: AMQPCodecError.self) { try AMQPMessage.decode(from: &mixed) }
    }

    @Test("malformed frames name what is wrong: size, header, missing field, wrong type, nesting, counts")
    func malformed() throws {
        func frameError(_ bytes: [UInt8], header: Bool = false, max: Int = 1024) -> AMQPCodecError? {
            var d = AMQPFrameDecoder(maxFrameSize: max)
            d.expectsHeader = header
            var b = ByteBuffer(bytes: bytes)
            do {
                _ = try d.decode(buffer: &b)
                return nil
            } catch { return error }
        }
        #expect(
            frameError([0x48, 0x54, 0x54, 0x50, 0x2F, 0x31, 0x2E, 0x31], header: true)?.code == .invalidProtocolHeader
        )
        #expect(frameError([0x16, 0x03], header: true)?.code == .invalidProtocolHeader, "TLS bytes to a plain port")
        #expect(
            frameError([0x41, 0x4D, 0x51, 0x50, 0x01, 0x01, 0x00, 0x00], header: true)?.code == .invalidProtocolHeader
        )
        #expect(frameError([0xFF, 0xFF, 0xFF, 0xFF])?.code == .frameTooLarge, "refused from the size field alone")
        #expect(frameError([0, 0, 0, 4])?.code == .frameTooSmall)
        #expect(frameError([0, 0, 0, 8, 1, 0, 0, 0])?.code == .frameTooSmall, "data offset below 2 words")
        #expect(frameError([0, 0, 0, 8, 2, 9, 0, 0])?.code == .unknownFrameType)
        // An attach without its mandatory handle.
        var attach = ByteBuffer()
        try AMQPValue.described(.code(0x12), .list([.string("l")])).encode(into: &attach)
        let attachError = frameError(
            [0, 0, 0, UInt8(8 + attach.readableBytes), 2, 0, 0, 0] + Array(attach.readableBytesView)
        )
        #expect(attachError?.code == .missingField)
        #expect(attachError?.context == "attach.handle")
        var wrongType = ByteBuffer()
        try AMQPValue.described(.code(0x10), .list([.uint(1)])).encode(into: &wrongType)
        let openError = frameError(
            [0, 0, 0, UInt8(8 + wrongType.readableBytes), 2, 0, 0, 0] + Array(wrongType.readableBytesView)
        )
        #expect(openError?.code == .wrongFieldType)
        #expect(openError?.context == "open.container-id")

        // Nesting beyond the limit: 40 one-element lists inside each other.
        var nested = ByteBuffer()
        var value = AMQPValue.null
        for _ in 0..<40 { value = .list([value]) }
        try value.encode(into: &nested)
        #expect(throws: AMQPCodecError.self) { try AMQPValue.decode(from: &nested) }
        // A count larger than the bytes (list32 claiming 2^31 elements in 4 bytes).
        var bomb = ByteBuffer(bytes: [0xD0, 0, 0, 0, 8, 0x80, 0, 0, 0, 0x40, 0x40, 0x40, 0x40])
        #expect(throws: AMQPCodecError.self) { try AMQPValue.decode(from: &bomb) }
        var badUTF8 = ByteBuffer(bytes: [0xA1, 2, 0xC3, 0x28])
        #expect(throws: AMQPCodecError.self) { try AMQPValue.decode(from: &badUTF8) }
        var badSymbol = ByteBuffer(bytes: [0xA3, 1, 0xFF])
        #expect(throws: AMQPCodecError.self) { try AMQPValue.decode(from: &badSymbol) }
        var surrogate = ByteBuffer(bytes: [0x73, 0, 0, 0xD8, 0x00])
        #expect(throws: AMQPCodecError.self) { try AMQPValue.decode(from: &surrogate) }
        #expect(throws: AMQPCodecError.self) {
            var b = ByteBuffer()
            try AMQPValue.array([.uint(1), .string("x")]).encode(into: &b)
        }
        #expect(throws: AMQPCodecError.self, "the encoder refuses what the decoder would") {
            var b = ByteBuffer()
            try AMQPValue.array([.null, .null]).encode(into: &b)
        }
    }
}

extension AMQPValue {
    var isDescribed: Bool { if case .described = self { true } else { false } }
}

/// SplitMix64 (the same generator FleetCore's `SplitMix64` is; this target does not link FleetCore).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
