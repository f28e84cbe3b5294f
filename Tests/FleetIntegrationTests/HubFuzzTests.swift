import FleetCore
import FleetMQTT
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetHub
@testable import FleetHubCore

extension IntegrationTests {
    /// A seeded random harness over the hub's whole server pipeline (decoder → session → handler → encoder) on an
    /// embedded channel: random bytes and mutated valid streams never crash it, everything it writes decodes as MQTT,
    /// and nothing is written after it closes. Inputs that once broke something live in Fuzz/Corpus/hub-mqtt.
    @Suite("Hub pipeline fuzzing")
    struct HubFuzzTests {
        static let auth = HubAuthenticator(keys: .anonymous, hostName: "fuzz.local")

        /// Feeds `input` in chunks to a fresh hub connection; returns a description of a broken invariant, or nil.
        static func feed(_ input: [UInt8], chunk: Int) -> String? { run(input, chunk: chunk).problem }

        /// The same, also returning how many packets the hub wrote.
        static func run(_ input: [UInt8], chunk: Int) -> (problem: String?, packets: Int) {
            var configuration = HubConfiguration()
            configuration.auth = auth
            configuration.connectTimeout = .seconds(1)
            configuration.quotas = HubQuotas(tier: .s1, units: 1)
            let loop = EmbeddedEventLoop()
            let state = HubState(configuration: configuration)
            let channel = EmbeddedChannel(
                handler: HubConnectionHandler(state: state),
                loop: loop
            )
            guard let peer = try? SocketAddress(ipAddress: "127.0.0.1", port: 40000),
                (try? channel.connect(to: peer).wait()) != nil
            else { return ("embedded channel did not connect", 0) }
            var version = MQTTVersion.v311
            var probe = MQTTDecoder(version: .v311, maxPacketSize: 1 << 20)
            var copy = ByteBuffer(bytes: input)
            if case .connect(let c)? = try? probe.decode(buffer: &copy) { version = c.version }
            var out = MQTTDecoder(version: version, maxPacketSize: 1 << 20)
            var written = ByteBuffer()
            var offset = 0
            var closedAt: Int?
            while offset < input.count {
                let end = min(input.count, offset + chunk)
                if channel.isActive {
                    _ = try? channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
                }
                offset = end
                loop.advanceTime(by: .milliseconds(10))
                while var b = try? channel.readOutbound(as: ByteBuffer.self) {
                    if closedAt != nil { return ("wrote after close", 0) }
                    written.writeBuffer(&b)
                }
                if !channel.isActive && closedAt == nil { closedAt = offset }
            }
            loop.advanceTime(by: .seconds(40))  // connect timeout, idle timeout, delayed (shaped) writes
            while var b = try? channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&b) }
            var packets = 0
            do {
                while try out.decode(buffer: &written) != nil { packets += 1 }
            } catch {
                return ("hub wrote bytes that do not decode: \(error)", packets)
            }
            if written.readableBytes != 0 { return ("hub wrote a partial packet", packets) }
            _ = try? channel.finish()
            return (nil, packets)
        }

        static func validStream(_ rng: inout SplitMix64) -> [UInt8] {
            let v5 = rng.next() % 2 == 0
            let enc = MQTTEncoder(version: v5 ? .v5 : .v311)
            var b = ByteBuffer()
            let id = "dev-\(rng.next() % 100)"
            var connect = MQTTConnect(version: v5 ? .v5 : .v311, clientID: id)
            connect.keepAliveSeconds = UInt16(rng.next() % 5)
            try? enc.encode(.connect(connect), into: &b)
            for i in 0..<(rng.next() % 12) {
                let packet: MQTTPacket
                switch rng.next() % 7 {
                case 0:
                    packet = .publish(
                        MQTTPublish(
                            topic: "devices/\(id)/messages/events/%24.mid=\(i)",
                            payload: ByteBuffer(string: "{}"),
                            qos: .atLeastOnce,
                            packetID: UInt16(i + 1)
                        )
                    )
                case 1: packet = .publish(MQTTPublish(topic: "$iothub/twin/GET/?$rid=\(i)", payload: ByteBuffer()))
                case 2:
                    packet = .publish(
                        MQTTPublish(
                            topic: "$iothub/twin/PATCH/properties/reported/?$rid=\(i)",
                            payload: ByteBuffer(string: "{\"a\":1}")
                        )
                    )
                case 3:
                    packet = .subscribe(
                        MQTTSubscribe(
                            packetID: UInt16(i + 1),
                            subscriptions: [
                                MQTTSubscription(topicFilter: "devices/\(id)/messages/devicebound/#", qos: .atLeastOnce)
                            ]
                        )
                    )
                case 4: packet = .pingreq
                case 5: packet = .puback(MQTTAck(packetID: UInt16(i + 1)))
                default: packet = .publish(MQTTPublish(topic: "elsewhere/\(i)", payload: ByteBuffer()))
                }
                try? enc.encode(packet, into: &b)
            }
            if rng.next() % 4 == 0 { try? enc.encode(.disconnect(MQTTReasonPacket()), into: &b) }
            return Array(b.readableBytesView)
        }

        static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
            var bytes = input
            for _ in 0..<(1 + rng.next() % 4) where !bytes.isEmpty {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                default: bytes = Array(bytes[..<at])
                }
            }
            return bytes
        }

        @Test func harnessSeesTheHubsAnswers() {
            var rng = SplitMix64(seed: 9)
            let enc = MQTTEncoder(version: .v311)
            var b = ByteBuffer()
            try? enc.encode(.connect(MQTTConnect(version: .v311, clientID: "dev-1")), into: &b)
            try? enc.encode(.pingreq, into: &b)
            let r = Self.run(Array(b.readableBytesView), chunk: 3)
            #expect(r.problem == nil && r.packets == 2, "CONNACK and PINGRESP")
            #expect(Self.run(Self.validStream(&rng), chunk: 5).packets >= 1)
        }

        /// A twin request whose `$rid` makes the answer's topic longer than MQTT allows (65,535 bytes): the hub used
        /// to trap when it could not encode its answer; now it closes that client's connection and goes on.
        @Test func anAnswerTooLongToEncodeClosesOnlyThatConnection() {
            let enc = MQTTEncoder(version: .v311)
            var b = ByteBuffer()
            try? enc.encode(.connect(MQTTConnect(version: .v311, clientID: "dev-1")), into: &b)
            let rid = String(repeating: "9", count: 65_535 - "$iothub/twin/GET/?$rid=".count)
            try? enc.encode(
                .publish(MQTTPublish(topic: "$iothub/twin/GET/?$rid=\(rid)", payload: ByteBuffer())),
                into: &b
            )
            let r = Self.run(Array(b.readableBytesView), chunk: 4096)
            #expect(r.problem == nil, "\(r.problem ?? "")")
            #expect(r.packets == 1, "the CONNACK, then the connection closed instead of a broken answer")
        }

        /// The hub's token-expiry timer for any `se` a signed token can carry: the grace added, a past expiry due at
        /// once, none for a token beyond a century (Int64.max seconds overflowed the old millisecond conversion).
        @Test func tokenExpiryTimerNeverTraps() {
            let now = 1_800_000_000.0
            let wait = { (se: Int64, grace: Duration) in
                HubConnectionHandler.expiryWait(tokenExpiry: se, nowUnix: now, grace: grace)
            }
            #expect(wait(1_800_000_060, .seconds(5)) == .seconds(65))
            #expect(wait(-1, .zero) == .nanoseconds(0) && wait(.min, .seconds(30)) == .nanoseconds(0))
            #expect(wait(.max, .zero) == nil && wait(1 << 62, .zero) == nil)
            #expect(wait(1_800_000_000 + 99 * 365 * 86_400, .zero) == .seconds(99 * 365 * 86_400))
        }

        /// The libFuzzer corpus of the MQTT front (its first byte is the fuzzer's chunk size), in other chunks too.
        @Test func corpusReplays() throws {
            let inputs = FuzzCorpusTests.inputs(.hubMQTT)
            #expect(inputs.count >= 5)
            for (name, bytes) in inputs {
                for chunk in [1, 7, 4096] {
                    #expect(Self.feed(Array(bytes.dropFirst()), chunk: chunk) == nil, "\(name) in chunks of \(chunk)")
                }
            }
        }

        @Test("seeded random and mutated streams", arguments: [1, 2])
        func seeded(seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            var failures: [String] = []
            for i in 0..<2500 {
                let input: [UInt8]
                switch i % 3 {
                case 0: input = (0..<(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                case 1: input = Self.validStream(&rng)
                default: input = Self.mutate(Self.validStream(&rng), &rng)
                }
                if let problem = Self.feed(input, chunk: 1 + Int(rng.next() % 64)) {
                    failures.append("case \(i): \(problem): \(input.map { String(format: "%02x", $0) }.joined())")
                    if failures.count >= 3 { break }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }
}
