public import FleetCore
internal import FleetTLS
public import Foundation

/// X.509 device identities (IoT Hub's CA-signed devices): a fleet CA, and per device a P-256 key and a certificate
/// the CA signs with the device id as its common name, for client authentication. Made on the system's OpenSSL.
public enum DeviceCertificates {
    /// A CA: its certificate (what a hub or a device trusts) and the key that signs the certificates it issues.
    public struct FleetCA: Sendable {
        let authority: OpenSSLCertificateAuthority
        public var certificatePEM: String { authority.certificatePEM }
        /// PEM of the CA's private key (written with mode 0600; never printed).
        public var keyPEM: String { authority.keyPEM }

        /// A certificate for a fresh P-256 key, signed by this CA: for `commonName`, valid for `validity` (default:
        /// from an hour ago for 825 days); its PEM and the key's.
        func sign(
            commonName: String,
            validity: Range<Date>?,
            usage: OpenSSLCertificateAuthority.Usage
        ) throws(OpenSSLError) -> DeviceAuth.Certificate {
            let issued = try authority.issue(
                commonName: commonName,
                validity: validity ?? DeviceCertificates.defaultValidity(),
                usage: usage
            )
            return DeviceAuth.Certificate(certificatePEM: issued.certificatePEM, keyPEM: issued.keyPEM)
        }
    }

    /// From an hour ago for 825 days (the longest TLS server certificates may live).
    static func defaultValidity() -> Range<Date> {
        let now = Date()
        return (now - 3600)..<(now + 825 * 86400)
    }

    /// A fresh CA, P-256, valid from an hour ago for 825 days (the devices' fleet CA; the hub's CA too).
    public static func makeCA(commonName: String = "FleetStorm device CA") throws(HubError) -> FleetCA {
        do {
            return FleetCA(
                authority: try OpenSSLCertificateAuthority(
                    commonName: commonName,
                    organization: "FleetStorm",
                    validity: defaultValidity()
                )
            )
        } catch {
            throw HubError(address: "-", reason: "cannot make a device CA: \(error.detail)")
        }
    }

    /// A certificate and key for each of `ids`, signed by `ca` (common name = the id; `validity` defaults to an hour
    /// ago for 825 days, e.g. an expired range for tests).
    public static func issue(
        _ ids: some Sequence<String>,
        by ca: FleetCA,
        validity: Range<Date>? = nil
    ) throws(HubError) -> [String: DeviceAuth.Certificate] {
        var out: [String: DeviceAuth.Certificate] = [:]
        for id in ids {
            do {
                out[id] = try ca.sign(commonName: id, validity: validity, usage: .client)
            } catch {
                throw HubError(address: "-", reason: "cannot make a certificate for device \(id): \(error.detail)")
            }
        }
        return out
    }

    /// Writes `ca.pem` and `ca-key.pem` (0600) and `{id}.pem` and `{id}-key.pem` (0600) per device into `directory`;
    /// returns how many files.
    @discardableResult
    public static func write(
        _ ca: FleetCA,
        _ devices: [String: DeviceAuth.Certificate],
        to directory: String
    ) throws(HubError) -> Int {
        var files: [(String, String, Int)] = [("ca.pem", ca.certificatePEM, 0o644), ("ca-key.pem", ca.keyPEM, 0o600)]
        for (id, pair) in devices.sorted(by: { $0.key < $1.key }) {
            guard !id.contains("/"), !id.hasPrefix(".") else {
                throw HubError(address: directory, reason: "device id \(id) cannot be a file name")
            }
            files.append(("\(id).pem", pair.certificatePEM, 0o644))
            files.append(("\(id)-key.pem", pair.keyPEM, 0o600))
        }
        return try HubCertificates.writeFiles(files, to: directory)
    }
}
