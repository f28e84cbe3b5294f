import FleetCore
import FleetFuzz
import FleetHub
import FleetHubCore
import FleetMQTT
import Foundation
import Testing

extension IntegrationTests {
    /// Every fuzz harness replays its committed corpus (seeds, and every input a fuzzer found that once crashed or
    /// broke an invariant: `Fuzz/Corpus/<target>/`), and the hub survives signed tokens with any expiry.
    @Suite("Fuzz corpora and regressions")
    struct FuzzCorpusTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

        static func inputs(_ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
            let folder = root.appendingPathComponent(target.rawValue)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.sorted().compactMap { name in
                FileManager.default.contents(atPath: folder.appendingPathComponent(name).path).map { (name, Array($0)) }
            }
        }

        @Test(arguments: FuzzTarget.allCases)
        func corpusReplaysWithoutAProblem(target: FuzzTarget) {
            let inputs = Self.inputs(target)
            #expect(inputs.count >= 3, "Fuzz/Corpus/\(target.rawValue) holds \(inputs.count) inputs; seed it")
            for (name, bytes) in inputs {
                #expect(target.run(bytes) == nil, "\(target.rawValue)/\(name)")
            }
        }

        /// The credentials harness's third case: a correctly signed token whose `se` is `expiry`.
        static func signedTokenInput(_ expiry: Int64) -> [UInt8] {
            [2] + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: expiry) >> (56 - 8 * UInt64($0))) }
        }

        /// Issue: a correctly signed SAS token with `se` -1, or one whose milliseconds overflow Int64, killed the hub.
        /// Each is answered with a CONNACK, and a device with a valid token connects after it on the same hub.
        @Test(arguments: [-1, 0, 1, Int64.max, Int64.min, 1 << 62, 9_223_372_036_854_775, 4_102_444_800] as [Int64])
        func signedTokenWithAnyExpiryIsAnsweredAndTheHubServesOn(expiry: Int64) {
            #expect(FuzzTarget.credentials.run(Self.signedTokenInput(expiry)) == nil)
            #expect(FuzzTarget.hubSession.run([4, 0] + Self.signedTokenInput(expiry).dropFirst()) == nil)
        }

        /// An `se` that is no Int64 (2^64, 1e300, text) cannot be signed by a device; the hub refuses it as a bad
        /// token, the same refusal IoT Hub gives (CONNACK 5), without reading further.
        @Test(arguments: ["18446744073709551616", "1e300", "soon", "", "-0x1"])
        func expiryThatIsNoNumberIsABadToken(se: String) {
            let host = "fuzz.azure-devices.net"
            var connect = MQTTConnect(version: .v311, clientID: "dev-1")
            connect.username = "\(host)/dev-1/?api-version=2021-04-12"
            connect.password = Array("SharedAccessSignature sr=\(host)%2Fdevices%2Fdev-1&sig=abc%3D&se=\(se)".utf8)
            let auth = HubAuthenticator(keys: .groupKey("ZmxlZXRzdG9ybS1mdXp6LWdyb3VwLWtleS0wMDAwMDA="), hostName: host)
            #expect(auth.check(connect, nowUnix: 1_800_000_000) == .refused(.badToken))
        }
    }
}
