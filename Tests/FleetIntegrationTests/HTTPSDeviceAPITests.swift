import FleetCore
import FleetHub
import FleetHubCore
import FleetReport
import Foundation
import Testing

extension SecondLaneTests {
    /// IoT Hub's HTTPS device API (reference §10.2) on the hub and on the devices: curl and Python's http.client as
    /// clients of the hub (nobody here wrote them), our devices against the hub, faults and their classification,
    /// and requests that are wrong in every way a client can get them wrong.
    @Suite(
        "HTTPS device API",
        .serialized,
        .enabled(
            if: (Env.which("python3") != nil && Env.which("curl") != nil) || Env.isCI,
            "python3 and curl needed (.ci/run installs curl)"
        )
    )
    struct HTTPSDeviceAPITests {
        static let groupKey = RealClientTests.groupKey
        static let client = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/https_client.py").path

        static func hub(
            quota: Scenario.Quota? = nil,
            cloudToDevice: Duration? = nil,
            connectTimeout: Duration = .seconds(10)
        ) async throws -> (TestHub, Int, String) {
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey(groupKey), hostName: "myhub.local")
            configuration.listen = []
            let bundle = try HubCertificates.generate(host: "localhost")
            configuration.tls = try HubTLS(certificatePEM: bundle.serverPEM, keyPEM: bundle.serverKeyPEM)
            configuration.httpsListen = [("127.0.0.1", 0)]
            configuration.quotas = HubQuotas(quota)
            configuration.cloudToDeviceInterval = cloudToDevice
            configuration.connectTimeout = connectTimeout
            let ca = CLITests.temp("https-ca.pem")
            try bundle.caPEM.write(toFile: ca, atomically: true, encoding: .utf8)
            let hub = TestHub(configuration: configuration)
            return (hub, try await hub.start()[0].port, ca)
        }

        /// The client's output as `name → rest of the line`.
        static func lines(_ out: String) -> [String: String] {
            var result: [String: String] = [:]
            for line in out.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            return result
        }

        static func python(
            _ mode: String,
            port: Int,
            ca: String,
            device: String,
            _ extra: [String] = []
        ) throws
            -> [String: String]
        {
            let python = try #require(Env.which("python3"))
            let (_, token) = try RealClientTests.credentials(device)
            let r = try RealClientTests.run(python, [client, mode, String(port), ca, device, token] + extra)
            #expect(r.status == 0, "\(mode): \(r.err)")
            return lines(r.out)
        }

        /// curl sends telemetry with a SAS token made by the Python helper (an implementation of its own): 204 and
        /// the hub counts it; a token for nothing is 401 with IoT Hub's error code.
        @Test func curlSendsTelemetry() async throws {
            let curl = try #require(Env.which("curl"), "curl not installed (.ci/run installs it)")
            let (hub, port, ca) = try await Self.hub()
            let (_, token) = try RealClientTests.credentials("curl-1")
            let url = "https://localhost:\(port)/devices/curl-1/messages/events?api-version=2021-04-12"
            func post(_ auth: String) throws -> (code: String, body: String) {
                let bodyFile = CLITests.temp("curl-body.json")
                let r = try RealClientTests.run(
                    curl,
                    [
                        "-s", "--cacert", ca, "-o", bodyFile, "-w", "%{http_code}", "-X", "POST", "-H",
                        "Authorization: \(auth)", "-H", "iothub-app-site: plant-7", "-H", "iothub-messageid: 7",
                        "--data-binary", "{\"t\":21}", url,
                    ]
                )
                #expect(r.status == 0, "curl: \(r.err)")
                return (r.out, (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? "")
            }
            #expect(try post(token).code == "204")
            let bad = try post("SharedAccessSignature sr=myhub.local%2Fdevices%2Fcurl-1&sig=AAAA&se=4102444800")
            #expect(bad.code == "401" && bad.body.contains("\"errorCode\":401003"), "\(bad)")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == 1 && stats.messagesByDevice["curl-1"] == 1, "\(stats)")
            #expect(stats.refusedByReason["bad_signature"] == 1, "\(stats.refusedByReason)")
        }

        /// X.509 over the HTTPS device API with curl as the device: no Authorization header, the certificate it
        /// presents in the handshake authenticates the request (204); no certificate, or one from a CA the hub does
        /// not trust, is 401 with the reason counted.
        @Test func curlAuthenticatesByCertificate() async throws {
            let curl = try #require(Env.which("curl"), "curl not installed (.ci/run installs it)")
            let fleet = try DeviceCertificates.makeCA()
            let other = try DeviceCertificates.makeCA(commonName: "another CA")
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .x509(thumbprints: [:]), hostName: "myhub.local")
            configuration.listen = []
            let bundle = try HubCertificates.generate(host: "localhost")
            configuration.tls = try HubTLS(
                certificatePEM: bundle.serverPEM,
                keyPEM: bundle.serverKeyPEM,
                clientCertificates: fleet.certificatePEM
            )
            configuration.httpsListen = [("127.0.0.1", 0)]
            let hub = TestHub(configuration: configuration)
            let port = try await hub.start()[0].port
            let dir = CLITests.temp("https-x509")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try bundle.caPEM.write(toFile: "\(dir)/ca.pem", atomically: true, encoding: .utf8)
            for (name, ca) in [("fleet", fleet), ("other", other)] {
                let pair = try #require(try DeviceCertificates.issue(["cert-1"], by: ca)["cert-1"])
                try pair.certificatePEM.write(toFile: "\(dir)/\(name).pem", atomically: true, encoding: .utf8)
                try pair.keyPEM.write(toFile: "\(dir)/\(name)-key.pem", atomically: true, encoding: .utf8)
            }
            let url = "https://localhost:\(port)/devices/cert-1/messages/events?api-version=2021-04-12"
            func post(_ certificate: String?) throws -> String {
                let identity =
                    certificate.map { ["--cert", "\(dir)/\($0).pem", "--key", "\(dir)/\($0)-key.pem"] } ?? []
                let r = try RealClientTests.run(
                    curl,
                    ["-s", "--cacert", "\(dir)/ca.pem", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"]
                        + identity
                        + ["--data-binary", "{\"t\":21}", url]
                )
                #expect(r.status == 0, "curl: \(r.err)")
                return r.out
            }
            #expect(try post("fleet") == "204")
            #expect(try post(nil) == "401")
            #expect(try post("other") == "401")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == 1 && stats.messagesByDevice["cert-1"] == 1, "\(stats)")
            #expect(
                stats.refusedByReason["no_certificate"] == 1 && stats.refusedByReason["untrusted_certificate"] == 1,
                "\(stats.refusedByReason)"
            )
        }

