internal import COpenSSL

/// What went wrong in TLS, in our words; `detail` is for logs, never shown as the only explanation.
public struct OpenSSLError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The server's certificate did not verify: an unknown CA, expired, or not for the name we asked for.
        case untrusted
        /// The handshake or a record failed for another reason (a protocol version or alert, garbage bytes).
        case handshake
        /// The connection ended without close_notify (a TCP close or reset in the middle of TLS).
        case uncleanShutdown
        /// The TLS context could not be set up (a CA file that holds no certificate).
        case configuration
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "TLS \(kind.rawValue): \(detail)" }

    /// The failure OpenSSL reported for `ssl` just now: a failed verification wins over the record-layer error
    /// it caused.
    static func current(_ ssl: OpaquePointer, step: String, code: Int32) -> OpenSSLError {
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            let text = X509_verify_cert_error_string(verify).map { String(cString: $0) } ?? "code \(verify)"
            ERR_clear_error()
            return OpenSSLError(.untrusted, "certificate verification failed: \(text)")
        }
        let queued = ERR_get_error()
        ERR_clear_error()
        guard queued != 0 else { return OpenSSLError(.handshake, "\(step) failed (SSL error \(code))") }
        let reason =
            ERR_reason_error_string(queued).map { String(cString: $0) } ?? "reason \(fleet_ERR_GET_REASON(queued))"
        return OpenSSLError(.handshake, "\(step): \(reason)")
    }
}
