internal import COpenSSL

#if canImport(Glibc)
internal import Glibc
#endif

/// One TLS configuration on the system's OpenSSL, shared by every connection it serves: OpenSSL's `SSL_CTX` may be
/// shared by connections on any thread once configured. A client context (the devices': one per run) trusts the CA
/// certificates given and verifies the server; a server context (the hub's) presents a certificate chain and key.
/// Both: TLS 1.2 and 1.3, record buffers released while a connection is idle (`SSL_MODE_RELEASE_BUFFERS`), no
/// session cache.
public final class OpenSSLContext: @unchecked Sendable {
    /// Owned; configured in `init` and only read afterwards.
    let ctx: OpaquePointer
    /// True for a server context: its connections wait for a ClientHello.
    public let isServer: Bool
    /// How many CA certificates a client context trusts (0 for a server context).
    public let trustedCertificates: Int
    /// Whether its connections run TLS 1.3's record layer themselves once the handshake is done (`TLS13Records`),
    /// freeing OpenSSL's connection object; false keeps OpenSSL's for the whole connection.
    public let protectsRecordsItself: Bool

    /// The default for `protectsRecordsItself`: true, unless the environment sets `FLEETSTORM_TLS_RECORDS=openssl`
    /// (a switch for side-by-side measurements, not a profile key).
    public static var recordsByDefault: Bool {
        guard let value = getenv("FLEETSTORM_TLS_RECORDS") else { return true }
        return String(cString: value) != "openssl"
    }

    /// A client context that trusts exactly the certificates in `caPEM` (one or more PEM blocks).
    public init(trustingPEM caPEM: String, protectsRecordsItself: Bool = recordsByDefault) throws(OpenSSLError) {
        let ctx = try Self.make(TLS_client_method())
        do {
            trustedCertificates = try Self.addTrusted(caPEM, to: ctx)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
        isServer = false
        self.protectsRecordsItself = protectsRecordsItself
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        // A device never resumes a session across connections (each reconnect is a full handshake, as the SDKs do).
        _ = fleet_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
    }

    /// A server context presenting `certificateChainPEM` (the server's certificate first, then any intermediates)
    /// with the private key in `keyPEM`. Errors never quote the key.
    ///
    /// `clientCertificates`: ask every client for a certificate (X.509 devices), and trust the CAs in the PEM text
    /// given (nil or empty: none, for thumbprint-registered self-signed devices). The handshake never fails over a
    /// client's certificate, as IoT Hub's does not: the handler reports what the client presented
    /// (`TLSPeerCertificate`) and the hub decides at CONNECT, where the device gets its refusal code.
    public init(
        certificateChainPEM: String,
        keyPEM: String,
        clientCertificates: String? = nil,
        protectsRecordsItself: Bool = recordsByDefault
    ) throws(OpenSSLError) {
        let ctx = try Self.make(TLS_server_method())
        do {
            try Self.useChain(certificateChainPEM, keyPEM: keyPEM, in: ctx)
            if let clientCertificates {
                if !clientCertificates.isEmpty { _ = try Self.addTrusted(clientCertificates, to: ctx) }
                // Verified, but never refused here: the callback accepts whatever the chain's result.
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, { _, _ in 1 })
            }
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
        isServer = true
        self.protectsRecordsItself = protectsRecordsItself
        trustedCertificates = 0
        // No server-side session cache: every device's connect is a full handshake, and a cache would hold memory
        // per connection the hub has seen. No TLS 1.3 session tickets either (devices never resume): the handler's
        // own record layer then starts at the first application record.
        _ = fleet_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        _ = SSL_CTX_set_num_tickets(ctx, 0)
    }

    deinit { SSL_CTX_free(ctx) }

    private static func make(_ method: OpaquePointer?) throws(OpenSSLError) -> OpaquePointer {
        guard let ctx = SSL_CTX_new(method) else { throw OpenSSLError(.configuration, "cannot create a TLS context") }
        _ = fleet_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
        // Release the 16 KiB+ read and write record buffers whenever a connection has nothing buffered: an idle
        // connection then holds no record buffer at all. Partial writes and moving buffers: our BIO takes every byte.
        _ = fleet_SSL_CTX_set_mode(
            ctx,
            Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        )
        // The application traffic secrets reach the handler, which protects TLS 1.3 records itself after the
        // handshake (`TLS13Records`); they are never written anywhere.
        SSL_CTX_set_keylog_callback(ctx) { ssl, line in
            guard let ssl, let line, let holder = SSL_get_ex_data(ssl, 0) else { return }
            Unmanaged<TLS13Secrets>.fromOpaque(holder).takeUnretainedValue().take(line: String(cString: line))
        }
        return ctx
    }

    /// Calls `body` with a memory BIO over `pem` (nil when OpenSSL cannot make one).
    static func withBIO<T>(_ pem: String, _ body: (OpaquePointer?) -> T) -> T {
        let bytes = Array(pem.utf8)
        return bytes.withUnsafeBufferPointer { raw in
            guard let base = raw.baseAddress, let bio = BIO_new_mem_buf(base, Int32(clamping: raw.count)) else {
                return body(nil)
            }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    /// Adds every certificate of `pem` to the context's trust store; returns how many.
    private static func addTrusted(_ pem: String, to ctx: OpaquePointer) throws(OpenSSLError) -> Int {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let store = SSL_CTX_get_cert_store(ctx)
        var count = 0
        let added: Bool = withBIO(pem) { bio in
            guard let bio else { return false }
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

    /// Loads the chain (leaf first) and the key, and checks that they belong together.
    private static func useChain(_ chainPEM: String, keyPEM: String, in ctx: OpaquePointer) throws(OpenSSLError) {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let chainUsed: Bool = withBIO(chainPEM) { bio in
            guard let bio, let leaf = PEM_read_bio_X509(bio, nil, nil, nil) else { return false }
            defer { X509_free(leaf) }
            guard SSL_CTX_use_certificate(ctx, leaf) == 1 else { return false }
            while let extra = PEM_read_bio_X509(bio, nil, nil, nil) {
                // On success the context owns `extra`.
                guard fleet_SSL_CTX_add_extra_chain_cert(ctx, extra) == 1 else {
                    X509_free(extra)
                    return false
                }
            }
            return true
        }
        guard chainUsed else { throw OpenSSLError(.configuration, "not a PEM certificate chain") }
        // nil: no key in the PEM; false: a key OpenSSL refused next to this certificate (another certificate's).
        let keyUsed: Bool? = withBIO(keyPEM) { bio in
            guard let bio, let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { return nil }
            defer { EVP_PKEY_free(key) }
            return SSL_CTX_use_PrivateKey(ctx, key) == 1
        }
        guard let keyUsed else { throw OpenSSLError(.configuration, "not a PEM private key") }
        guard keyUsed, SSL_CTX_check_private_key(ctx) == 1 else {
            throw OpenSSLError(.configuration, "the private key does not match the certificate")
        }
    }
}
