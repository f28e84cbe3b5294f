internal import FleetCore
internal import FleetTLS
internal import FleetWebSocket
internal import NIOCore
internal import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

extension ConnectionError {
    /// Maps what NIO, the kernel or OpenSSL reported to our own words (never their text).
    init(_ error: any Error) {
        switch error {
        case let io as IOError:
            self = Self(errno: io.errnoCode)
        case let channel as ChannelError:
            switch channel {
            case .connectTimeout: self = .timedOut
            case .eof, .ioOnClosedChannel, .outputClosed, .alreadyClosed: self = .reset
            default: self = .other
            }
        case let connection as NIOConnectionError:
            // Connecting by host name: the first attempt's error says why.
            self = connection.connectionErrors.first.map { Self($0.error) } ?? .unreachable
        case let tls as OpenSSLError:
            switch tls.kind {
            case .untrusted: self = .tlsUntrusted
            case .uncleanShutdown: self = .reset
            case .handshake, .configuration: self = .tls
            }
        case is MQTTWebSocketClosed:
            self = .webSocket
        case is HTTPBridgeError:
            self = .http
        case is AMQPBridgeError:
            self = .amqp
        default:
            self = .other
        }
    }

    init(errno code: CInt) {
        switch code {
        case ECONNREFUSED: self = .refused
        case ETIMEDOUT: self = .timedOut
        case EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL: self = .unreachable
        case ECONNRESET, EPIPE, ECONNABORTED: self = .reset
        default: self = .other
        }
    }
}
