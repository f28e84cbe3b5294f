public import NIOCore

/// MQTT protocol level carried in CONNECT: 4 is 3.1.1, 5 is MQTT 5.
public enum MQTTVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    case v311 = 4
    case v5 = 5

    public var description: String { self == .v311 ? "3.1.1" : "5" }
}

/// Quality of service of a PUBLISH or subscription.
public enum MQTTQoS: UInt8, Sendable, Hashable, Comparable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The will message of a CONNECT.
public struct MQTTWill: Sendable, Hashable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    public var retain: Bool
    public var properties: MQTTProperties

    public init(
        topic: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false,
        properties: MQTTProperties = []
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// CONNECT (client to server).
public struct MQTTConnect: Sendable, Hashable {
    public var version: MQTTVersion
    public var clientID: String
    /// Clean session (3.1.1) or clean start (5).
    public var cleanStart: Bool
    /// Keep-alive in seconds; 0 disables it.
    public var keepAliveSeconds: UInt16
    public var username: String?
    public var password: [UInt8]?
    public var will: MQTTWill?
    public var properties: MQTTProperties

    public init(
        version: MQTTVersion,
        clientID: String,
        cleanStart: Bool = true,
        keepAliveSeconds: UInt16 = 60,
        username: String? = nil,
        password: [UInt8]? = nil,
        will: MQTTWill? = nil,
        properties: MQTTProperties = []
    ) {
        self.version = version
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.keepAliveSeconds = keepAliveSeconds
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties
    }
}

/// CONNACK (server to client). `code` is the 3.1.1 return code or the MQTT 5 reason code.
public struct MQTTConnAck: Sendable, Hashable {
    public var sessionPresent: Bool
    public var code: UInt8
    public var properties: MQTTProperties

    public init(sessionPresent: Bool = false, code: UInt8 = 0, properties: MQTTProperties = []) {
        self.sessionPresent = sessionPresent
        self.code = code
        self.properties = properties
    }

    /// True when the connection was accepted (code 0 in both versions).
    public var isAccepted: Bool { code == 0 }
}

/// PUBLISH (both directions).
public struct MQTTPublish: Sendable, Hashable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    public var dup: Bool
    public var retain: Bool
    /// Present exactly when qos > 0.
    public var packetID: UInt16?
    public var properties: MQTTProperties

    public init(
        topic: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        dup: Bool = false,
        retain: Bool = false,
        packetID: UInt16? = nil,
        properties: MQTTProperties = []
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.dup = dup
        self.retain = retain
        self.packetID = packetID
        self.properties = properties
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape: a packet id, and in MQTT 5 a reason and properties.
public struct MQTTAck: Sendable, Hashable {
    public var packetID: UInt16
    public var reasonCode: UInt8
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCode: UInt8 = 0, properties: MQTTProperties = []) {
        self.packetID = packetID
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// One topic filter of a SUBSCRIBE with its options byte (QoS in the low two bits; MQTT 5 adds flags).
public struct MQTTSubscription: Sendable, Hashable {
    public var topicFilter: String
    public var options: UInt8

    public init(topicFilter: String, qos: MQTTQoS) {
        self.topicFilter = topicFilter
        self.options = qos.rawValue
    }

    public init(topicFilter: String, options: UInt8) {
        self.topicFilter = topicFilter
        self.options = options
    }

    public var qos: MQTTQoS { MQTTQoS(rawValue: options & 0x03) ?? .atMostOnce }
}

public struct MQTTSubscribe: Sendable, Hashable {
    public var packetID: UInt16
    public var subscriptions: [MQTTSubscription]
    public var properties: MQTTProperties

    public init(packetID: UInt16, subscriptions: [MQTTSubscription], properties: MQTTProperties = []) {
        self.packetID = packetID
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

/// SUBACK and UNSUBACK: a packet id and one code per filter (UNSUBACK has no codes in 3.1.1).
public struct MQTTSubAck: Sendable, Hashable {
    public var packetID: UInt16
    public var codes: [UInt8]
    public var properties: MQTTProperties

    public init(packetID: UInt16, codes: [UInt8], properties: MQTTProperties = []) {
        self.packetID = packetID
        self.codes = codes
        self.properties = properties
    }
}

public struct MQTTUnsubscribe: Sendable, Hashable {
    public var packetID: UInt16
    public var topicFilters: [String]
    public var properties: MQTTProperties

    public init(packetID: UInt16, topicFilters: [String], properties: MQTTProperties = []) {
        self.packetID = packetID
        self.topicFilters = topicFilters
        self.properties = properties
    }
}

/// DISCONNECT and AUTH (MQTT 5 carries a reason and properties; 3.1.1 DISCONNECT is empty).
public struct MQTTReasonPacket: Sendable, Hashable {
    public var reasonCode: UInt8
    public var properties: MQTTProperties

    public init(reasonCode: UInt8 = 0, properties: MQTTProperties = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// Every MQTT 3.1.1 and 5 control packet, in both directions.
public enum MQTTPacket: Sendable, Hashable {
    case connect(MQTTConnect)
    case connack(MQTTConnAck)
    case publish(MQTTPublish)
    case puback(MQTTAck)
    case pubrec(MQTTAck)
    case pubrel(MQTTAck)
    case pubcomp(MQTTAck)
    case subscribe(MQTTSubscribe)
    case suback(MQTTSubAck)
    case unsubscribe(MQTTUnsubscribe)
    case unsuback(MQTTSubAck)
    case pingreq
    case pingresp
    case disconnect(MQTTReasonPacket)
    case auth(MQTTReasonPacket)

    /// The packet type number of the fixed header.
    public var type: MQTTPacketType {
        switch self {
        case .connect: .connect
        case .connack: .connack
        case .publish: .publish
        case .puback: .puback
        case .pubrec: .pubrec
        case .pubrel: .pubrel
        case .pubcomp: .pubcomp
        case .subscribe: .subscribe
        case .suback: .suback
        case .unsubscribe: .unsubscribe
        case .unsuback: .unsuback
        case .pingreq: .pingreq
        case .pingresp: .pingresp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }
}

/// Control packet types (fixed header, high nibble).
public enum MQTTPacketType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case connect = 1
    case connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback, unsubscribe, unsuback,
        pingreq, pingresp, disconnect, auth

    public var description: String {
        switch self {
        case .connect: "CONNECT"
        case .connack: "CONNACK"
        case .publish: "PUBLISH"
        case .puback: "PUBACK"
        case .pubrec: "PUBREC"
        case .pubrel: "PUBREL"
        case .pubcomp: "PUBCOMP"
        case .subscribe: "SUBSCRIBE"
        case .suback: "SUBACK"
        case .unsubscribe: "UNSUBSCRIBE"
        case .unsuback: "UNSUBACK"
        case .pingreq: "PINGREQ"
        case .pingresp: "PINGRESP"
        case .disconnect: "DISCONNECT"
        case .auth: "AUTH"
        }
    }

    /// The flags (low nibble) the spec requires for every type but PUBLISH.
    var requiredFlags: UInt8 {
        switch self {
        case .pubrel, .subscribe, .unsubscribe: 0b0010
        default: 0
        }
    }
}