        /// Python's http.client on one keep-alive connection: telemetry, then C2D fetched, completed, completed
        /// again (412: no lock), abandoned (delivered again), rejected.
        @Test func pythonFetchesAndSettlesCloudToDevice() async throws {
            let (hub, port, ca) = try await Self.hub(cloudToDevice: .milliseconds(150))
            let out = try Self.python("c2d", port: port, ca: ca, device: "py-1")
            #expect(out["post"] == "204")
            #expect(out["get"]?.hasPrefix("200 body c2d ") == true, "\(out)")
            #expect(out["complete"] == "204")
            #expect(out["complete-again"] == "412 412002", "\(out)")
            #expect(out["get2"] == "200")
            #expect(out["abandon"] == "204")
            #expect(out["redelivered"] == "True", "an abandoned message comes again: \(out)")
            #expect(out["reject"] == "204")
            let stats = await hub.stop()
            #expect(stats.c2dAcked == 2, "completed and rejected: \(stats.c2dAcked)")
            #expect(stats.connectionsAccepted == 1, "one keep-alive connection")
        }

        /// A burst on one connection past an S1 hub's rate (no burst allowance, no shaping queue): 204s, then 429
        /// ThrottlingException; past the daily quota: 403 IotHubQuotaExceeded (reference §5.1, §5.2).
        @Test func throttlingIs429AndTheDailyQuota403() async throws {
            var tier = Scenario.Quota(tier: "S1")
            tier.burstSeconds = 0
            tier.maxShapingDelay = .zero
            let (hub, port, ca) = try await Self.hub(quota: tier)
            let burst = try Self.python("burst", port: port, ca: ca, device: "burst-1", ["400"])
            let statuses =
                try JSONSerialization.jsonObject(with: Data((burst["statuses"] ?? "{}").utf8)) as? [String: Int]
            #expect((statuses?["204"] ?? 0) > 0 && (statuses?["429"] ?? 0) > 0, "\(burst)")
            #expect(Set(statuses?.keys.map { $0 } ?? []) == ["204", "429"], "\(burst)")
            #expect(burst["codes"] == "[429001]", "\(burst)")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == UInt64(statuses?["204"] ?? -1), "only accepted messages count")

            var daily = Scenario.Quota(tier: "S1")
            daily.dailyMessages = 3
            let (quotaHub, quotaPort, quotaCA) = try await Self.hub(quota: daily)
            let capped = try Self.python("burst", port: quotaPort, ca: quotaCA, device: "burst-2", ["5"])
            #expect(capped["statuses"] == #"{"204": 3, "403": 2}"#, "\(capped)")
            #expect(capped["codes"] == "[403002]", "\(capped)")
            _ = await quotaHub.stop()
        }

