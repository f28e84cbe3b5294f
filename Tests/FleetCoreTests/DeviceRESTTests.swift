import FleetMQTT
import Testing

@testable import FleetCore

/// The HTTPS device API's text forms (reference §10.2) and how its errors are classified per SDK (§3.2).
@Suite("HTTPS device API: routes, properties, errors")
struct DeviceRESTTests {
    static let alphabet = Array("abcXYZ019-_.~ %&=/?#+$é")

    static func text(_ rng: inout SplitMix64, _ range: ClosedRange<Int>) -> String {
        String((0..<Int.random(in: range, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    /// Every route, written as a path and read back, is itself, for ids and ETags with characters that need escaping.
    @Test(arguments: [UInt64(1), 2, 3])
    func routesRoundTrip(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<300 {
            let id = Self.text(&rng, 1...12)
            let etag = Self.text(&rng, 1...8)
            let version = ["2021-04-12", "2020-03-13", "2018-06-30"].randomElement(using: &rng)!
            let route: DeviceREST.Route = [
                .send(deviceID: id), .receive(deviceID: id), .complete(deviceID: id, etag: etag),
                .reject(deviceID: id, etag: etag), .abandon(deviceID: id, etag: etag),
            ].randomElement(using: &rng)!
            let parsed = DeviceREST.route(
                method: DeviceREST.method(route),
                uri: DeviceREST.path(route, apiVersion: version)
            )
            let (back, backVersion) = try parsed.get()
            #expect(
                back == route && backVersion == version,
                "\(route) → \(DeviceREST.path(route, apiVersion: version))"
            )
        }
    }

    @Test func pathsAreIoTHubs() {
        #expect(
            DeviceREST.path(.send(deviceID: "d-1"), apiVersion: "2021-04-12")
                == "/devices/d-1/messages/events?api-version=2021-04-12"
        )
        #expect(
            DeviceREST.path(.abandon(deviceID: "d 1", etag: "e"), apiVersion: "v")
                == "/devices/d%201/messages/deviceBound/e/abandon?api-version=v"
        )
        #expect(DeviceREST.method(.reject(deviceID: "d", etag: "e")) == "DELETE")
    }

    @Test func requestsTheAPIDoesNotServeSayWhy() {
        func code(_ method: String, _ uri: String) -> Int? {
            if case .failure(let e) = DeviceREST.route(method: method, uri: uri) { return e.code }
            return nil
        }
        #expect(code("GET", "/twins/d1?api-version=1") == 404_000)
        #expect(code("GET", "/devices//messages/events?api-version=1") == 404_000)
        #expect(code("GET", "/devices/d1/messages/events?api-version=1") == 405_000)
        #expect(code("PUT", "/devices/d1/messages/deviceBound/e?api-version=1") == 405_000)
        #expect(code("POST", "/devices/d1/messages/events") == 400_000)
        #expect(code("POST", "/devices/d1/messages/events?api-version=") == 400_000)
        #expect(code("POST", "/devices/d1/messages/events?api-version=1") == nil)
    }

    /// A telemetry topic's property bag (as the machine writes it: `%24.mid` first, then the scenario's properties,
    /// URL-encoded) becomes headers and comes back the same.
    @Test(arguments: [UInt64(4), 5, 6])
    func propertiesRoundTrip(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<300 {
            var pairs = ["%24.mid=\(UInt64.random(in: 1...1_000_000, using: &rng))"]
            var expected: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let key = "k" + Self.text(&rng, 0...6)
                let value = Self.text(&rng, 0...10)
                guard !key.hasPrefix("$"), expected[key] == nil else { continue }
                expected[key] = value
                pairs.append(SASToken.urlEncode(key) + "=" + SASToken.urlEncode(value))
            }
            let topic = "devices/d1/messages/events/" + pairs.joined(separator: "&")
            let headers = try #require(DeviceREST.headers(fromTopic: topic, deviceID: "d1"))
            #expect(headers.first?.name == "iothub-messageid")
            for (key, value) in expected {
                #expect(headers.contains { $0.name == "iothub-app-\(key)" && $0.value == value }, "case kept")
            }
            #expect(DeviceREST.telemetryTopic(deviceID: "d1", headers: headers) == topic)
            #expect(
                SequenceTracker.messageID(inTopic: topic)
                    == SequenceTracker.messageID(
                        inTopic: DeviceREST.telemetryTopic(deviceID: "d1", headers: headers)
                    )
            )
        }
    }

    @Test func onlyMessagePropertiesBecomeTheBag() {
        let headers = [
            (name: "Host", value: "x"), (name: "Authorization", value: "SharedAccessSignature sr=a&sig=b&se=1"),
            (name: "iothub-app-Site", value: "plant 7"), (name: "IoTHub-MessageId", value: "12"),
            (name: "iothub-app-", value: "nameless"), (name: "Content-Length", value: "2"),
        ]
        #expect(DeviceREST.propertyBag(fromHeaders: headers) == "Site=plant%207&%24.mid=12")
        #expect(DeviceREST.headers(fromTopic: "devices/other/messages/events/a=b", deviceID: "d1") == nil)
        #expect(DeviceREST.headers(fromTopic: "$iothub/twin/GET/?$rid=1", deviceID: "d1") == nil)
    }

    @Test func errorCodesComeFromTheBodyWhenItAgrees() {
        #expect(HubServiceError(status: 429, body: Array(#"{"errorCode":429001,"x":1}"#.utf8)).code == 429_001)
        #expect(HubServiceError(status: 403, body: Array(#"{"errorCode": 403002}"#.utf8)).code == 403_002)
        // A code of another status, no code, or no JSON at all: the status alone.
        #expect(HubServiceError(status: 503, body: Array(#"{"errorCode":429001}"#.utf8)).code == 503_000)
        #expect(HubServiceError(status: 500, body: Array("<html>oops</html>".utf8)).code == 500_000)
        #expect(HubServiceError(status: 401, body: []).code == 401_000)
        let body = HubServiceError(code: 401_003).body(message: "a \"quoted\" \\ line\nbreak")
        #expect(HubServiceError(status: 401, body: Array(body.utf8)).code == 401_003)
        #expect(body.contains(#"a \"quoted\" \\ line break"#), "\(body)")
    }

    /// Reference §3.2 (non-CONNACK failures) and §1.5 (Java's status table): 429 and 5xx retried (429 with the
    /// throttling policy); 401/403/404/400/413 stop; .NET alone retries the daily quota ("QuotaExceededException
    /// **transient**"); "device not found / disabled: DeviceNotFoundException → Device_Disabled" (.NET), Python's
    /// UnauthorizedError; C retries a refused credential as it does CONNACK 5.
    @Test func serviceErrorsAreClassifiedPerSDK() {
        typealias F = ErrorClassifier.Flavour
        func classify(_ code: Int, _ flavour: F) -> (ErrorClass, StatusReason) {
            ErrorClassifier(flavour: flavour).classify(.service(code: code))
        }
        for flavour in F.allCases {
            #expect(classify(429_001, flavour) == (.throttled, .communicationError))
            #expect(classify(503_001, flavour) == (.transient, .communicationError))
            #expect(classify(500_001, flavour) == (.transient, .communicationError))
            #expect(classify(400_000, flavour).0 == .unrecoverable)
            #expect(classify(413_001, flavour).0 == .unrecoverable)
        }
        #expect(classify(403_002, .dotnet) == (.transient, .communicationError))
        for flavour in [F.java, .node, .python, .c, .mqtt] {
            #expect(classify(403_002, flavour).0 == .unrecoverable, "\(flavour)")
        }
        #expect(classify(404_001, .dotnet) == (.unrecoverable, .deviceDisabled))
        #expect(classify(403_012, .java) == (.unrecoverable, .deviceDisabled))
        #expect(classify(404_001, .python) == (.unrecoverable, .badCredential))
        #expect(classify(401_003, .dotnet) == (.unrecoverable, .badCredential))
        #expect(classify(401_003, .c) == (.transient, .badCredential))
        #expect(FailureCause.service(code: 429_001).description == "http_429001")
    }

    /// The machine: an error answer ends the session and is classified; one that arrives when no session is open
    /// (late, after a close or a stop) does nothing.
    @Test func theMachineEndsTheSessionOnAnErrorAnswer() {
        var s = DeviceStateMachineTests.scenario(messages: 3, policy: "azure-dotnet")
        s.sdk = .dotnet
        var m = DeviceStateMachine(deviceID: "d1", config: DeviceConfig(scenario: s), seed: 1)
        var a: [DeviceAction] = []
        m.serviceRefused(code: 503_001, now: .zero, into: &a)
        #expect(a.isEmpty, "no session yet: nothing to end")
        m.start(now: .zero, into: &a)
        m.connectSucceeded(now: .zero, into: &a)
        m.packetReceived(.connack(MQTTConnAck()), now: .zero, into: &a)
        a.removeAll()
        m.serviceRefused(code: 503_001, now: .zero, into: &a)
        #expect(a.contains(.record(.serviceError(code: 503_001))) && a.contains(.close), "\(a)")
        a.removeAll()
        m.serviceRefused(code: 401_003, now: .zero, into: &a)
        #expect(a.isEmpty, "closing already: a second answer changes nothing")
        m.channelClosed(now: .zero, into: &a)
        #expect(a.contains { if case .schedule(.backoff, _) = $0 { return true } else { return false } }, "503 retried")

        var u = DeviceStateMachine(deviceID: "d2", config: DeviceConfig(scenario: s), seed: 1)
        a.removeAll()
        u.start(now: .zero, into: &a)
        u.connectSucceeded(now: .zero, into: &a)
        u.packetReceived(.connack(MQTTConnAck()), now: .zero, into: &a)
        u.serviceRefused(code: 401_003, now: .zero, into: &a)
        a.removeAll()
        u.channelClosed(now: .zero, into: &a)
        let finished = a.compactMap { action -> ConnectionStatus? in
            if case .record(.finished(_, let status, .badCredential)) = action { return status }
            return nil
        }
        #expect(finished == [.disconnected], ".NET stops on 401 with Bad_Credential: \(a)")
    }

    /// Profiles: https:// URLs, `hub.https: true` for the embedded hub (TLS implied), the `https:` section only with
    /// that transport, and one line naming the key for every mistake.
    @Test func profilesChooseTheHTTPSTransport() throws {
        #expect(Scenario.HubTarget.parse("https://hub.example:8443")?.description == "https://hub.example:8443")
        #expect(Scenario.HubTarget.parse("https://hub.example")?.hostAndPort?.port == 443)
        #expect(Scenario.HubTarget.parse("https://[::1]:443/")?.https == true)
        #expect(Scenario.HubTarget.parse("https://hub.example/devices") == nil)
        #expect(Scenario.HubTarget.parse("https://") == nil)
        let loader = ScenarioLoader()
        let s = try loader.load(
            yaml: "hub: {url: embedded, https: true}\nhttps: {poll_interval: 5s, request_timeout: 20s}",
            source: "p.yaml"
        )
        #expect(s.hub.https && s.tls != nil && s.https.pollInterval == .seconds(5))
        #expect(s.https.requestTimeout == .seconds(20) && s.https.apiVersion == DeviceREST.defaultAPIVersion)
        #expect(s.redactedYAML.contains("https: true"), "\(s.redactedYAML)")
        #expect(s.redactedYAML.contains("https: {poll_interval: 5s, request_timeout: 20s"), "\(s.redactedYAML)")
        for (yaml, key) in [
            ("https: {poll_interval: 5s}", "poll_interval"),
            ("hub: {url: \"mqtt://h:1883\", https: true}", "https"),
            ("hub: {url: embedded, websocket: true, https: true}", "https"),
            ("hub: {url: embedded, https: true, tls: false}", "tls"),
            ("hub: {url: \"https://h:443\"}", "ca_file"),
            ("hub: {url: embedded, https: true}\nhttps: {api_version: \"a b\"}", "api_version"),
            ("hub: {url: embedded, https: true}\nhttps: {request_timeout: 1ms}", "request_timeout"),
        ] {
            #expect(throws: ScenarioError.self, "\(yaml)") { try loader.load(yaml: yaml, source: "p.yaml") }
            do {
                _ = try loader.load(yaml: yaml, source: "p.yaml")
            } catch {
                #expect(error.key.hasSuffix(key), "\(yaml): \(error)")
            }
        }
    }
}
