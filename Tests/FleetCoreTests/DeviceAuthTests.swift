import FleetMQTT
import Foundation
import Testing

@testable import FleetCore

@Suite("Device authentication: username, SAS password, renewal")
struct DeviceAuthTests {
    static let groupKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    static func scenario(policy: String) throws -> Scenario {
        try ScenarioLoader().load(
            yaml: """
                fleet: {devices: 2, id_prefix: meter-}
                sdk: \(SDK(name: policy)?.name ?? "azure-dotnet")
                retry: {policy: \(policy)}
                auth: {mode: sas, hub_host: myhub.azure-devices.net, group_key: "\(groupKey)", token_ttl: 1h}
                """,
            source: "auth.yaml"
        )
    }

    func connectPacket(_ m: inout DeviceStateMachine, at ms: Int64) -> MQTTConnect? {
        var actions: [DeviceAction] = []
        m.start(now: Instant(nanoseconds: ms * 1_000_000), into: &actions)
        actions.removeAll()
        m.connectSucceeded(now: Instant(nanoseconds: ms * 1_000_000), into: &actions)
        for a in actions { if case .write(.connect(let c)) = a { return c } }
        return nil
    }

    @Test func connectCarriesIoTHubUsernameAndAValidToken() throws {
        let s = try Self.scenario(policy: "azure-python")
        var config = DeviceConfig(scenario: s)
        config.unixSecondsAtZero = 1_800_000_000
        let key = try #require(try s.auth?.key(for: "meter-00042"))
        #expect(key == "al51jnzO8ikYeuc88AE8gf+6XjtYPpNZW4yPgbyufmQ=", "DPS vector from the SDK")
        var m = DeviceStateMachine(deviceID: "meter-00042", config: config, key: key)
        let c = try #require(connectPacket(&m, at: 5_000))
        #expect(c.clientID == "meter-00042")
        #expect(
            c.username
                == "myhub.azure-devices.net/meter-00042/?api-version=2019-10-01&DeviceClientType=fleetstorm%2F0.1.0%20%28azure-python%29"
        )
        let token = String(decoding: try #require(c.password), as: UTF8.self)
        let parsed = try #require(SASToken.parse(token))
        #expect(parsed.resourceURI == "myhub.azure-devices.net/devices/meter-00042")
        #expect(parsed.expiry == 1_800_000_000 + 5 + 3600)
        #expect(
            try SASToken.signature(resourceURI: parsed.resourceURI, key: key, expiry: parsed.expiry) == parsed.signature
        )
    }

    @Test(
        "renewal by reconnecting: C at 80 %, Node 15 min and Python 2 min before expiry; .NET and Java wait",
        arguments: [
            ("azure-c", Int64?(2880)), ("azure-node", 2700), ("azure-python", 3480), ("azure-dotnet", nil),
            ("azure-java", nil),
        ]
    )
    func renewal(policy: String, afterSeconds: Int64?) throws {
        let s = try Self.scenario(policy: policy)
        let config = DeviceConfig(scenario: s)
        var m = DeviceStateMachine(deviceID: "meter-1", config: config, key: Self.groupKey)
        _ = connectPacket(&m, at: 0)
        var actions: [DeviceAction] = []
        m.packetReceived(.connack(MQTTConnAck()), now: .zero, into: &actions)
        let renewal = actions.compactMap { a -> Instant? in
            if case .schedule(.tokenRenewal, let at) = a { return at } else { return nil }
        }.first
        #expect(renewal == afterSeconds.map { Instant(nanoseconds: $0 * 1_000_000_000) })
        guard let renewal else { return }
        actions.removeAll()
        m.timerFired(.tokenRenewal, deadline: renewal, now: renewal, into: &actions)
        #expect(actions.contains(.write(.disconnect(MQTTReasonPacket()))))
        #expect(actions.last == .close)
        actions.removeAll()
        m.channelClosed(now: renewal, into: &actions)
        #expect(
            actions.first == .record(.status(from: .connected, to: .disconnectedRetrying, reason: .expiredSASToken))
        )
        #expect(actions.contains(.connect), "a new CONNECT at once, without the retry policy's wait")
    }

    @Test(
        "over AMQP the C SDK renews in-band at half the lifetime (reference §11.1): an AUTH with a fresh token, no close"
    )
    func renewalInBand() throws {
        let s = try ScenarioLoader().load(
            yaml: """
                hub: {url: "amqp://127.0.0.1:5672"}
                fleet: {devices: 2, id_prefix: meter-}
                sdk: azure-c
                auth: {mode: sas, hub_host: myhub.azure-devices.net, group_key: "\(Self.groupKey)", token_ttl: 1h}
                """,
            source: "auth.yaml"
        )
        var config = DeviceConfig(scenario: s)
        config.unixSecondsAtZero = 1_800_000_000
        #expect(config.renewsInBand)
        var m = DeviceStateMachine(deviceID: "meter-1", config: config, key: Self.groupKey)
        _ = connectPacket(&m, at: 0)
        var actions: [DeviceAction] = []
        m.packetReceived(.connack(MQTTConnAck()), now: .zero, into: &actions)
        let renewal = try #require(
            actions.compactMap { a -> Instant? in
                if case .schedule(.tokenRenewal, let at) = a { return at } else { return nil }
            }.first
        )
        #expect(renewal == Instant(nanoseconds: 1800 * 1_000_000_000))
        actions.removeAll()
        m.timerFired(.tokenRenewal, deadline: renewal, now: renewal, into: &actions)
        guard case .write(.auth(let reauth))? = actions.first else {
            Issue.record("no AUTH written: \(actions)")
            return
        }
        #expect(reauth.reasonCode == 0x19)
        let data = reauth.properties.first { $0.id == .authenticationData }?.value
        guard case .binary(let bytes)? = data, let token = SASToken.parse(String(decoding: bytes, as: UTF8.self)) else {
            Issue.record("the AUTH carries no SAS token")
            return
        }
        #expect(token.expiry == 1_800_000_000 + 1800 + 3600, "a fresh token, valid an hour from the renewal")
        #expect(!actions.contains(.close))
        #expect(actions.contains(.schedule(.tokenRenewal, renewal + .seconds(1800))))
    }

    @Test func profileErrorsNeverShowTheKey() {
        for (yaml, key) in [
            ("auth: {mode: sas, group_key: \"not*base64\"}", "auth.group_key"),
            ("auth: {mode: sas}", "auth.mode"),
            ("auth: {mode: sas, group_key: \"\(Self.groupKey)\", registry: r.yaml}", "auth.mode"),
            ("auth: {mode: kerberos}", "auth.mode"),
            ("auth: {mode: sas, registry: /nonexistent/registry.yaml}", "auth.registry"),
        ] {
            do throws(ScenarioError) {
                _ = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
                Issue.record("\(yaml) should fail")
            } catch {
                #expect(error.key == key, "\(yaml): \(error)")
                #expect(!error.description.contains("not*base64") && !error.description.contains(Self.groupKey))
            }
        }
    }

    /// A malformed value of the secret key, given with --set, never comes back in the error (it used to be copied
    /// into the error's location verbatim).
    @Test func setOverridesNeverShowASecret() {
        let secret = "S3cr3t+VALUE"
        for item in [
            "auth.group_key=\(secret)*",  // not base64
            "auth.group_key=[\(secret)",  // not YAML
            "auth.group_key=[\(secret), x]",  // wrong type
            "auth.group_keyy=\(secret)",  // unknown key that looks like a secret
            "\(secret)",  // no '=' at all: might be a pasted secret
        ] {
            do throws(ScenarioError) {
                _ = try ScenarioLoader().load(yaml: "auth: {mode: sas}\n", source: "p.yaml", overrides: [item])
                Issue.record("\(item) should fail")
            } catch {
                #expect(!error.description.contains(secret), "\(error)")
            }
        }
    }

    @Test func registryFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-reg-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "devices:\n  - {id: dev-1, key: \"c2hvcnQ=\"}\n  - {id: dev-2, key: \"\(Self.groupKey)\"}\n"
            .write(to: dir.appendingPathComponent("registry.yaml"), atomically: true, encoding: .utf8)
        let profile = dir.appendingPathComponent("p.yaml")
        try "auth: {mode: sas, registry: registry.yaml}\n".write(to: profile, atomically: true, encoding: .utf8)
        let s = try ScenarioLoader.testFiles.load(path: profile.path)
        #expect(try s.auth?.key(for: "dev-1") == "c2hvcnQ=")
        #expect(try s.auth?.key(for: "dev-3") == nil)
        try "devices:\n  - {id: dev-1}\n".write(
            to: dir.appendingPathComponent("registry.yaml"),
            atomically: true,
            encoding: .utf8
        )
        #expect(throws: ScenarioError.self) { try ScenarioLoader.testFiles.load(path: profile.path) }
    }
}
