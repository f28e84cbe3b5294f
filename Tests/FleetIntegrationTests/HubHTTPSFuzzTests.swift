import FleetCore
import Foundation
import NIOCore
import Testing

@testable import FleetHub
@testable import FleetHubCore

extension IntegrationTests {
    /// The hub fuzz harness on its HTTPS device API front (HTTP/1.1 → bridge → MQTT session), on an embedded channel
    /// without TLS: seeded random bytes, random bytes after a valid request head, and mutated valid requests never
    /// crash it; valid requests, pipelined in one write, are each answered 204 in order (so the harness is not a
    /// no-op).
    @Suite("Hub HTTPS front fuzzing")
    struct HubHTTPSFuzzTests {
        static func post(_ device: String, body: String = "{}") -> [UInt8] {
            Array(
                ("POST /devices/\(device)/messages/events?api-version=2021-04-12 HTTP/1.1\r\nHost: x\r\n"
                    + "Authorization: none\r\niothub-app-k: v\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                    .utf8
            )
        }

        /// Feeds `input` in chunks; returns everything the hub wrote, and the messages its session counted.
        static func run(_ input: [UInt8], chunk: Int) -> (problem: String?, written: [UInt8], messages: UInt64) {
            let (problem, written, stats) = EmbeddedHubFront.run(input, chunk: chunk, front: .https)
            return (problem, written, stats.messagesReceived)
        }

        @Test func pipelinedRequestsAreAnsweredInOrder() {
            let (problem, written, messages) = Self.run(Self.post("d1") + Self.post("d1", body: "[1,2]"), chunk: 5)
            #expect(problem == nil)
            let text = String(decoding: written, as: UTF8.self)
            #expect(text.components(separatedBy: "HTTP/1.1 204 No Content").count == 3, "\(text)")
            #expect(messages == 2)
        }

        @Test(arguments: [1, 2, 3])
        func seededRandomAndMutatedStreamsNeverCrashIt(seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            let valid = Self.post("d1") + Self.post("d2")
            let head = Array(valid.prefix(60))
            for i in 0..<150 {
                var input: [UInt8]
                switch i % 3 {
                case 0: input = bytes(Int(rng.next() % 600))
                case 1: input = head + bytes(Int(rng.next() % 600))
                default:
                    input = valid
                    for _ in 0..<(1 + Int(rng.next() % 6)) {
                        input[Int(rng.next() % UInt64(valid.count))] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                let (problem, written, _) = Self.run(input, chunk: 1 + Int(rng.next() % 64))
                #expect(problem == nil, "input \(i): \(problem ?? "")")
                // Whatever came back is HTTP (or nothing): the hub never leaks MQTT bytes onto the HTTP connection.
                #expect(written.isEmpty || written.starts(with: Array("HTTP/1.1 ".utf8)), "input \(i)")
            }
        }
    }
}
