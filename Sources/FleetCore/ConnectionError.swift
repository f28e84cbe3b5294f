/// What ended a connection or a connect attempt at the socket or TLS level, as the handler saw it. The engine maps
/// NIO's errors to these; the machine classifies them per SDK (`channelClosed(error:)`).
public enum ConnectionError: String, Sendable, Hashable, CaseIterable {
    /// The hub's host answered the TCP connect with a refusal (nothing listens there).
    case refused
    /// The TCP connect did not complete in time.
    case timedOut = "timed_out"
    /// No route to the hub's host or network.
    case unreachable
    /// The peer reset the connection, or a write hit a closed socket.
    case reset
    /// The TLS handshake failed because the hub's certificate is not trusted (or does not match the name).
    case tlsUntrusted = "tls_untrusted"
    /// The TLS handshake or a TLS record failed for another reason.
    case tls
    /// MQTT over WebSockets: the hub refused the upgrade (an HTTP status other than 101, a wrong subprotocol) or
    /// ended the WebSocket with a close frame.
    case webSocket = "websocket"
    /// The HTTPS device API: a request got no answer within `https.request_timeout`, or the peer answered what
    /// nobody asked (it does not speak the API).
    case http
    /// AMQP: the hub sent bytes that do not decode as AMQP 1.0, or frames out of place (a protocol error, not a
    /// refusal: refusals carry an error condition and are classified as IoT Hub errors).
    case amqp
    /// Any other I/O error.
    case other

    /// True for the TLS failures (the SDKs classify them apart from socket errors, reference §3.2).
    public var isTLS: Bool { self == .tls || self == .tlsUntrusted }

    /// One line a user can act on.
    public var explanation: String {
        switch self {
        case .refused: "connection refused: nothing listens at the hub's address and port"
        case .timedOut: "TCP connect timed out: the hub's host did not answer"
        case .unreachable: "hub unreachable: no route to its host or network"
        case .reset: "connection reset by the hub"
        case .tlsUntrusted: "TLS: the hub's certificate is not trusted or does not match its name (check the CA file)"
        case .tls: "TLS handshake failed (check that the hub speaks TLS on this port)"
        case .webSocket:
            "WebSocket: the hub refused the upgrade or closed the WebSocket (check the ws:// or wss:// URL's path)"
        case .http:
            "HTTPS: the hub did not answer a request within https.request_timeout, or does not speak the device API"
        case .amqp: "AMQP: the hub's frames do not decode or come out of place (check that it speaks AMQP 1.0 there)"
        case .other: "I/O error on the connection"
        }
    }
}
