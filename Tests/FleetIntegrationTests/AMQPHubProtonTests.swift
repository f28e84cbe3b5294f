import FleetCore
import FleetHub
import FleetHubCore
import Foundation
import Testing

// Qpid Proton as an IoT Hub device of our hub beyond telemetry and C2D: X.509 without SASL or CBS, and the twin.
extension IntegrationTests.AMQPHubTests {
    /// Reference §11.1: an X.509 device opens AMQP without SASL and puts no token; its TLS certificate is its
    /// identity. Qpid Proton presents certificates from our fleet CA: the device the certificate names sends 5
    /// messages, all accepted; a certificate naming another device, and one from another CA, get their telemetry link
    /// refused (amqp:unauthorized-access) and nothing counted.
    @Test(
        "Proton over AMQPS with X.509 client certificates, no SASL, no CBS: the named device is accepted, others refused",
        .enabled(if: ProtonBroker.available || Env.isCI, "python-qpid-proton needed")
    )
    func protonX509() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-amqps-x509-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bundle = try HubCertificates.generate(host: "localhost")
        try HubCertificates.write(bundle, to: dir.path)
        let fleet = try DeviceCertificates.makeCA()
        let other = try DeviceCertificates.makeCA(commonName: "another CA")
        let devices = try DeviceCertificates.issue(["dev-1", "dev-2"], by: fleet)
        let strangers = try DeviceCertificates.issue(["dev-1"], by: other)
        _ = try DeviceCertificates.write(fleet, devices, to: dir.appendingPathComponent("fleet").path)
        _ = try DeviceCertificates.write(other, strangers, to: dir.appendingPathComponent("other").path)
        var configuration = HubConfiguration()
        configuration.listen = []
        configuration.amqpsListen = [("127.0.0.1", 0)]
        configuration.tls = try HubTLS(
            certificatePEM: bundle.serverPEM,
            keyPEM: bundle.serverKeyPEM,
            clientCertificates: fleet.certificatePEM
        )
        configuration.auth = HubAuthenticator(keys: .x509(thumbprints: [:]), hostName: "myhub.local")
        let hub = TestHub(configuration: configuration)
        let port = try await hub.start()[0].port
        func device(_ id: String, presenting folder: String, as name: String) throws -> [String: Any] {
            let client = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/amqp_x509_device.py")
            let certificates = dir.appendingPathComponent(folder).path
            let r = try IntegrationTests.RealClientTests.run(
                "/usr/bin/env",
                [
                    "python3", client.path, String(port), "myhub.local", id, "\(certificates)/\(name).pem",
                    "\(certificates)/\(name)-key.pem", "\(dir.path)/ca.pem", "5",
                ]
            )
            #expect(r.status == 0, "\(r.err)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)")
        }
        let named = try device("dev-1", presenting: "fleet", as: "dev-1")
        #expect(named["accepted"] as? Int == 5 && named["link_error"] is NSNull, "\(named)")
        let otherDevice = try device("dev-1", presenting: "fleet", as: "dev-2")
        #expect(otherDevice["accepted"] as? Int == 0)
        #expect(otherDevice["link_error"] as? String == "amqp:unauthorized-access", "\(otherDevice)")
        let otherCA = try device("dev-1", presenting: "other", as: "dev-1")
        #expect(otherCA["accepted"] as? Int == 0)
        #expect(otherCA["link_error"] as? String == "amqp:unauthorized-access", "\(otherCA)")
        let stats = await hub.stop()
        #expect(stats.messagesReceived == 5)
        #expect(stats.connectionsAccepted == 1)
        #expect(stats.refusedByReason.values.reduce(0, +) == 2, "\(stats.refusedByReason)")
    }
}

extension IntegrationTests.AMQPHubTests {
    /// Reference §11.2: the twin over AMQP is a sender and a receiver on `…/devices/{id}/twin`; requests carry the
    /// annotation `operation` (and `resource`) and a correlation-id, answers the annotation `status` (and `version`).
    /// Qpid Proton, after its CBS put-token: GET (200, an empty reported document), PATCH of the reported properties
    /// (204 with version 2), GET again (the reported properties as patched), and the desired-notification switch (200).
    @Test(
        "Proton's twin over AMQP: GET, PATCH reported, GET again, desired notifications on; answered by the hub's twin store",
        .enabled(if: ProtonBroker.available || Env.isCI, "python-qpid-proton needed")
    )
    func protonTwin() async throws {
        let (hub, port) = try await Self.hub()
        let client = Env.repo.appendingPathComponent("Tests/FleetIntegrationTests/Clients/amqp_twin.py").path
        let r = try IntegrationTests.RealClientTests.run(
            "/usr/bin/env",
            ["python3", client, "amqp://127.0.0.1:\(port)", "myhub.local", "twin-1", Self.groupKey]
        )
        #expect(r.status == 0, "\(r.err)")
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any],
            "\(r.out)"
        )
        #expect(result["cbs_status"] as? Int == 200)
        let answers = try #require(result["answers"] as? [[String: Any]], "\(result)")
        #expect(answers.map { $0["request"] as? String } == ["get-1", "patch-1", "get-2", "put-1"], "\(answers)")
        #expect(answers.map { $0["status"] as? Int } == [200, 204, 200, 200], "\(answers)")
        #expect(answers[1]["version"] as? Int == 2, "\(answers)")
        let first = try #require((answers[0]["body"] as? String)?.data(using: .utf8))
        let second = try #require((answers[2]["body"] as? String)?.data(using: .utf8))
        let before = try #require(try JSONSerialization.jsonObject(with: first) as? [String: Any])
        let after = try #require(try JSONSerialization.jsonObject(with: second) as? [String: Any])
        #expect((before["reported"] as? [String: Any])?.isEmpty == true, "\(before)")
        #expect((after["reported"] as? [String: Any])?["temperature"] as? Double == 21.5, "\(after)")
        let stats = await hub.stop()
        #expect(stats.twinGets == 2 && stats.twinPatches == 1)
    }
}
