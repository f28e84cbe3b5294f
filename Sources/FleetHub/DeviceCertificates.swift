internal import Crypto
public import FleetCore
public import Foundation
internal import SwiftASN1
internal import X509

/// X.509 device identities (IoT Hub's CA-signed devices): a fleet CA, and per device a P-256 key and a certificate
/// the CA signs with the device id as its common name, for client authentication.
public enum DeviceCertificates {
    /// A CA: its certificate (what a hub or a device trusts) and the key that signs the certificates it issues.
    public struct FleetCA {
        public let certificatePEM: String
        /// PEM of the CA's private key (written with mode 0600; never printed).
        public let keyPEM: String
        let key: P256.Signing.PrivateKey
        let name: DistinguishedName

        /// A certificate for a fresh P-256 key, signed by this CA: for `commonName`, valid for `validity` (default:
        /// from an hour ago for 825 days), with `extensions`; its PEM and the key's.
        func sign(
            commonName: String,
            validity: Range<Date>?,
            extensions: Certificate.Extensions
        ) throws -> DeviceAuth.Certificate {
            let leafKey = P256.Signing.PrivateKey()
            let now = Date()
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: .init(leafKey.publicKey),
                notValidBefore: validity?.lowerBound ?? now - 3600,
                notValidAfter: validity?.upperBound ?? now + 825 * 86400,
                issuer: name,
                subject: try DistinguishedName { CommonName(commonName) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: .init(key)
            )
            return DeviceAuth.Certificate(
                certificatePEM: try certificate.serializeAsPEM().pemString + "\n",
                keyPEM: leafKey.pemRepresentation + "\n"
            )
        }
    }

    /// A fresh CA, P-256, valid from an hour ago for 825 days (the devices' fleet CA; the hub's CA too).
    public static func makeCA(commonName: String = "FleetStorm device CA") throws(HubError) -> FleetCA {
        do {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName {
                OrganizationName("FleetStorm")
                CommonName(commonName)
            }
            let now = Date()
            let ca = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: .init(key.publicKey),
                notValidBefore: now - 3600,
                notValidAfter: now + 825 * 86400,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(key)
            )
            return FleetCA(
                certificatePEM: try ca.serializeAsPEM().pemString + "\n",
                keyPEM: key.pemRepresentation + "\n",
                key: key,
                name: name
            )
        } catch {
            throw HubError(address: "-", reason: "cannot make a device CA: \(error)")
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
                out[id] = try ca.sign(
                    commonName: id,
                    validity: validity,
                    extensions: try Certificate.Extensions {
                        Critical(BasicConstraints.notCertificateAuthority)
                        Critical(KeyUsage(digitalSignature: true))
                        try ExtendedKeyUsage([.clientAuth])
                    }
                )
            } catch {
                throw HubError(address: "-", reason: "cannot make a certificate for device \(id): \(error)")
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
