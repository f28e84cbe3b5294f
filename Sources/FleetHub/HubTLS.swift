internal import FleetHubCore
internal import FleetTLS
public import Foundation

/// Certificates for the test hub's TLS listeners: a self-signed CA and a server certificate it signs, for a host
/// name (plus localhost, 127.0.0.1 and ::1), so real SDK clients can trust the hub by its CA file.
public enum HubCertificates {
    public struct Bundle: Sendable, Hashable {
        public var caPEM: String
        public var serverPEM: String
        public var serverKeyPEM: String
    }

    /// Makes a fresh CA and server certificate (P-256, valid from an hour ago for 825 days; the server certificate
    /// for `serverValidity` when given, e.g. one that has expired, for tests of the devices' verification).
    public static func generate(host: String, serverValidity: Range<Date>? = nil) throws(HubError) -> Bundle {
        let ca = try DeviceCertificates.makeCA(commonName: "FleetStorm test hub CA")
        do {
            let server = try ca.sign(
                commonName: host,
                validity: serverValidity,
                usage: .server(
                    dnsNames: host == "localhost" ? [host] : [host, "localhost"],
                    ipAddresses: ["127.0.0.1", "::1"]
                )
            )
            return Bundle(caPEM: ca.certificatePEM, serverPEM: server.certificatePEM, serverKeyPEM: server.keyPEM)
        } catch {
            throw HubError(address: "-", reason: "cannot make a certificate for \(host): \(error.detail)")
        }
    }

    /// Writes `ca.pem`, `server.pem` and `server-key.pem` (mode 0600) into `directory`; returns their paths.
    @discardableResult
    public static func write(_ bundle: Bundle, to directory: String) throws(HubError) -> [String] {
        let files = [
            ("ca.pem", bundle.caPEM, 0o644), ("server.pem", bundle.serverPEM, 0o644),
            ("server-key.pem", bundle.serverKeyPEM, 0o600),
        ]
        try writeFiles(files, to: directory)
        return files.map { URL(fileURLWithPath: directory).appendingPathComponent($0.0).path }
    }

    /// Writes each (name, text, mode) into `directory` (made if missing); returns how many.
    @discardableResult
    static func writeFiles(_ files: [(String, String, Int)], to directory: String) throws(HubError) -> Int {
        let dir = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw HubError(address: directory, reason: "cannot create the directory: \(error.localizedDescription)")
        }
        for (name, text, mode) in files {
            let path = dir.appendingPathComponent(name).path
            guard
                FileManager.default.createFile(
                    atPath: path,
                    contents: Data(text.utf8),
                    attributes: [.posixPermissions: mode]
                )
            else { throw HubError(address: directory, reason: "cannot write \(path)") }
        }
        return files.count
    }
}

/// The server side of TLS on the system's OpenSSL (`FleetTLS`): a certificate chain and key, loaded once into one
/// server context that every connection shares.
public struct HubTLS: Sendable {
    let context: OpenSSLContext

    /// From PEM text (the embedded hub's generated bundle). `clientCertificates`: ask devices for X.509 client
    /// certificates and trust the CAs in this PEM text (empty: none, thumbprints only).
    public init(certificatePEM: String, keyPEM: String, clientCertificates: String? = nil) throws(HubError) {
        do {
            context = try OpenSSLContext(
                certificateChainPEM: certificatePEM,
                keyPEM: keyPEM,
                clientCertificates: clientCertificates
            )
        } catch {
            throw HubError(address: "-", reason: "TLS certificate or key not usable: \(error.detail)")
        }
    }

    /// From PEM files (`--tls-cert`, `--tls-key`). Errors name the file, never the key's contents.
    public init(certificateFile: String, keyFile: String, clientCertificates: String? = nil) throws(HubError) {
        guard let cert = try? String(contentsOfFile: certificateFile, encoding: .utf8) else {
            throw HubError(address: "-", reason: "--tls-cert \(certificateFile): cannot read the file")
        }
        guard let key = try? String(contentsOfFile: keyFile, encoding: .utf8) else {
            throw HubError(address: "-", reason: "--tls-key \(keyFile): cannot read the file")
        }
        do {
            try self.init(certificatePEM: cert, keyPEM: key, clientCertificates: clientCertificates)
        } catch {
            throw HubError(
                address: "-",
                reason: "--tls-cert \(certificateFile) / --tls-key \(keyFile): not a PEM certificate and matching key"
            )
        }
    }

    func handler() -> OpenSSLHandler { OpenSSLHandler(context: context) }
}

extension PeerCertificate {
    /// What the TLS handshake presented, as the hub's rules read it.
    convenience init(_ presented: TLSPeerCertificate) {
        self.init(
            commonName: presented.commonName,
            sha1Thumbprint: presented.sha1Thumbprint,
            sha256Thumbprint: presented.sha256Thumbprint,
            chainVerified: presented.chainVerified
        )
    }
}