        /// Requests wrong in every way: not HTTP, another path, another method, no api-version, no token, too large,
        /// another device on the same connection, a header never finished. Each gets its status (or a close), and the
        /// hub serves a good request afterwards.
        @Test func badRequestsGetAnAnswerAndTheHubGoesOn() async throws {
            let (hub, port, ca) = try await Self.hub(connectTimeout: .seconds(1))
            let (_, other) = try RealClientTests.credentials("bad-2")
            let out = try Self.python("bad", port: port, ca: ca, device: "bad-1", ["bad-2", other])
            #expect(out["not-http"] == "400", "\(out)")
            #expect(out["wrong-path"] == "404")
            #expect(out["wrong-method"] == "405")
            #expect(out["no-api-version"] == "400 400000")
            #expect(out["no-auth"] == "401 401003")
            #expect(out["too-large"] == "413 413001")
            #expect(out["first-device"] == "204")
            #expect(out["other-device"] == "400 400000")
            // Closed by the hub after its 1 s CONNECT timeout, long before the client's own 10 s.
            #expect(out["slow-header"] == "closed 1", "\(out)")
            #expect(out["good"] == "204")
            let stats = await hub.stop()
            #expect(stats.messagesReceived == 2, "first-device and good")
        }

        /// Our devices over https:// against the hub: every message acked and counted once by the hub; an outage
        /// answers 503 (retried: everyone back), reject-auth answers 401 (.NET stops with Bad_Credential, C retries,
        /// reference §3.2), a blackhole ends in the keep-alive timeout and recovers.
        @Test func devicesOverHTTPSFaultsAndClassification() throws {
            let profile = CLITests.temp("https-faults.yaml")
            try """
            name: https-faults
            seed: 21
            duration: 40s
            hub: {url: embedded, https: true}
            https: {request_timeout: 1s}
            auth: {mode: sas, hub_host: fleetstorm.local, group_key: "\(Self.groupKey)"}
            fleet: {devices: 60, ramp_rate: 0}
            mqtt: {keep_alive: 2s, connack_timeout: 3s}
            telemetry: {messages: 30, interval: 300ms}
            retry: {policy: full-jitter, base: 200ms, cap: 1s}
            cohorts:
              - {name: dotnet, devices: 30, sdk: azure-dotnet, retry: {policy: full-jitter, base: 200ms, cap: 1s}}
              - {name: c, devices: 30, sdk: azure-c, retry: {policy: full-jitter, base: 200ms, cap: 1s}}
            faults:
              - {at: 1s, kind: outage, for: 1s}
              - {at: 4s, kind: blackhole, for: 2s}
              - {at: 8s, kind: reject-auth, for: 1s}
              - {at: 8s, kind: drop}
            """.write(toFile: profile, atomically: true, encoding: .utf8)
            // The blackhole starts 2 s after the outage ends: a device answered 503 at 1.99 s waits up to the 1 s cap
            // and then connects; with the blackhole 1 s after the outage (as before) a busy machine let that connect
            // run into the blackhole, and the device, down when it began, was not counted as affected (59 of 60).
            let output = CLITests.temp("https-faults.pb")
            let r = try CLITests.run(["run", profile, "--quiet", "--output", output])
            let report = try ReportFile.read(output)
            #expect(r.status == 0 || r.status == 2, "\(r.stderr)")
            #expect(report.run.target.contains("https://"), "\(report.run.target)")
            let errors = report.connections.connectionErrors
            #expect((errors["http_503001"] ?? 0) > 0, "the outage answered 503: \(errors)")
            #expect((errors["http_401003"] ?? 0) > 0, "reject-auth answered 401: \(errors)")
            let outage = try #require(report.storms.first { $0.fault.hasPrefix("outage@1s") })
            #expect(outage.affected == 60 && outage.recovered == 60, "\(outage)")
            let blackhole = try #require(report.storms.first { $0.fault.hasPrefix("blackhole@4s") })
            #expect(blackhole.affected == 60 && blackhole.recovered == 60, "\(blackhole)")
            let byCohort = Dictionary(uniqueKeysWithValues: report.cohorts.map { ($0.name, $0) })
            let dotnet = try #require(byCohort["dotnet"])
            let c = try #require(byCohort["c"])
            // .NET: 401 is unrecoverable, Bad_Credential; C retries it (as CONNACK 5) and finishes its messages.
            #expect(
                dotnet.statuses.contains {
                    $0.status == "Disconnected" && $0.reason == "Bad_Credential" && $0.count == 30
                },
                "\(dotnet.statuses)"
            )
            #expect(c.accounting.acked == 900, "C devices delivered everything: \(c.accounting)")
            #expect(report.hub.messagesReceived >= report.accounting.acked, "the hub saw every acked message")
        }
    }
}
