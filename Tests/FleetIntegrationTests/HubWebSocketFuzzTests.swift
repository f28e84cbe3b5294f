import FleetCore
import Foundation
import NIOCore
import Testing

@testable import FleetHub
@testable import FleetHubCore

extension IntegrationTests {
    /// The hub fuzz harness, extended to its WebSocket front (HTTP upgrade → frames → MQTT session) on an embedded
    /// channel: seeded random bytes before and after a valid upgrade, and mutated valid frames, never crash it; a
    /// valid upgrade with a valid CONNECT frame gets 101 and a CONNACK frame (so the harness is not a no-op).
    @Suite("Hub WebSocket front fuzzing")
    struct HubWebSocketFuzzTests {
        static let upgrade = Array(
            ("GET /$iothub/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Protocol: mqtt\r\n\r\n").utf8
        )

        /// A masked binary frame holding `payload`.
        static func frame(_ payload: [UInt8], key: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
            precondition(payload.count < 126)
            return [0x82, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $1 ^ key[$0 % 4] }
        }

        static let connect: [UInt8] =
            [0x10, 0x0E, 0x00, 0x04] + Array("MQTT".utf8) + [0x04, 0x02, 0x00, 0x3C, 0x00, 0x02]
            + Array("d1".utf8)

        /// Feeds `input` in chunks; returns everything the hub wrote (or a broken invariant).
        static func run(_ input: [UInt8], chunk: Int) -> (problem: String?, written: [UInt8]) {
            let (problem, written, _) = EmbeddedHubFront.run(input, chunk: chunk, front: .webSocket)
            return (problem, written)
        }

        @Test func aValidUpgradeAndConnectAreAnswered() {
            let (problem, written) = Self.run(Self.upgrade + Self.frame(Self.connect), chunk: 7)
            #expect(problem == nil)
            let text = String(decoding: written, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 101"), "\(text.prefix(80))")
            // An unmasked binary frame (server to client) holding CONNACK, accepted.
            let connack: [UInt8] = [0x82, 0x04, 0x20, 0x02, 0x00, 0x00]
            #expect(written.indices.contains { written[$0...].starts(with: connack) }, "no CONNACK frame")
        }

        @Test(arguments: [1, 2, 3])
        func seededRandomAndMutatedStreamsNeverCrashIt(seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            let valid = Self.upgrade + Self.frame(Self.connect) + Self.frame([0xC0, 0x00])
            for i in 0..<150 {
                var input: [UInt8]
                switch i % 3 {
                case 0: input = bytes(Int(rng.next() % 600))
                case 1: input = Self.upgrade + bytes(Int(rng.next() % 600))
                default:
                    input = valid
                    for _ in 0..<(1 + Int(rng.next() % 6)) {
                        let at = Self.upgrade.count + Int(rng.next() % UInt64(valid.count - Self.upgrade.count))
                        input[at] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                let (problem, _) = Self.run(input, chunk: 1 + Int(rng.next() % 64))
                #expect(problem == nil, "input \(i): \(problem ?? "")")
            }
        }
    }
}
