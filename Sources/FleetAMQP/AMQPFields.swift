/// Reads a composite type's fields (a described list, positional, trailing fields omitted) with the composite's
/// name in every error: `attach.handle: a mandatory field is missing`.
struct AMQPFieldReader {
    let fields: [AMQPValue]
    let composite: String

    init(_ fields: [AMQPValue], composite: String) {
        self.fields = fields
        self.composite = composite
    }

    private func raw(_ index: Int) -> AMQPValue? {
        guard index < fields.count, fields[index] != .null else { return nil }
        return fields[index]
    }

    private func wrong(_ index: Int, _ name: String, _ value: AMQPValue, expected: String) -> AMQPCodecError {
        AMQPCodecError(.wrongFieldType, context: "\(composite).\(name)", detail: "\(value.typeName), not \(expected)")
    }

    func required<T>(
        _ index: Int,
        _ name: String,
        _ read: (Int, String) throws(AMQPCodecError) -> T?
    )
        throws(AMQPCodecError) -> T
    {
        guard let value = try read(index, name) else {
            throw AMQPCodecError(.missingField, context: "\(composite).\(name)")
        }
        return value
    }

    func uint(_ index: Int, _ name: String) throws(AMQPCodecError) -> UInt32? {
        guard let v = raw(index) else { return nil }
        guard case .uint(let x) = v else { throw wrong(index, name, v, expected: "uint") }
        return x
    }

    func ushort(_ index: Int, _ name: String) throws(AMQPCodecError) -> UInt16? {
        guard let v = raw(index) else { return nil }
        guard case .ushort(let x) = v else { throw wrong(index, name, v, expected: "ushort") }
        return x
    }

    func ubyte(_ index: Int, _ name: String) throws(AMQPCodecError) -> UInt8? {
        guard let v = raw(index) else { return nil }
        guard case .ubyte(let x) = v else { throw wrong(index, name, v, expected: "ubyte") }
        return x
    }

    func ulong(_ index: Int, _ name: String) throws(AMQPCodecError) -> UInt64? {
        guard let v = raw(index) else { return nil }
        guard case .ulong(let x) = v else { throw wrong(index, name, v, expected: "ulong") }
        return x
    }

    func bool(_ index: Int, _ name: String) throws(AMQPCodecError) -> Bool? {
        guard let v = raw(index) else { return nil }
        guard case .bool(let x) = v else { throw wrong(index, name, v, expected: "boolean") }
        return x
    }

    func string(_ index: Int, _ name: String) throws(AMQPCodecError) -> String? {
        guard let v = raw(index) else { return nil }
        guard case .string(let x) = v else { throw wrong(index, name, v, expected: "string") }
        return x
    }

    func symbol(_ index: Int, _ name: String) throws(AMQPCodecError) -> String? {
        guard let v = raw(index) else { return nil }
        guard case .symbol(let x) = v else { throw wrong(index, name, v, expected: "symbol") }
        return x
    }

    func binary(_ index: Int, _ name: String) throws(AMQPCodecError) -> [UInt8]? {
        guard let v = raw(index) else { return nil }
        guard case .binary(let x) = v else { throw wrong(index, name, v, expected: "binary") }
        return x
    }

    func map(_ index: Int, _ name: String) throws(AMQPCodecError) -> AMQPMap? {
        guard let v = raw(index) else { return nil }
        guard case .map(let x) = v else { throw wrong(index, name, v, expected: "map") }
        return x
    }

    /// A `multiple="true"` symbol field: one symbol or an array of them; absent is empty.
    func symbols(_ index: Int, _ name: String) throws(AMQPCodecError) -> [String] {
        guard let v = raw(index) else { return [] }
        switch v {
        case .symbol(let s): return [s]
        case .array(let elements):
            var out: [String] = []
            out.reserveCapacity(elements.count)
            for e in elements {
                guard case .symbol(let s) = e else { throw wrong(index, name, e, expected: "symbol") }
                out.append(s)
            }
            return out
        default: throw wrong(index, name, v, expected: "symbol or symbol array")
        }
    }

    /// A field of any type (`*` in the spec), nil when absent or null.
    func any(_ index: Int) -> AMQPValue? { raw(index) }

    /// A described composite field, decoded by `read` when present.
    func composite<T>(
        _ index: Int,
        _ name: String,
        _ read: (AMQPDescriptor, AMQPValue) throws(AMQPCodecError) -> T?
    )
        throws(AMQPCodecError) -> T?
    {
        guard let v = raw(index) else { return nil }
        guard case .described(let d, let inner) = v, let decoded = try read(d, inner) else {
            throw wrong(index, name, v, expected: "a described value of the right kind")
        }
        return decoded
    }
}

/// Builds a composite's field list, dropping trailing nulls as the spec allows.
struct AMQPFieldWriter {
    private(set) var fields: [AMQPValue] = []

    mutating func add(_ value: AMQPValue?) { fields.append(value ?? .null) }
    mutating func add(uint: UInt32?) { add(uint.map { .uint($0) }) }
    mutating func add(ushort: UInt16?) { add(ushort.map { .ushort($0) }) }
    mutating func add(ubyte: UInt8?) { add(ubyte.map { .ubyte($0) }) }
    mutating func add(ulong: UInt64?) { add(ulong.map { .ulong($0) }) }
    mutating func add(bool: Bool?) { add(bool.map { .bool($0) }) }
    mutating func add(string: String?) { add(string.map { .string($0) }) }
    mutating func add(symbol: String?) { add(symbol.map { .symbol($0) }) }
    mutating func add(binary: [UInt8]?) { add(binary.map { .binary($0) }) }
    mutating func add(map: AMQPMap?) { add(map.map { .map($0) }) }
    /// A multiple symbol field: absent when empty, one symbol alone, an array otherwise.
    mutating func add(symbols: [String]) {
        switch symbols.count {
        case 0: add(nil)
        case 1: add(.symbol(symbols[0]))
        default: add(.array(symbols.map { .symbol($0) }))
        }
    }

    func described(_ code: UInt64) -> AMQPValue {
        var trimmed = fields
        while trimmed.last == .null { trimmed.removeLast() }
        return .described(.code(code), .list(trimmed))
    }
}

extension AMQPValue {
    /// The fields of a composite value with this numeric code (or its symbolic name), else nil.
    func compositeFields(code: UInt64, name: String) -> [AMQPValue]? {
        guard case .described(let d, let inner) = self else { return nil }
        switch d {
        case .code(let c) where c == code: break
        case .name(let n) where n == name: break
        default: return nil
        }
        switch inner {
        case .list(let fields): return fields
        default: return nil
        }
    }
}
