public import NIOCore

/// A message as transfers carry it (part 3.2): optional sections in the spec's order, then the body.
public struct AMQPMessage: Sendable, Hashable {
    /// The header section's fields (durable, priority, ttl, first-acquirer, delivery-count), as they came.
    public var header: [AMQPValue]?
    public var deliveryAnnotations: AMQPMap?
    /// Broker annotations: IoT Hub puts the C2D lock token (`x-opt-lock-token`) and twin operations here.
    public var messageAnnotations: AMQPMap?
    public var properties: Properties?
    /// The application's own properties (string keys): custom telemetry properties, CBS requests and answers.
    public var applicationProperties: AMQPMap?
    public var body: Body
    public var footer: AMQPMap?

    public enum Body: Sendable, Hashable {
        case none
        /// One or more data sections (opaque bytes: telemetry payloads).
        case data([[UInt8]])
        case sequence([[AMQPValue]])
        /// One amqp-value section (CBS puts the SAS token here as a string).
        case value(AMQPValue)
    }

    public struct Properties: Sendable, Hashable {
        public var messageID: AMQPValue?
        public var userID: [UInt8]?
        public var to: String?
        public var subject: String?
        public var replyTo: String?
        public var correlationID: AMQPValue?
        public var contentType: String?
        public var contentEncoding: String?
        public var absoluteExpiryTime: Int64?
        public var creationTime: Int64?
        public var groupID: String?
        public var groupSequence: UInt32?
        public var replyToGroupID: String?

        public init(
            messageID: AMQPValue? = nil,
            to: String? = nil,
            replyTo: String? = nil,
            correlationID: AMQPValue? = nil,
            contentType: String? = nil,
            contentEncoding: String? = nil
        ) {
            self.messageID = messageID
            self.to = to
            self.replyTo = replyTo
            self.correlationID = correlationID
            self.contentType = contentType
            self.contentEncoding = contentEncoding
        }
    }

    public init(properties: Properties? = nil, applicationProperties: AMQPMap? = nil, body: Body = .none) {
        self.properties = properties
        self.applicationProperties = applicationProperties
        self.body = body
    }

    public func encode(into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        if let header { try AMQPValue.described(.code(0x70), .list(header)).encode(into: &buffer) }
        if let deliveryAnnotations {
            try AMQPValue.described(.code(0x71), .map(deliveryAnnotations)).encode(into: &buffer)
        }
        if let messageAnnotations {
            try AMQPValue.described(.code(0x72), .map(messageAnnotations)).encode(into: &buffer)
        }
        if let properties { try properties.value.encode(into: &buffer) }
        if let applicationProperties {
            try AMQPValue.described(.code(0x74), .map(applicationProperties)).encode(into: &buffer)
        }
        switch body {
        case .none: break
        case .data(let sections):
            for bytes in sections { try AMQPValue.described(.code(0x75), .binary(bytes)).encode(into: &buffer) }
        case .sequence(let sections):
            for list in sections { try AMQPValue.described(.code(0x76), .list(list)).encode(into: &buffer) }
        case .value(let v): try AMQPValue.described(.code(0x77), v).encode(into: &buffer)
        }
        if let footer { try AMQPValue.described(.code(0x78), .map(footer)).encode(into: &buffer) }
    }

    private static let names: [String: UInt64] = [
        "amqp:header:list": 0x70, "amqp:delivery-annotations:map": 0x71, "amqp:message-annotations:map": 0x72,
        "amqp:properties:list": 0x73, "amqp:application-properties:map": 0x74, "amqp:data:binary": 0x75,
        "amqp:amqp-sequence:list": 0x76, "amqp:amqp-value:*": 0x77, "amqp:footer:map": 0x78,
    ]

