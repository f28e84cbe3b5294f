import FleetCore
import FleetHub
import FleetHubCore
import Foundation
import Testing

extension IntegrationTests {
    /// TLS listeners, generated certificates, twins and C2D, driven by clients nobody here wrote.
    @Suite(
        "TLS, twins and C2D with real clients",
        .serialized,
        .enabled(
            if: Env.which("mosquitto_pub") != nil || Env.isCI,
            "mosquitto-clients not installed (CI installs them)"
        )
    )
    struct TLSAndCloudToDeviceTests {
        static let pahoAvailable =
            (try? RealClientTests.run("/usr/bin/env", ["python3", "-c", "import paho.mqtt"]).status) == 0 || Env.isCI

        /// `fleetstorm hub --generate-cert`, then the standalone hub on a TLS listener; mosquitto_pub verifies the
        /// certificate against the generated CA (host name localhost) and publishes with a SAS token from Python.
        @Test func standaloneTLSHubAcceptsMosquittoPub() throws {
            let pub = try #require(
                Env.which("mosquitto_pub"),
                "mosquitto_pub not found; .ci/run installs mosquitto-clients"
            )
            let dir = CLITests.temp("certs")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let gen = try CLITests.run(["hub", "--generate-cert", dir, "--host", "myhub.local"])
            #expect(gen.status == 0, "\(gen.stderr)")
            for f in ["ca.pem", "server.pem", "server-key.pem"] {
                #expect(FileManager.default.fileExists(atPath: "\(dir)/\(f)"))
            }
            let keyMode = try FileManager.default.attributesOfItem(atPath: "\(dir)/server-key.pem")[.posixPermissions]
            #expect((keyMode as? NSNumber)?.intValue == 0o600)

            let port = try Env.freePort()
            let report = CLITests.temp("tls-hub.pb")
            defer { try? FileManager.default.removeItem(atPath: report) }
            let hub = try BackgroundFleetstorm(
                [
                    "hub", "--tls-listen", "127.0.0.1:\(port)", "--tls-cert", "\(dir)/server.pem", "--tls-key",
                    "\(dir)/server-key.pem", "--host", "myhub.local", "--group-key", RealClientTests.groupKey,
                    "--output", report, "--duration", "60s",
                ],
                until: "mqtts://"
            )
            #expect(hub.banner.contains("mqtts://127.0.0.1:\(port)"), "\(hub.banner)")

            let (username, token) = try RealClientTests.credentials("tls-1")
            let args = [
                "-h", "localhost", "-p", String(port), "--cafile", "\(dir)/ca.pem", "-i", "tls-1", "-u", username, "-P",
                token, "-q", "1", "-t", "devices/tls-1/messages/events/%24.mid=1", "-m", "{\"t\":1}",
            ]
            let ok = try RealClientTests.run(pub, args)
            #expect(ok.status == 0, "\(ok.err)")
            // A client that does not trust the CA fails the handshake; nothing is counted as a message.
            let untrusted = try RealClientTests.run(
                pub,
                args.filter { $0 != "--cafile" && $0 != "\(dir)/ca.pem" } + ["--capath", "/nonexistent"]
            )
            #expect(untrusted.status != 0)
            if Self.pahoAvailable, let python = Env.which("python3") {
                let paho = try RealClientTests.run(
                    python,
                    [
                        RealClientTests.script, "paho", "localhost", String(port), "myhub.local", "tls-2",
                        RealClientTests.groupKey, "5", "\(dir)/ca.pem",
                    ]
                )
                #expect(paho.out.contains("\"acked\": 5"), "\(paho.out) \(paho.err)")
            }
            let (status, summary) = hub.terminate()
            #expect(status == 0)
            #expect(summary.contains("connections accepted"), "\(summary)")
            let json = try CLITests.run(["report", report, "--format", "json"])
            #expect(json.stdout.contains("\"messages_received\":\"\(Self.pahoAvailable ? 6 : 1)\""), "\(json.stdout)")
        }

