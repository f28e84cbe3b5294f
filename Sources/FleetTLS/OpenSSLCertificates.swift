internal import COpenSSL
public import Foundation

/// X.509 certificates made on the system's OpenSSL (the libcrypto that TLS runs on): a certificate authority with a
/// P-256 key, and the certificates it issues for fresh P-256 keys — devices' client certificates (X.509 devices) and
/// the test hub's server certificate. PEM out; errors never quote a key.
public final class OpenSSLCertificateAuthority: @unchecked Sendable {
    /// What an issued certificate is for.
    public enum Usage: Sendable, Hashable {
        /// A device: TLS client authentication.
        case client
        /// A server, for these DNS names and IP addresses (subject alternative names).
        case server(dnsNames: [String], ipAddresses: [String])
    }

    /// `X509*` and `EVP_PKEY*`, owned; only read after `init`.
    private let certificate: OpaquePointer
    private let key: OpaquePointer
    public let certificatePEM: String
    /// The CA's private key (PKCS#8 PEM).
    public let keyPEM: String

    /// A fresh self-signed CA (path length 0: it signs end certificates only).
    public init(commonName: String, organization: String, validity: Range<Date>) throws(OpenSSLError) {
        guard let key = fleet_EC_gen_P256() else { throw Self.failure("a P-256 key") }
        guard let certificate = X509_new() else {
            EVP_PKEY_free(key)
            throw Self.failure("a certificate")
        }
        do {
            try Self.fill(
                certificate,
                key: key,
                subject: [("O", organization), ("CN", commonName)],
                issuer: nil,
                validity: validity
            )
            try Self.extend(
                certificate,
                issuer: certificate,
                [
                    (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                    (NID_key_usage, "critical,keyCertSign,cRLSign"),
                    (NID_subject_key_identifier, "hash"),
                ]
            )
            try Self.sign(certificate, with: key)
            certificatePEM = try Self.pem(certificate)
            keyPEM = try Self.pem(key: key)
        } catch {
            X509_free(certificate)
            EVP_PKEY_free(key)
            throw error
        }
        self.certificate = certificate
        self.key = key
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// A certificate for a fresh P-256 key, signed by this CA, for `commonName`; its PEM and the key's (PKCS#8).
    public func issue(
        commonName: String,
        validity: Range<Date>,
        usage: Usage
    ) throws(OpenSSLError) -> (certificatePEM: String, keyPEM: String) {
        guard let leafKey = fleet_EC_gen_P256() else { throw Self.failure("a P-256 key") }
        defer { EVP_PKEY_free(leafKey) }
        guard let leaf = X509_new() else { throw Self.failure("a certificate") }
        defer { X509_free(leaf) }
        try Self.fill(leaf, key: leafKey, subject: [("CN", commonName)], issuer: certificate, validity: validity)
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
            (NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid:always"),
        ]
        switch usage {
        case .client:
            extensions.append((NID_ext_key_usage, "clientAuth"))
        case .server(let dnsNames, let ipAddresses):
            extensions.append((NID_ext_key_usage, "serverAuth"))
            let names = dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }
            if !names.isEmpty { extensions.append((NID_subject_alt_name, names.joined(separator: ","))) }
        }
        try Self.extend(leaf, issuer: certificate, extensions)
        try Self.sign(leaf, with: key)
        return (try Self.pem(leaf), try Self.pem(key: leafKey))
    }

    // MARK: - OpenSSL steps

    private static func failure(_ what: String) -> OpenSSLError {
        ERR_clear_error()
        return OpenSSLError(.configuration, "cannot make \(what)")
    }

    /// Version 3, a random positive 128-bit serial, validity, names and the public key.
    private static func fill(
        _ x: OpaquePointer,
        key: OpaquePointer,
        subject: [(String, String)],
        issuer: OpaquePointer?,
        validity: Range<Date>
    ) throws(OpenSSLError) {
        var serial = [UInt8](repeating: 0, count: 16)
        guard X509_set_version(x, 2) == 1, RAND_bytes(&serial, 16) == 1 else { throw failure("a serial number") }
        serial[0] &= 0x7F
        guard let number = BN_bin2bn(serial, 16, nil) else { throw failure("a serial number") }
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(x)) != nil else { throw failure("a serial number") }
        guard ASN1_TIME_set(X509_getm_notBefore(x), time(validity.lowerBound)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x), time(validity.upperBound)) != nil
        else { throw failure("a validity period") }
        guard let name = X509_get_subject_name(x) else { throw failure("a subject name") }
        for (field, value) in subject {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw failure("a subject name")
            }
        }
        guard X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0) } ?? name) == 1,
            X509_set_pubkey(x, key) == 1
        else { throw failure("a certificate's names and key") }
    }

    /// Unix seconds, clamped to what a certificate can say (years 1950–9999).
    private static func time(_ date: Date) -> time_t {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite else { return 0 }
        return time_t(exactly: min(max(seconds, -631_152_000), 253_402_300_799).rounded(.down)) ?? 0
    }

    private static func extend(
        _ x: OpaquePointer,
        issuer: OpaquePointer,
        _ extensions: [(Int32, String)]
    ) throws(OpenSSLError) {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer, x, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw failure("the certificate extension \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x, ext, -1) == 1 else { throw failure("the certificate extension \(value)") }
        }
    }

    private static func sign(_ x: OpaquePointer, with key: OpaquePointer) throws(OpenSSLError) {
        guard X509_sign(x, key, EVP_sha256()) > 0 else { throw failure("a certificate's signature") }
    }

    private static func pem(_ x: OpaquePointer) throws(OpenSSLError) -> String {
        try text { PEM_write_bio_X509($0, x) == 1 }
    }

    private static func pem(key: OpaquePointer) throws(OpenSSLError) -> String {
        try text { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) == 1 }
    }

    /// What `write` put into a memory BIO, as text.
    private static func text(_ write: (OpaquePointer) -> Bool) throws(OpenSSLError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw failure("a memory buffer") }
        defer { BIO_free(bio) }
        guard write(bio) else { throw failure("PEM text") }
        var data: UnsafeMutablePointer<CChar>?
        let length = fleet_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw failure("PEM text") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }
}
