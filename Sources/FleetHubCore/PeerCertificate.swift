/// A device's TLS client certificate as the hub's front saw it in the handshake: the facts X.509 authentication
/// decides on. The front fills it in (from the TLS layer); the core only compares. A class, so that a connection
/// without one pays a nil reference, not the strings' room.
public final class PeerCertificate: Sendable {
    /// The subject's common name (IoT Hub: the device id).
    public let commonName: String?
    /// SHA-1 and SHA-256 thumbprints, upper-case hex.
    public let sha1Thumbprint: String
    public let sha256Thumbprint: String
    /// Whether the certificate chains to a CA the hub trusts.
    public let chainVerified: Bool

    public init(commonName: String?, sha1Thumbprint: String, sha256Thumbprint: String, chainVerified: Bool) {
        self.commonName = commonName
        self.sha1Thumbprint = sha1Thumbprint
        self.sha256Thumbprint = sha256Thumbprint
        self.chainVerified = chainVerified
    }

    /// Whether a registered thumbprint (either hash, any case, colons or spaces allowed) is this certificate's.
    public func matches(thumbprint: String) -> Bool {
        let clean = String(thumbprint.uppercased().filter { $0 != ":" && $0 != " " })
        return !clean.isEmpty && (clean == sha1Thumbprint || clean == sha256Thumbprint)
    }
}
