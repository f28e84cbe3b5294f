import FleetCore
import FleetHub
import FleetHubCore
import Foundation
import Testing

/// Where `.ci/run` puts the SDK's venv (nil when it is not there).
enum AzureSDK {
    static let venv = Env.repo.appendingPathComponent(".build-python/azure-iot-device/bin/python").path
    static var python: String? { FileManager.default.isExecutableFile(atPath: venv) ? venv : nil }
}

extension SecondLaneTests {
    /// The official Azure IoT device SDK for Python (`azure-iot-device`, in a venv of its own: it needs paho-mqtt 1.x,
    /// the other tests paho-mqtt 2) against our hub over TLS, with a SAS connection string and with an X.509
    /// certificate from our generator. The SDK connects to port 8883 (it has no port setting), so the hub listens
    /// there: the test fails with a clear message when something else holds it.
    @Suite(
        "The official Azure Python SDK against the hub over TLS",
        .serialized,
        .enabled(if: AzureSDK.python != nil || Env.isCI, "azure-iot-device venv missing (.ci/run makes it)")
    )
    struct AzureSDKTests {
        static var python: String? { AzureSDK.python }
        static let script = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/azure_sdk_client.py")
            .path

        /// Our hub on 127.0.0.1:8883 with TLS (a certificate for localhost) and `auth`; `clientCAs` for X.509.
        static func hub(_ auth: HubAuthenticator, dir: URL, clientCAs: String? = nil) async throws -> TestHub {
            let bundle = try HubCertificates.generate(host: "localhost")
            try HubCertificates.write(bundle, to: dir.path)
            var configuration = HubConfiguration()
            configuration.listen = []
            configuration.tlsListen = [("127.0.0.1", 8883)]
            configuration.tls = try HubTLS(
                certificatePEM: bundle.serverPEM,
                keyPEM: bundle.serverKeyPEM,
                clientCertificates: clientCAs
            )
            configuration.auth = auth
            let hub = TestHub(configuration: configuration)
            do { _ = try await hub.start() } catch {
                throw TestFailure("the hub cannot listen on 127.0.0.1:8883 (the SDK's fixed port): \(error)")
            }
            return hub
        }

        @Test("SAS: a connection string with a key derived from the hub's group key; 5 messages acknowledged")
        func sasConnectionString() async throws {
            let python = try #require(Self.python, "run .ci/run: it makes the azure-iot-device venv")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-sdk-\(UUID())")
            defer { try? FileManager.default.removeItem(at: dir) }
            let group = RealClientTests.groupKey
            let hub = try await Self.hub(HubAuthenticator(keys: .groupKey(group), hostName: "localhost"), dir: dir)
            let key = try SASToken.deriveDeviceKey(groupKey: group, registrationID: "sdk-sas-1")
            let r = try RealClientTests.run(
                python,
                [
                    Self.script, "sas", "localhost", dir.appendingPathComponent("ca.pem").path, "5",
                    "HostName=localhost;DeviceId=sdk-sas-1;SharedAccessKey=\(key)",
                ]
            )
            let stats = await hub.stop()
            #expect(r.status == 0 && r.out.contains("sent 5"), "\(r.out)\(r.err)")
            #expect(stats.connectionsAccepted == 1 && stats.messagesReceived == 5, "\(stats.refusedByReason)")
        }

        @Test("X.509: certificates from our generator; the fleet CA's device connects, another CA's is refused")
        func x509Certificates() async throws {
            let python = try #require(Self.python, "run .ci/run: it makes the azure-iot-device venv")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-sdk-\(UUID())")
            defer { try? FileManager.default.removeItem(at: dir) }
            let fleet = try DeviceCertificates.makeCA()
            let other = try DeviceCertificates.makeCA()
            try DeviceCertificates.write(
                fleet,
                try DeviceCertificates.issue(["sdk-x509-1"], by: fleet),
                to: dir.appendingPathComponent("fleet").path
            )
            try DeviceCertificates.write(
                other,
                try DeviceCertificates.issue(["sdk-x509-2"], by: other),
                to: dir.appendingPathComponent("other").path
            )
            let hub = try await Self.hub(
                HubAuthenticator(keys: .x509(thumbprints: [:]), hostName: "localhost"),
                dir: dir,
                clientCAs: fleet.certificatePEM
            )
            var outputs: [String] = []
            for (id, folder) in [("sdk-x509-1", "fleet"), ("sdk-x509-2", "other")] {
                let r = try RealClientTests.run(
                    python,
                    [
                        Self.script, "x509", "localhost", dir.appendingPathComponent("ca.pem").path, "3", id,
                        dir.appendingPathComponent("\(folder)/\(id).pem").path,
                        dir.appendingPathComponent("\(folder)/\(id)-key.pem").path,
                    ]
                )
                #expect(r.status == 0, "\(r.err)")
                outputs.append(r.out)
            }
            let stats = await hub.stop()
            #expect(outputs[0].contains("sent 3"), "\(outputs[0])")
            #expect(outputs[1].contains("refused"), "the other CA's device: \(outputs[1])")
            #expect(stats.connectionsAccepted == 1 && stats.messagesReceived == 3)
            #expect(stats.refusedByReason["untrusted_certificate"] ?? 0 >= 1, "\(stats.refusedByReason)")
        }
    }
}
