/// Connection status as the .NET device SDK names it (the report and callbacks use these names).
public enum ConnectionStatus: String, Sendable, Hashable, CaseIterable {
    case disconnected = "Disconnected"
    case connected = "Connected"
    case disconnectedRetrying = "Disconnected_Retrying"
    case disabled = "Disabled"
}

/// Why the status changed (.NET `ConnectionStatusChangeReason` names).
public enum StatusReason: String, Sendable, Hashable, CaseIterable {
    case connectionOk = "Connection_Ok"
    case expiredSASToken = "Expired_SAS_Token"
    case deviceDisabled = "Device_Disabled"
    case badCredential = "Bad_Credential"
    case retryExpired = "Retry_Expired"
    case noNetwork = "No_Network"
    case communicationError = "Communication_Error"
    case clientClose = "Client_Close"
}

/// How a failure is treated: stop, retry with the policy, or retry with the throttling policy.
public enum ErrorClass: String, Sendable, Hashable {
    case unrecoverable
    case transient
    case throttled
}

/// What went wrong with a connection or an attempt to make one.
public enum FailureCause: Sendable, Hashable, CustomStringConvertible {
    /// TCP connect refused, reset or unreachable (no MQTT exchange happened).
    case network
    /// The TCP connect did not complete in time.
    case connectTimeout
    /// The TCP connection came up but no CONNACK arrived in time.
    case connackTimeout
    /// CONNACK with a non-zero 3.1.1 return code or MQTT 5 reason code.
    case refused(code: UInt8, version5: Bool)
    /// An established connection ended without a DISCONNECT from us.
    case connectionLost
    /// No PINGRESP within the keep-alive window (a half-open or silent link).
    case keepAliveTimeout
    /// The peer sent bytes that do not decode, or a packet that makes no sense now.
    case protocolError
    /// MQTT 5 server DISCONNECT with this reason code.
    case serverDisconnect(reason: UInt8)
    /// The device disconnected itself to renew its SAS token.
    case tokenRenewal
    /// The TLS handshake failed (`untrusted`: the hub's certificate was not accepted).
    case tls(untrusted: Bool)
    /// MQTT over WebSockets: the upgrade was refused, or the hub sent a close frame (reference §10.1).
    case webSocket
    /// The HTTPS device API answered with an IoT Hub error (`HubServiceError.code`, e.g. 429001; reference §10.2).
    case service(code: Int)

    public var description: String {
        switch self {
        case .network: "network"
        case .connectTimeout: "connect_timeout"
        case .connackTimeout: "connack_timeout"
        case .refused(let code, let v5): v5 ? "refused_0x\(String(code, radix: 16))" : "refused_\(code)"
        case .connectionLost: "connection_lost"
        case .keepAliveTimeout: "keepalive_timeout"
        case .protocolError: "protocol_error"
        case .serverDisconnect(let r): "server_disconnect_0x\(String(r, radix: 16))"
        case .tokenRenewal: "token_renewal"
        case .tls(let untrusted): untrusted ? "tls_untrusted" : "tls"
        case .webSocket: "websocket"
        case .service(let code): "http_\(code)"
        }
    }
}

/// The error classification of one SDK (reference §2 and §3): which failures stop the device, which retry, and the
/// status reason each one reports. `SDK.classifier` picks it; nothing derives it from a retry policy's name.
public struct ErrorClassifier: Sendable, Hashable {
    public enum Flavour: String, Sendable, Hashable, CaseIterable {
        /// The five Azure device SDKs, and a plain MQTT client (paho / mqtt.js: reconnect on every connection error,
        /// stop on refused credentials).
        case dotnet, java, node, c, python, mqtt
    }

    public var flavour: Flavour

    public init(flavour: Flavour) { self.flavour = flavour }

    public func classify(_ cause: FailureCause) -> (ErrorClass, StatusReason) {
        switch cause {
        case .network, .connectTimeout:
            return (.transient, flavour == .c || flavour == .java ? .noNetwork : .communicationError)
        case .connackTimeout, .connectionLost, .keepAliveTimeout:
            // Java maps every retryable transport exception to NO_NETWORK (reference §2.3).
            return (.transient, flavour == .java ? .noNetwork : .communicationError)
        case .protocolError:
            return (.transient, .communicationError)
        case .webSocket:
            // Reference §10.1: .NET counts WebSocketException as transient, C maps WebSocket I/O errors to
            // COMMUNICATION_ERROR; every SDK retries.
            return (.transient, .communicationError)
        case .tls:
            // Reference §3.2: .NET (AuthenticationException), Java (ProtocolException) and Node stop on a TLS
            // failure; Python (TlsExchangeAuthError) and C retry.
            switch flavour {
            case .dotnet, .java, .node: return (.unrecoverable, .communicationError)
            case .python, .c, .mqtt: return (.transient, .communicationError)
            }
        case .tokenRenewal:
            return (.transient, .expiredSASToken)
        case .service(let code):
            return service(code)
        case .refused(let code, false):
            return refused311(code)
        case .refused(let code, true), .serverDisconnect(let code):
            return reason5(code)
        }
    }

    private func refused311(_ code: UInt8) -> (ErrorClass, StatusReason) {
        switch (code, flavour) {
        case (3, .c): return (.transient, .deviceDisabled)
        case (3, _): return (.transient, .communicationError)
        case (5, .c): return (.transient, .badCredential)
        case (4, .java): return (.unrecoverable, .communicationError)
        case (2, .dotnet), (2, .python), (2, .java): return (.unrecoverable, .communicationError)
        case (2, _), (4, _), (5, _): return (.unrecoverable, .badCredential)
        default: return (.unrecoverable, .communicationError)
        }
    }

    /// An IoT Hub error from the HTTPS API (reference §3.2's table, §10.2): 429 and 5xx are retried (429 with the
    /// throttling policy), 401/403/404/400/413 stop the device; .NET alone retries the daily quota (403002); C treats
    /// a refused credential as it treats CONNACK 5 (retried, Bad_Credential); a missing or disabled device is
    /// Device_Disabled for .NET, an unauthorized one for Python.
    private func service(_ code: Int) -> (ErrorClass, StatusReason) {
        switch code / 1000 {
        case 401:
            return (flavour == .c ? .transient : .unrecoverable, .badCredential)
        case 403 where code == HubServiceError.quotaExceeded:
            return (flavour == .dotnet ? .transient : .unrecoverable, .communicationError)
        case 403, 404:
            return (.unrecoverable, flavour == .python ? .badCredential : .deviceDisabled)
        case 429:
            return (.throttled, .communicationError)
        case 500..<600:
            return (.transient, .communicationError)
        default:
            return (.unrecoverable, .communicationError)
        }
    }

    /// MQTT 5 reason codes (IoT Hub preview, reference §3.4).
    private func reason5(_ code: UInt8) -> (ErrorClass, StatusReason) {
        switch code {
        case 0x86, 0x87: return (.unrecoverable, .badCredential)
        case 0x8A: return (.unrecoverable, .deviceDisabled)
        case 0x97, 0x9F: return (.throttled, .communicationError)
        case 0x88, 0x89, 0x8B, 0x8E, 0x80, 0x83: return (.transient, .communicationError)
        default: return code < 0x80 ? (.transient, .communicationError) : (.unrecoverable, .communicationError)
        }
    }
}
