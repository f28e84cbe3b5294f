/// `amqp:error:list` (0x1d): why a link, session or connection ended, or why a delivery was rejected.
public struct AMQPError: Sendable, Hashable, CustomStringConvertible {
    public var condition: String
    public var errorDescription: String?
    public var info: AMQPMap?

    public init(condition: String, description: String? = nil, info: AMQPMap? = nil) {
        self.condition = condition
        self.errorDescription = description
        self.info = info
    }

    public static let code: UInt64 = 0x1D

    public var description: String {
        errorDescription.map { "\(condition): \($0)" } ?? condition
    }

    var value: AMQPValue {
        var w = AMQPFieldWriter()
        w.add(symbol: condition)
        w.add(string: errorDescription)
        w.add(map: info)
        return w.described(Self.code)
    }

    init?(_ value: AMQPValue) throws(AMQPCodecError) {
        guard let fields = value.compositeFields(code: Self.code, name: "amqp:error:list") else { return nil }
        let r = AMQPFieldReader(fields, composite: "error")
        condition = try r.required(0, "condition", r.symbol)
        errorDescription = try r.string(1, "description")
        info = try r.map(2, "info")
    }

    static func read(_ r: AMQPFieldReader, _ index: Int) throws(AMQPCodecError) -> AMQPError? {
        try r.composite(index, "error") { (d, inner) throws(AMQPCodecError) in try AMQPError(.described(d, inner)) }
    }
}

/// A link's source (0x28) or target (0x29). The address is typed; the terminus' other fields are kept as they came,
/// positionally, so nothing a peer sends is lost on a round trip.
public struct AMQPTerminus: Sendable, Hashable {
    public var address: String?
    /// Fields after the address (durable, expiry-policy, timeout, dynamic, ...), trailing nulls dropped.
    public var otherFields: [AMQPValue]

    public init(address: String?, otherFields: [AMQPValue] = []) {
        self.address = address
        self.otherFields = otherFields
    }

    public static let sourceCode: UInt64 = 0x28
    public static let targetCode: UInt64 = 0x29

    func value(code: UInt64) -> AMQPValue {
        var w = AMQPFieldWriter()
        w.add(string: address)
        for field in otherFields { w.add(field) }
        return w.described(code)
    }

    static func read(
        _ r: AMQPFieldReader,
        _ index: Int,
        _ name: String,
        code: UInt64,
        symbolic: String
    )
        throws(AMQPCodecError) -> AMQPTerminus?
    {
        try r.composite(index, name) { (d, inner) throws(AMQPCodecError) -> AMQPTerminus? in
            guard let fields = AMQPValue.described(d, inner).compositeFields(code: code, name: symbolic) else {
                return nil
            }
            var address: String?
            if let first = fields.first {
                switch first {
                case .null: address = nil
                case .string(let s), .symbol(let s): address = s
                default:
                    throw AMQPCodecError(.wrongFieldType, context: "\(name).address", detail: first.typeName)
                }
            }
            var rest = Array(fields.dropFirst())
            while rest.last == .null { rest.removeLast() }
            return AMQPTerminus(address: address, otherFields: rest)
        }
    }
}

/// A delivery's state or outcome (part 3.4): what a disposition or a transfer carries.
public enum AMQPDeliveryState: Sendable, Hashable {
    case received(sectionNumber: UInt32, sectionOffset: UInt64)
    /// The hub took the message: over AMQP, telemetry's acknowledgement (as PUBACK is over MQTT).
    case accepted
    case rejected(AMQPError?)
    case released
    case modified(deliveryFailed: Bool?, undeliverableHere: Bool?, annotations: AMQPMap?)
    /// Any other described state (transactions), kept as it came.
    case other(AMQPDescriptor, AMQPValue)

    var value: AMQPValue {
        var w = AMQPFieldWriter()
        switch self {
        case .received(let number, let offset):
            w.add(uint: number)
            w.add(ulong: offset)
            return w.described(0x23)
        case .accepted: return w.described(0x24)
        case .rejected(let error):
            w.add(error?.value)
            return w.described(0x25)
        case .released: return w.described(0x26)
        case .modified(let failed, let here, let annotations):
            w.add(bool: failed)
            w.add(bool: here)
            w.add(map: annotations)
            return w.described(0x27)
        case .other(let d, let inner): return .described(d, inner)
        }
    }

    init(_ d: AMQPDescriptor, _ inner: AMQPValue) throws(AMQPCodecError) {
        let value = AMQPValue.described(d, inner)
        if let f = value.compositeFields(code: 0x23, name: "amqp:received:list") {
            let r = AMQPFieldReader(f, composite: "received")
            self = .received(
                sectionNumber: try r.required(0, "section-number", r.uint),
                sectionOffset: try r.required(1, "section-offset", r.ulong)
            )
        } else if value.compositeFields(code: 0x24, name: "amqp:accepted:list") != nil {
            self = .accepted
        } else if let f = value.compositeFields(code: 0x25, name: "amqp:rejected:list") {
            self = .rejected(try AMQPError.read(AMQPFieldReader(f, composite: "rejected"), 0))
        } else if value.compositeFields(code: 0x26, name: "amqp:released:list") != nil {
            self = .released
        } else if let f = value.compositeFields(code: 0x27, name: "amqp:modified:list") {
            let r = AMQPFieldReader(f, composite: "modified")
            self = .modified(
                deliveryFailed: try r.bool(0, "delivery-failed"),
                undeliverableHere: try r.bool(1, "undeliverable-here"),
                annotations: try r.map(2, "message-annotations")
            )
        } else {
            self = .other(d, inner)
        }
    }

    static func read(_ r: AMQPFieldReader, _ index: Int) throws(AMQPCodecError) -> AMQPDeliveryState? {
        try r.composite(index, "state") { (d, inner) throws(AMQPCodecError) in try AMQPDeliveryState(d, inner) }
    }
}