    /// Reads the sections of a complete message (a transfer's payload, or several joined when `more` was set).
    /// Sections must come in the spec's order; a body is data sections, sequence sections or one value, not a mix.
    public static func decode(from buffer: inout ByteBuffer) throws(AMQPCodecError) -> AMQPMessage {
        var message = AMQPMessage()
        var last: UInt64 = 0x6F
        while buffer.readableBytes > 0 {
            let value = try AMQPValue.decode(from: &buffer)
            guard case .described(let descriptor, let inner) = value else {
                throw AMQPCodecError(.notDescribed, context: "message", detail: value.typeName)
            }
            let code = try descriptor.code(in: names, unknown: .unknownSection)
            let repeatable = code == 0x75 || code == 0x76
            guard code > last || (code == last && repeatable), (0x70...0x78).contains(code) else {
                throw AMQPCodecError(
                    .unknownSection,
                    context: "message",
                    detail: "section 0x\(String(code, radix: 16)) here"
                )
            }
            if (0x75...0x77).contains(code) && (0x75...0x77).contains(last) && code != last {
                throw AMQPCodecError(.unknownSection, context: "message", detail: "body sections of two kinds")
            }
            last = code
            try message.apply(code: code, inner)
        }
        return message
    }

    private mutating func apply(code: UInt64, _ inner: AMQPValue) throws(AMQPCodecError) {
        func map(_ name: String) throws(AMQPCodecError) -> AMQPMap {
            guard case .map(let m) = inner else {
                throw AMQPCodecError(.wrongFieldType, context: name, detail: "\(inner.typeName), not map")
            }
            return m
        }
        switch code {
        case 0x70:
            guard case .list(let fields) = inner else {
                throw AMQPCodecError(.wrongFieldType, context: "header", detail: inner.typeName)
            }
            header = fields
        case 0x71: deliveryAnnotations = try map("delivery-annotations")
        case 0x72: messageAnnotations = try map("message-annotations")
        case 0x73: properties = try Properties(inner)
        case 0x74: applicationProperties = try map("application-properties")
        case 0x75:
            guard case .binary(let bytes) = inner else {
                throw AMQPCodecError(.wrongFieldType, context: "data", detail: inner.typeName)
            }
            if case .data(var sections) = body {
                sections.append(bytes)
                body = .data(sections)
            } else {
                body = .data([bytes])
            }
        case 0x76:
            guard case .list(let list) = inner else {
                throw AMQPCodecError(.wrongFieldType, context: "amqp-sequence", detail: inner.typeName)
            }
            if case .sequence(var sections) = body {
                sections.append(list)
                body = .sequence(sections)
            } else {
                body = .sequence([list])
            }
        case 0x77: body = .value(inner)
        default: footer = try map("footer")
        }
    }
}

extension AMQPMessage.Properties {
    var value: AMQPValue {
        var w = AMQPFieldWriter()
        w.add(messageID)
        w.add(binary: userID)
        w.add(string: to)
        w.add(string: subject)
        w.add(string: replyTo)
        w.add(correlationID)
        w.add(symbol: contentType)
        w.add(symbol: contentEncoding)
        w.add(absoluteExpiryTime.map { .timestamp($0) })
        w.add(creationTime.map { .timestamp($0) })
        w.add(string: groupID)
        w.add(uint: groupSequence)
        w.add(string: replyToGroupID)
        return w.described(0x73)
    }

    init(_ inner: AMQPValue) throws(AMQPCodecError) {
        guard case .list(let fields) = inner else {
            throw AMQPCodecError(.wrongFieldType, context: "properties", detail: inner.typeName)
        }
        let r = AMQPFieldReader(fields, composite: "properties")
        self.init(
            messageID: r.any(0),
            to: try r.string(2, "to"),
            replyTo: try r.string(4, "reply-to"),
            correlationID: r.any(5),
            contentType: try r.symbol(6, "content-type"),
            contentEncoding: try r.symbol(7, "content-encoding")
        )
        userID = try r.binary(1, "user-id")
        subject = try r.string(3, "subject")
        absoluteExpiryTime = try Self.timestamp(r.any(8), "absolute-expiry-time")
        creationTime = try Self.timestamp(r.any(9), "creation-time")
        groupID = try r.string(10, "group-id")
        groupSequence = try r.uint(11, "group-sequence")
        replyToGroupID = try r.string(12, "reply-to-group-id")
    }

    private static func timestamp(_ v: AMQPValue?, _ name: String) throws(AMQPCodecError) -> Int64? {
        guard let v else { return nil }
        guard case .timestamp(let t) = v else {
            throw AMQPCodecError(.wrongFieldType, context: "properties.\(name)", detail: v.typeName)
        }
        return t
    }
}
