internal import FleetCore
internal import FleetTLS
internal import NIOCore

/// The devices' TLS on the system's OpenSSL (`FleetTLS`): one context per run, shared by every device.
struct DeviceTLS: Sendable {
    let context: OpenSSLContext

    /// The handler for one connection. `name` is what the certificate must be for (a DNS name, also sent as SNI, or
    /// an IP address).
    func handler(verifying name: String?) -> any ChannelHandler {
        OpenSSLHandler(context: context, serverName: name)
    }

    /// The devices' TLS context: trust exactly the scenario's CA (the embedded hub's, or `hub.ca_file`).
    static func client(_ settings: Scenario.TLS?) throws(FleetRunError) -> DeviceTLS? {
        guard let settings else { return nil }
        let pem: String
        if let text = settings.caPEM {
            pem = text
        } else if let file = settings.caFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw FleetRunError(.tls, "hub.ca_file \(file): cannot read the file")
            }
            pem = text
        } else {
            throw FleetRunError(.tls, "TLS needs the CA to trust: set hub.ca_file (e.g. certs/ca.pem)")
        }
        let notPEM = FleetRunError(
            .tls,
            "hub.ca_file \(settings.caFile ?? "(embedded hub CA)"): holds no PEM certificate; give the CA's certificate"
                + " in PEM (-----BEGIN CERTIFICATE-----)"
        )
        do { return DeviceTLS(context: try OpenSSLContext(trustingPEM: pem)) } catch { throw notPEM }
    }
}
