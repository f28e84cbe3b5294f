internal import FleetCore
internal import FleetTLS
internal import NIOCore
internal import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// The devices' TLS, one context per run shared by every device: the system's OpenSSL (`FleetTLS`), or
/// swift-nio-ssl when `FLEETSTORM_TLS=nio-ssl` is set in the environment (kept only so that
/// `scripts/bench-tls.sh` can measure both on the same commit; not a profile key).
enum DeviceTLS: Sendable {
    case openSSL(OpenSSLClientContext)
    case nioSSL(NIOSSLContext)

    /// The handler for one connection. `name` is what the certificate must be for (a DNS name, also sent as SNI, or
    /// an IP address).
    func handler(verifying name: String?) throws -> any ChannelHandler {
        switch self {
        case .openSSL(let context):
            return OpenSSLClientHandler(context: context, serverName: name)
        case .nioSSL(let context):
            let dnsName = name.flatMap { OpenSSLClientHandler.isIPAddress($0) ? nil : $0 }
            return try NIOSSLClientHandler(context: context, serverHostname: dnsName)
        }
    }

    /// Which library the environment asks for.
    static var usesNIOSSL: Bool {
        guard let value = getenv("FLEETSTORM_TLS") else { return false }
        return String(cString: value) == "nio-ssl"
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
        guard usesNIOSSL else {
            do { return .openSSL(try OpenSSLClientContext(trustingPEM: pem)) } catch { throw notPEM }
        }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            configuration.certificateVerification = .fullVerification
            configuration.minimumTLSVersion = .tlsv12
            // A device that ends a connection (a timeout, a failure, the run's end) sends close_notify and closes its
            // socket, as the SDKs' TLS stacks do: it never waits for the hub's close_notify (NIO's default waits up
            // to 5 s, which a blackholed hub never sends, and which would add 5 s to every measured recovery).
            configuration.shutdownTimeout = .zero
            return .nioSSL(try NIOSSLContext(configuration: configuration))
        } catch {
            throw notPEM
        }
    }
}
