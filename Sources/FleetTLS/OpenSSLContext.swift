internal import COpenSSL

/// One TLS client configuration on the system's OpenSSL: the CA certificates the devices trust, TLS 1.2 and 1.3,
/// peer verification, record buffers released while a connection is idle (`SSL_MODE_RELEASE_BUFFERS`). One per run,
/// shared by every device: OpenSSL's `SSL_CTX` may be shared by connections on any thread once configured.
public final class OpenSSLClientContext: @unchecked Sendable {
    /// Owned; configured in `init` and only read afterwards.
    let ctx: OpaquePointer
    /// How many CA certificates the context trusts.
    public let trustedCertificates: Int

    /// Trusts exactly the certificates in `caPEM` (one or more PEM blocks).
    public init(trustingPEM caPEM: String) throws(OpenSSLError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLError(.configuration, "cannot create a TLS context")
        }
        self.ctx = ctx
        // From here on `deinit` frees the context, also when a later step throws.
        var count = 0
        do {
            count = try Self.addTrusted(caPEM, to: ctx)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        trustedCertificates = count
        _ = fleet_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        // Release the 16 KiB+ read and write record buffers whenever a connection has nothing buffered: an idle
        // device then holds no record buffer at all. Partial writes and moving buffers: our BIO takes every byte.
        _ = fleet_SSL_CTX_set_mode(
            ctx,
            Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        )
        // A device never resumes a session across connections (each reconnect is a full handshake, as the SDKs do).
        _ = fleet_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
    }

    deinit { SSL_CTX_free(ctx) }

    /// Adds every certificate of `pem` to the context's trust store; returns how many.
    private static func addTrusted(_ pem: String, to ctx: OpaquePointer) throws(OpenSSLError) -> Int {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let bytes = Array(pem.utf8)
        let store = SSL_CTX_get_cert_store(ctx)
        var count = 0
        let added: Bool = bytes.withUnsafeBufferPointer { raw in
            guard let base = raw.baseAddress, let bio = BIO_new_mem_buf(base, Int32(clamping: raw.count)) else {
                return false
            }
            defer { BIO_free(bio) }
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                defer { X509_free(certificate) }
                guard X509_STORE_add_cert(store, certificate) == 1 else { return false }
                count += 1
            }
            return true
        }
        guard added, count > 0 else { throw OpenSSLError(.configuration, "not a PEM certificate") }
        return count
    }
}
