/// Why a run could not start or went wrong as a whole. One line for the user, with what to do.
public struct FleetRunError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        public static let descriptorLimit = Code(name: "descriptor limit")
        public static let hubUnreachable = Code(name: "hub unreachable")
        public static let hubFailed = Code(name: "embedded hub failed")
        public static let invalidAddress = Code(name: "invalid address")
        public static let tls = Code(name: "TLS settings")
        public static let portLimit = Code(name: "ephemeral port limit")
        public static let shard = Code(name: "shard")
        public static let cancelled = Code(name: "cancelled")
        public static let netlab = Code(name: "needs netlab")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
