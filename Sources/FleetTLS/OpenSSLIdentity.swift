internal import COpenSSL

/// A certificate and its private key, parsed once: a device's X.509 identity, presented on every connection it makes.
/// Errors never quote the key.
public final class OpenSSLIdentity: @unchecked Sendable {
    /// Owned (`X509*`, `EVP_PKEY*`); only read after `init`. Each connection takes its own reference.
    let certificate: OpaquePointer
    let key: OpaquePointer

    public init(certificatePEM: String, keyPEM: String) throws(OpenSSLError) {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard
            let certificate = OpenSSLContext.withBIO(
                certificatePEM,
                { $0.flatMap { PEM_read_bio_X509($0, nil, nil, nil) } }
            )
        else { throw OpenSSLError(.configuration, "not a PEM certificate") }
        guard let key = OpenSSLContext.withBIO(keyPEM, { $0.flatMap { PEM_read_bio_PrivateKey($0, nil, nil, nil) } })
        else {
            X509_free(certificate)
            throw OpenSSLError(.configuration, "not a PEM private key")
        }
        guard X509_check_private_key(certificate, key) == 1 else {
            X509_free(certificate)
            EVP_PKEY_free(key)
            throw OpenSSLError(.configuration, "the private key does not match the certificate")
        }
        self.certificate = certificate
        self.key = key
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// Presents this identity on `ssl` (a client connection about to handshake).
    func use(on ssl: OpaquePointer) -> Bool {
        SSL_use_certificate(ssl, certificate) == 1 && SSL_use_PrivateKey(ssl, key) == 1
    }
}

/// The certificate a client presented, as the server saw it after the handshake (fired up the pipeline as a user
/// event just before `TLSUserEvent.handshakeCompleted`, only when the server asked for one and the client sent one).
public struct TLSPeerCertificate: Sendable, Hashable {
    /// The subject's common name (IoT Hub: the device id), nil when it has none.
    public var commonName: String?
    /// SHA-1 and SHA-256 of the certificate's DER bytes, upper-case hex without separators (as IoT Hub shows them).
    public var sha1Thumbprint: String
    public var sha256Thumbprint: String
    /// Whether the certificate chains to one of the CAs the server context trusts for clients.
    public var chainVerified: Bool

    public init(commonName: String?, sha1Thumbprint: String, sha256Thumbprint: String, chainVerified: Bool) {
        self.commonName = commonName
        self.sha1Thumbprint = sha1Thumbprint
        self.sha256Thumbprint = sha256Thumbprint
        self.chainVerified = chainVerified
    }

    /// What `ssl`'s peer presented; nil when it presented nothing.
    static func of(_ ssl: OpaquePointer) -> TLSPeerCertificate? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        var name = [CChar](repeating: 0, count: 256)
        let length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, &name, 256)
        let commonName =
            length > 0 ? String(decoding: name.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        return TLSPeerCertificate(
            commonName: commonName,
            sha1Thumbprint: digest(certificate, EVP_sha1()),
            sha256Thumbprint: digest(certificate, EVP_sha256()),
            chainVerified: SSL_get_verify_result(ssl) == X509_V_OK
        )
    }

    private static func digest(_ certificate: OpaquePointer, _ md: OpaquePointer?) -> String {
        var bytes = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, md, &bytes, &length) == 1 else { return "" }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes.prefix(Int(length)) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