        /// C2D at 50 ms to a device that subscribes with mosquitto_sub (QoS 1: it acknowledges each).
        @Test func mosquittoSubReceivesCloudToDevice() async throws {
            let sub = try #require(
                Env.which("mosquitto_sub"),
                "mosquitto_sub not found; .ci/run installs mosquitto-clients"
            )
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey(RealClientTests.groupKey), hostName: "myhub.local")
            configuration.cloudToDeviceInterval = .milliseconds(50)
            let hub = TestHub(configuration: configuration)
            let port = try await hub.start()[0].port
            // The device must be known to the hub before C2D is queued for it: connect once, then subscribe.
            let (username, token) = try RealClientTests.credentials("sub-1")
            let r = try RealClientTests.run(
                sub,
                [
                    "-h", "127.0.0.1", "-p", String(port), "-i", "sub-1", "-u", username, "-P", token, "-q", "1", "-C",
                    "3",
                    "-W", "10", "-v", "-t", "devices/sub-1/messages/devicebound/#",
                ]
            )
            #expect(r.status == 0, "\(r.err)")
            let lines = r.out.split(separator: "\n")
            #expect(lines.count == 3, "\(r.out)")
            #expect(lines.allSatisfy { $0.hasPrefix("devices/sub-1/messages/devicebound/%24.mid=") })
            let stats = await hub.stop()
            #expect(stats.c2dSent >= 3 && stats.c2dAcked >= 3)
            #expect(stats.series.series(.c2dSent).reduce(0, +) == stats.c2dSent)
        }

        @Test(.enabled(if: TLSAndCloudToDeviceTests.pahoAvailable))
        func pahoTwinAndCloudToDevice() async throws {
            let python = try #require(Env.which("python3"))
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey(RealClientTests.groupKey), hostName: "myhub.local")
            configuration.cloudToDeviceInterval = .milliseconds(100)
            let hub = TestHub(configuration: configuration)
            let port = try await hub.start()[0].port
            let r = try RealClientTests.run(
                python,
                [
                    RealClientTests.script, "twin", "127.0.0.1", String(port), "myhub.local", "twin-1",
                    RealClientTests.groupKey, "2",
                ]
            )
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out.contains("$iothub/twin/res/200/?$rid=1"), "\(r.out)")
            #expect(r.out.contains("$iothub/twin/res/204/?$rid=2&$version=2"), "\(r.out)")
            #expect(r.out.contains("\\\"reported\\\":{\\\"firmware\\\":\\\"2.1\\\"}"), "\(r.out)")
            #expect(r.out.contains("devices/twin-1/messages/devicebound/"), "\(r.out)")
            let stats = await hub.stop()
            #expect(stats.twinGets == 2 && stats.twinPatches == 1)
            #expect(stats.protocolErrors == 0)
        }

        /// Devices over TLS against the embedded hub (a certificate made for the run), and against the standalone hub
        /// with the CA file and a wrong CA.
        @Test func fleetOverTLS() throws {
            let report = CLITests.temp("tls-run.pb")
            defer { try? FileManager.default.removeItem(atPath: report) }
            let r = try CLITests.run([
                "run", "profiles/quickstart.yaml", "--devices", "20", "--set", "telemetry.messages=3", "--set",
                "telemetry.interval=100ms", "--set", "hub.tls=true", "--quiet", "--output", report,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("60 generated") || r.stdout.contains("60 acked"), "\(r.stdout)")
            let json = try CLITests.run(["report", report, "--format", "json"])
            #expect(json.stdout.contains("\"acked\":\"60\""), "\(json.stdout)")

            let dir = CLITests.temp("certs-run")
            let other = CLITests.temp("certs-other")
            defer {
                try? FileManager.default.removeItem(atPath: dir)
                try? FileManager.default.removeItem(atPath: other)
            }
            _ = try CLITests.run(["hub", "--generate-cert", dir, "--host", "localhost"])
            _ = try CLITests.run(["hub", "--generate-cert", other, "--host", "localhost"])
            let port = try Env.freePort()
            let hub = try BackgroundFleetstorm(
                [
                    "hub", "--tls-listen", "127.0.0.1:\(port)", "--tls-cert", "\(dir)/server.pem", "--tls-key",
                    "\(dir)/server-key.pem", "--duration", "60s",
                ],
                until: "mqtts://"
            )
            let base = [
                "run", "profiles/quickstart.yaml", "--devices", "10", "--set", "telemetry.messages=2", "--set",
                "telemetry.interval=100ms", "--hub", "mqtts://127.0.0.1:\(port)", "--quiet", "--output", report,
            ]
            let trusted = try CLITests.run(base + ["--ca-file", "\(dir)/ca.pem", "--set", "hub.server_name=localhost"])
            #expect(trusted.status == 0, "\(trusted.stderr)")
            #expect(trusted.stdout.contains("20 acked") || trusted.stdout.contains("acked 20"), "\(trusted.stdout)")
            let wrongCA = try CLITests.run(
                base + ["--ca-file", "\(other)/ca.pem", "--set", "hub.server_name=localhost", "--duration", "3s"]
            )
            let wrongJSON = try CLITests.run(["report", report, "--format", "json"])
            #expect(!wrongJSON.stdout.contains("\"acked\":\"20\""), "\(wrongCA.stdout)")
            #expect(
                !wrongJSON.stdout.contains("\"accepted\":\""),
                "no device got past the handshake: \(wrongJSON.stdout)"
            )
            #expect(wrongJSON.stdout.contains("mqtts://127.0.0.1"))
            // Reference §3.2: .NET (the default SDK) treats a TLS authentication failure as non-transient: every
            // device stops at once, and the summary says why in one line.
            #expect(wrongJSON.stdout.contains("\"tls_failed\":\"10\""), "\(wrongJSON.stdout)")
            #expect(
                wrongCA.stdout.contains("tls_untrusted: TLS: the hub's certificate is not trusted"),
                "\(wrongCA.stdout)"
            )
            // Python's TlsExchangeAuthError is transient: its devices keep retrying until the run stops them.
            let python = try CLITests.run(
                base + [
                    "--ca-file", "\(other)/ca.pem", "--set", "hub.server_name=localhost", "--set", "sdk=azure-python",
                    "--duration", "3s",
                ]
            )
            let pythonJSON = try CLITests.run(["report", report, "--format", "json"])
            #expect(pythonJSON.stdout.contains("\"stopped\":\"10\""), "\(python.stdout)")
            #expect(!pythonJSON.stdout.contains("tls_failed"))
            _ = hub.terminate()
        }
    }
}
