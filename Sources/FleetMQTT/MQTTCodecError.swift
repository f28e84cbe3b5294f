/// A malformed or unacceptable packet. Carries the packet type when it was known.
public struct MQTTCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case remainingLengthTooLong = "remaining length longer than 4 bytes"
            case packetTooLarge = "packet larger than the maximum packet size"
            case invalidUTF8 = "string is not well-formed UTF-8"
            case invalidFixedHeaderFlags = "wrong fixed-header flags"
            case invalidQoS = "QoS 3 is not a QoS"
            case zeroPacketIdentifier = "packet identifier 0 is forbidden here"
            case unknownPacketType = "unknown packet type"
            case truncated = "packet ends inside a field"
            case trailingBytes = "bytes left over after the last field"
            case invalidProtocol = "unsupported protocol name or level"
            case invalidConnectFlags = "invalid CONNECT flags"
            case unknownProperty = "unknown or misplaced property"
            case invalidProperty = "invalid property value"
            case emptySubscription = "SUBSCRIBE/UNSUBSCRIBE without topic filters"
            case invalidTopic = "invalid topic name"
            case unsupportedInVersion = "packet type does not exist in this MQTT version"
            case stringTooLong = "string or binary longer than 65535 bytes"
        }
        fileprivate let base: Base

        public static let remainingLengthTooLong = Code(base: .remainingLengthTooLong)
        public static let packetTooLarge = Code(base: .packetTooLarge)
        public static let invalidUTF8 = Code(base: .invalidUTF8)
        public static let invalidFixedHeaderFlags = Code(base: .invalidFixedHeaderFlags)
        public static let invalidQoS = Code(base: .invalidQoS)
        public static let zeroPacketIdentifier = Code(base: .zeroPacketIdentifier)
        public static let unknownPacketType = Code(base: .unknownPacketType)
        public static let truncated = Code(base: .truncated)
        public static let trailingBytes = Code(base: .trailingBytes)
        public static let invalidProtocol = Code(base: .invalidProtocol)
        public static let invalidConnectFlags = Code(base: .invalidConnectFlags)
        public static let unknownProperty = Code(base: .unknownProperty)
        public static let invalidProperty = Code(base: .invalidProperty)
        public static let emptySubscription = Code(base: .emptySubscription)
        public static let invalidTopic = Code(base: .invalidTopic)
        public static let unsupportedInVersion = Code(base: .unsupportedInVersion)
        public static let stringTooLong = Code(base: .stringTooLong)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var packetType: MQTTPacketType?
    public var detail: String?

    public init(_ code: Code, packetType: MQTTPacketType? = nil, detail: String? = nil) {
        self.code = code
        self.packetType = packetType
        self.detail = detail
    }

    public var description: String {
        var s = "malformed MQTT packet"
        if let packetType { s += " (\(packetType))" }
        s += ": \(code)"
        if let detail { s += " (\(detail))" }
        return s
    }
}
