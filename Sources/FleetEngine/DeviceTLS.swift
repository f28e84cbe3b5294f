internal import FleetCore
internal import FleetTLS
internal import NIOCore

/// The devices' TLS on the system's OpenSSL (`FleetTLS`): one context per run, shared by every device.
struct DeviceTLS: Sendable {
    let context: OpenSSLContext
    /// X.509 devices' certificates by device id, parsed once (empty without X.509).
    var identities: [String: OpenSSLIdentity] = [:]

    /// The handler for one connection. `name` is what the certificate must be for (a DNS name, also sent as SNI, or
    /// an IP address); `deviceID`: the device whose certificate to present (X.509).
    func handler(verifying name: String?, deviceID: String? = nil) -> any ChannelHandler {
        OpenSSLHandler(context: context, serverName: name, identity: deviceID.flatMap { identities[$0] })
    }

    /// X.509 devices' identities: the certificates the run made (`deviceCertificates`), else `{id}.pem` and
    /// `{id}-key.pem` from `auth.certificates`. Errors name the device or the file, never a key.
    static func identities(
        _ auth: DeviceAuth?,
        _ settings: Scenario.TLS,
        ids: [String]
    ) throws(FleetRunError) -> [String: OpenSSLIdentity] {
        guard case .x509(let directory) = auth?.keys else { return [:] }
        var out: [String: OpenSSLIdentity] = [:]
        out.reserveCapacity(ids.count)
        for id in ids {
            let pair: DeviceAuth.Certificate
            if let made = settings.deviceCertificates[id] {
                pair = made
            } else if let directory {
                let certificate = "\(directory)/\(id).pem"
                let key = "\(directory)/\(id)-key.pem"
                guard let text = try? String(contentsOfFile: certificate, encoding: .utf8) else {
                    throw FleetRunError(
                        .tls,
                        "auth.certificates: cannot read \(certificate) (make the files with fleetstorm hub "
                            + "--generate-device-certs \(directory) --devices N)"
                    )
                }
                guard let keyText = try? String(contentsOfFile: key, encoding: .utf8) else {
                    throw FleetRunError(.tls, "auth.certificates: cannot read \(key)")
                }
                pair = DeviceAuth.Certificate(certificatePEM: text, keyPEM: keyText)
            } else {
                throw FleetRunError(.tls, "auth.mode x509: no certificate for device \(id); set auth.certificates")
            }
            do {
                out[id] = try OpenSSLIdentity(certificatePEM: pair.certificatePEM, keyPEM: pair.keyPEM)
            } catch {
                throw FleetRunError(.tls, "auth.certificates: device \(id): \(error.detail)")
            }
        }
        return out
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
