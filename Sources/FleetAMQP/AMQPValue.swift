/// One AMQP 1.0 value (the type system of the spec's part 1): primitives, compound values and described values.
///
/// Floating-point values are kept as their bit patterns so that a value equals itself after a round trip (NaN
/// included); decimals are kept as their raw bytes (nothing here computes with them). Only a described value is boxed
/// (the one case that holds a value directly): scalars, strings and the arrays of compound values live inline, so
/// building or decoding a performative allocates per list, not per field.
public enum AMQPValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case ubyte(UInt8)
    case ushort(UInt16)
    case uint(UInt32)
    case ulong(UInt64)
    case byte(Int8)
    case short(Int16)
    case int(Int32)
    case long(Int64)
    case float(bits: UInt32)
    case double(bits: UInt64)
    case decimal32(UInt32)
    case decimal64(UInt64)
    case decimal128([UInt8])
    /// A Unicode scalar value, as the UTF-32 code the wire carries.
    case char(UInt32)
    /// Milliseconds since the Unix epoch.
    case timestamp(Int64)
    case uuid([UInt8])
    case binary([UInt8])
    case string(String)
    /// An ASCII name (the spec restricts symbols to ASCII; the decoder enforces it).
    case symbol(String)
    case list([AMQPValue])
    case map(AMQPMap)
    /// Values that share one element type. The element type is chosen when encoding: all elements must have the
    /// same type (and, for described elements, the same descriptor).
    case array([AMQPValue])
    indirect case described(AMQPDescriptor, AMQPValue)

    public static func float(_ value: Float) -> AMQPValue { .float(bits: value.bitPattern) }
    public static func double(_ value: Double) -> AMQPValue { .double(bits: value.bitPattern) }
}

/// What names a described value: a numeric code (the spec's `domain:code` pairs, with the domain 0 for the spec's
/// own types) or a symbolic name.
public enum AMQPDescriptor: Sendable, Hashable, CustomStringConvertible {
    case code(UInt64)
    case name(String)

    public var description: String {
        switch self {
        case .code(let code): "0x" + String(code, radix: 16)
        case .name(let name): name
        }
    }

    /// The numeric code, a symbolic name translated through `names`; a name not there is `unknown`.
    func code(in names: [String: UInt64], unknown: AMQPCodecError.Code) throws(AMQPCodecError) -> UInt64 {
        switch self {
        case .code(let c): return c
        case .name(let n):
            guard let c = names[n] else { throw AMQPCodecError(unknown, detail: n) }
            return c
        }
    }
}

/// An AMQP map: key/value pairs in wire order (the spec allows any key type; order is kept so encoding is stable).
public struct AMQPMap: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    public struct Entry: Sendable, Hashable {
        public var key: AMQPValue
        public var value: AMQPValue

        public init(key: AMQPValue, value: AMQPValue) {
            self.key = key
            self.value = value
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry] = []) { self.entries = entries }

    public init(dictionaryLiteral elements: (AMQPValue, AMQPValue)...) {
        entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The value of the first entry whose key equals `key`.
    public subscript(key: AMQPValue) -> AMQPValue? {
        entries.first { $0.key == key }?.value
    }

    /// The value under a symbol key (annotations, fields) or a string key (application properties).
    public subscript(symbol name: String) -> AMQPValue? { self[.symbol(name)] }
    public subscript(string name: String) -> AMQPValue? { self[.string(name)] }
}

extension AMQPValue {
    /// The string or symbol's text.
    public var text: String? {
        switch self {
        case .string(let s), .symbol(let s): s
        default: nil
        }
    }

    /// Any unsigned or non-negative signed integer, widened.
    public var unsignedValue: UInt64? {
        switch self {
        case .ubyte(let v): UInt64(v)
        case .ushort(let v): UInt64(v)
        case .uint(let v): UInt64(v)
        case .ulong(let v): v
        case .byte(let v): v >= 0 ? UInt64(v) : nil
        case .short(let v): v >= 0 ? UInt64(v) : nil
        case .int(let v): v >= 0 ? UInt64(v) : nil
        case .long(let v): v >= 0 ? UInt64(v) : nil
        default: nil
        }
    }
}
