/// MQTT 5 property identifiers (spec section 2.2.2.2) and the wire type of each.
public enum MQTTPropertyID: UInt8, Sendable, Hashable, CaseIterable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A

    enum WireType { case byte, twoByte, fourByte, varint, string, binary, pair }

    var wireType: WireType {
        switch self {
        case .payloadFormatIndicator, .requestProblemInformation, .requestResponseInformation, .maximumQoS,
            .retainAvailable, .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable,
            .sharedSubscriptionAvailable:
            .byte
        case .serverKeepAlive, .receiveMaximum, .topicAliasMaximum, .topicAlias: .twoByte
        case .messageExpiryInterval, .sessionExpiryInterval, .willDelayInterval, .maximumPacketSize: .fourByte
        case .subscriptionIdentifier: .varint
        case .contentType, .responseTopic, .assignedClientIdentifier, .authenticationMethod, .responseInformation,
            .serverReference, .reasonString:
            .string
        case .correlationData, .authenticationData: .binary
        case .userProperty: .pair
        }
    }
}

/// One MQTT 5 property value.
public struct MQTTProperty: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case integer(UInt32)
        case string(String)
        case binary([UInt8])
        case pair(String, String)
    }

    public var id: MQTTPropertyID
    public var value: Value

    public init(_ id: MQTTPropertyID, _ value: Value) {
        self.id = id
        self.value = value
    }

    public static func userProperty(_ name: String, _ value: String) -> MQTTProperty {
        MQTTProperty(.userProperty, .pair(name, value))
    }
}

/// The ordered property list of an MQTT 5 packet (empty in 3.1.1).
public struct MQTTProperties: Sendable, Hashable, ExpressibleByArrayLiteral, RandomAccessCollection {
    public var elements: [MQTTProperty]

    public init(_ elements: [MQTTProperty] = []) { self.elements = elements }
    public init(arrayLiteral elements: MQTTProperty...) { self.elements = elements }

    public var startIndex: Int { elements.startIndex }
    public var endIndex: Int { elements.endIndex }
    public subscript(position: Int) -> MQTTProperty { elements[position] }

    public mutating func append(_ property: MQTTProperty) { elements.append(property) }

    /// The first integer-valued property with this id.
    public func integer(_ id: MQTTPropertyID) -> UInt32? {
        for p in elements where p.id == id {
            if case .integer(let v) = p.value { return v }
        }
        return nil
    }

    /// The first string-valued property with this id.
    public func string(_ id: MQTTPropertyID) -> String? {
        for p in elements where p.id == id {
            if case .string(let v) = p.value { return v }
        }
        return nil
    }

    /// All user properties, in order.
    public var userProperties: [(String, String)] {
        elements.compactMap { p in
            if case .pair(let k, let v) = p.value { return (k, v) }
            return nil
        }
    }
}
