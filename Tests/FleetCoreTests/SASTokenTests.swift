import Foundation
import Testing

@testable import FleetCore

/// Tokens and DPS keys against vectors computed by the official Python SDK's own signing code, and signatures
/// against OpenSSL's HMAC (an independent implementation).
@Suite("SAS tokens and DPS key derivation")
struct SASTokenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FleetMQTTTests/Fixtures/sas-vectors.json")

    struct Vectors: Decodable {
        struct Token: Decodable {
            var key: String
            var resource_uri: String
            var expiry: Int64
            var signature: String
            var token: String
        }
        struct Derived: Decodable {
            var group_key: String
            var registration_id: String
            var derived_device_key: String
        }
        var sas_tokens: [Token]
        var dps_derived_keys: [Derived]
    }

    static func vectors() throws -> Vectors {
        try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: fixtures))
    }

    @Test func tokensMatchTheSDK() throws {
        let v = try Self.vectors()
        #expect(v.sas_tokens.count == 3)
        for t in v.sas_tokens {
            #expect(try SASToken.signature(resourceURI: t.resource_uri, key: t.key, expiry: t.expiry) == t.signature)
            #expect(try SASToken.make(resourceURI: t.resource_uri, key: t.key, expiry: t.expiry) == t.token)
            let parsed = try #require(SASToken.parse(t.token))
            #expect(parsed.resourceURI == t.resource_uri)
            #expect(parsed.signature == t.signature)
            #expect(parsed.expiry == t.expiry)
            #expect(parsed.keyName == nil)
        }
    }

    @Test func dpsDerivationMatchesTheSDK() throws {
        let v = try Self.vectors()
        #expect(v.dps_derived_keys.count == 2)
        for d in v.dps_derived_keys {
            #expect(
                try SASToken.deriveDeviceKey(groupKey: d.group_key, registrationID: d.registration_id)
                    == d.derived_device_key
            )
        }
    }

    /// The password of the official SDK's CONNECT in the capture is exactly our token for the same inputs.
    @Test func tokenMatchesTheRecordedSDKConnect() throws {
        let token = try SASToken.make(
            resourceURI: "localhost/devices/dev-sdk-fixture",
            key: "Zml4dHVyZS1rZXktbm90LWEtc2VjcmV0LTEyMzQ1Njc=",
            expiry: 1_795_705_916
        )
        let capture = try Data(
            contentsOf: Self.fixtures.deletingLastPathComponent().appendingPathComponent(
                "mqtt-captures/azure-python-sdk-tls/conn1.client.bin"
            )
        )
        #expect(capture.range(of: Data(token.utf8)) != nil)
    }

    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(.enabled(if: hasOpenSSL || isCI, "openssl CLI not installed"))
    func signaturesMatchOpenSSL() throws {
        var rng = SplitMix64(seed: 0x5A5)
        for i in 0..<12 {
            let keyBytes = (0..<Int.random(in: 16...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng)
            }
            let key = Data(keyBytes).base64EncodedString()
            let uri = "hub-\(i).azure-devices.net/devices/dev ice/\(UInt32.random(in: 0...UInt32.max, using: &rng))"
            let expiry = Int64.random(in: 1_600_000_000...2_000_000_000, using: &rng)
            let message = SASToken.urlEncode(uri) + "\n" + String(expiry)
            let hexKey = keyBytes.map { String(format: "%02x", $0) }.joined()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            p.arguments = ["dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:\(hexKey)", "-binary"]
            let input = Pipe()
            let output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            try p.run()
            input.fileHandleForWriting.write(Data(message.utf8))
            try input.fileHandleForWriting.close()
            let mac = output.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            #expect(try SASToken.signature(resourceURI: uri, key: key, expiry: expiry) == mac.base64EncodedString())
        }
    }

    @Test func badKeysAreErrorsWithoutSecrets() {
        #expect(throws: SASToken.Failure.self) {
            try SASToken.make(resourceURI: "h/devices/d", key: "not base64!!", expiry: 1)
        }
        #expect(throws: SASToken.Failure.self) { try SASToken.deriveDeviceKey(groupKey: "", registrationID: "d") }
        #expect(SASToken.parse("Bearer abc") == nil)
        #expect(SASToken.parse("SharedAccessSignature sr=a&se=1") == nil)
        #expect(SASToken.urlEncode("a b/c+d=e~f") == "a%20b%2Fc%2Bd%3De~f")
    }
}
