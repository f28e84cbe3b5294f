public import NIOCore

extension AMQPValue {
    /// Nested compound values deeper than this are refused (the decoder recurses once per level).
    public static let maxNestingDepth = 32

    /// Reads one value (constructor and body) from the buffer's readable bytes.
    ///
    /// Every size and count is bounded by the bytes present before anything is allocated: a compound value's count
    /// may not exceed its size in bytes (so an array of zero-width elements, legal but unused in practice, is refused
    /// once it holds more elements than bytes). On a throw the buffer's reader index is unspecified.
    public static func decode(from buffer: inout ByteBuffer, depth: Int = 0) throws(AMQPCodecError) -> AMQPValue {
        let constructor = try buffer.amqpByte()
        if constructor == 0x00 {
            let descriptor = try decodeDescriptor(from: &buffer, depth: depth)
            let inner = try decode(from: &buffer, depth: depth + 1)
            return .described(descriptor, inner)
        }
        return try decodeBody(constructor: constructor, from: &buffer, depth: depth)
    }

    static func decodeDescriptor(from buffer: inout ByteBuffer, depth: Int) throws(AMQPCodecError) -> AMQPDescriptor {
        guard depth < maxNestingDepth else { throw AMQPCodecError(.nestingTooDeep) }
        switch try decode(from: &buffer, depth: depth + 1) {
        case .ulong(let code): return .code(code)
        case .symbol(let name): return .name(name)
        case let other:
            throw AMQPCodecError(
                .wrongFieldType,
                context: "descriptor",
                detail: "\(other.typeName), not ulong or symbol"
            )
        }
    }

    /// The body of a value whose constructor has been read.
    static func decodeBody(
        constructor: UInt8,
        from buffer: inout ByteBuffer,
        depth: Int
    ) throws(AMQPCodecError) -> AMQPValue {
        switch constructor {
        case 0x40: return .null
        case 0x41: return .bool(true)
        case 0x42: return .bool(false)
        case 0x56:
            switch try buffer.amqpByte() {
            case 0: return .bool(false)
            case 1: return .bool(true)
            case let b: throw AMQPCodecError(.wrongFieldType, context: "boolean", detail: "byte \(b)")
            }
        case 0x50: return .ubyte(try buffer.amqpInteger(UInt8.self))
        case 0x60: return .ushort(try buffer.amqpInteger(UInt16.self))
        case 0x70: return .uint(try buffer.amqpInteger(UInt32.self))
        case 0x52: return .uint(UInt32(try buffer.amqpInteger(UInt8.self)))
        case 0x43: return .uint(0)
        case 0x80: return .ulong(try buffer.amqpInteger(UInt64.self))
        case 0x53: return .ulong(UInt64(try buffer.amqpInteger(UInt8.self)))
        case 0x44: return .ulong(0)
        case 0x51: return .byte(try buffer.amqpInteger(Int8.self))
        case 0x61: return .short(try buffer.amqpInteger(Int16.self))
        case 0x71: return .int(try buffer.amqpInteger(Int32.self))
        case 0x54: return .int(Int32(try buffer.amqpInteger(Int8.self)))
        case 0x81: return .long(try buffer.amqpInteger(Int64.self))
        case 0x55: return .long(Int64(try buffer.amqpInteger(Int8.self)))
        case 0x72: return .float(bits: try buffer.amqpInteger(UInt32.self))
        case 0x82: return .double(bits: try buffer.amqpInteger(UInt64.self))
        case 0x74: return .decimal32(try buffer.amqpInteger(UInt32.self))
        case 0x84: return .decimal64(try buffer.amqpInteger(UInt64.self))
        case 0x94: return .decimal128(try buffer.amqpBytes(16))
        case 0x73:
            let code = try buffer.amqpInteger(UInt32.self)
            guard Unicode.Scalar(code) != nil else {
                throw AMQPCodecError(.invalidChar, detail: "U+" + String(code, radix: 16))
            }
            return .char(code)
        case 0x83: return .timestamp(try buffer.amqpInteger(Int64.self))
        case 0x98: return .uuid(try buffer.amqpBytes(16))
        case 0xA0: return .binary(try buffer.amqpBytes(Int(try buffer.amqpInteger(UInt8.self))))
        case 0xB0: return .binary(try buffer.amqpBytes(try buffer.amqpLength32()))
        case 0xA1: return .string(try buffer.amqpString(length: Int(try buffer.amqpInteger(UInt8.self))))
        case 0xB1: return .string(try buffer.amqpString(length: try buffer.amqpLength32()))
        case 0xA3: return .symbol(try buffer.amqpSymbol(length: Int(try buffer.amqpInteger(UInt8.self))))
        case 0xB3: return .symbol(try buffer.amqpSymbol(length: try buffer.amqpLength32()))
        case 0x45: return .list([])
        case 0xC0, 0xD0, 0xC1, 0xD1:
            let wide = constructor & 0xF0 == 0xD0
            let elements = try decodeCompound(wide: wide, from: &buffer, depth: depth)
            if constructor & 0x0F == 0 { return .list(elements) }
            guard elements.count % 2 == 0 else { throw AMQPCodecError(.oddMap, detail: "\(elements.count) elements") }
            var entries: [AMQPMap.Entry] = []
            entries.reserveCapacity(elements.count / 2)
            var i = 0
            while i < elements.count {
                entries.append(AMQPMap.Entry(key: elements[i], value: elements[i + 1]))
                i += 2
            }
            return .map(AMQPMap(entries))
        case 0xE0, 0xF0:
            return try decodeArray(wide: constructor == 0xF0, from: &buffer, depth: depth)
        default:
            throw AMQPCodecError(.unknownConstructor, detail: "0x" + String(constructor, radix: 16))
        }
    }

    /// A compound value's size and count (8- or 32-bit), bounded: the size by the bytes present, the count by the size
    /// (every element takes a byte at least; see `decode`); returns where its bytes end and the count.
    private static func compoundHeader(
        wide: Bool,
        from buffer: inout ByteBuffer,
        depth: Int
    )
        throws(AMQPCodecError) -> (end: Int, count: Int)
    {
        guard depth < maxNestingDepth else { throw AMQPCodecError(.nestingTooDeep) }
        let size = wide ? try buffer.amqpLength32() : Int(try buffer.amqpInteger(UInt8.self))
        guard size <= buffer.readableBytes else { throw AMQPCodecError(.truncated, detail: "size \(size)") }
        let countWidth = wide ? 4 : 1
        guard size >= countWidth else { throw AMQPCodecError(.sizeMismatch, detail: "size \(size)") }
        let end = buffer.readerIndex + size
        let count = wide ? Int(try buffer.amqpInteger(UInt32.self)) : Int(try buffer.amqpInteger(UInt8.self))
        guard count <= size - countWidth else {
            throw AMQPCodecError(.countExceedsSize, detail: "\(count) elements in \(size) bytes")
        }
        return (end, count)
    }

    /// A list's or map's elements: size, count, then `count` complete values filling exactly `size` bytes.
    private static func decodeCompound(
        wide: Bool,
        from buffer: inout ByteBuffer,
        depth: Int
    ) throws(AMQPCodecError) -> [AMQPValue] {
        let (end, count) = try compoundHeader(wide: wide, from: &buffer, depth: depth)
        var elements: [AMQPValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try decode(from: &buffer, depth: depth + 1))
            guard buffer.readerIndex <= end else { throw AMQPCodecError(.sizeMismatch, detail: "element past size") }
        }
        guard buffer.readerIndex == end else { throw AMQPCodecError(.sizeMismatch, detail: "bytes after elements") }
        return elements
    }

    /// An array: size, count, one element constructor (possibly described), then `count` bodies.
    private static func decodeArray(
        wide: Bool,
        from buffer: inout ByteBuffer,
        depth: Int
    ) throws(AMQPCodecError) -> AMQPValue {
        let (end, count) = try compoundHeader(wide: wide, from: &buffer, depth: depth)
        guard buffer.readerIndex < end else {
            throw AMQPCodecError(.sizeMismatch, detail: "array without an element constructor")
        }
        var constructor = try buffer.amqpByte()
        var descriptor: AMQPDescriptor?
        if constructor == 0x00 {
            descriptor = try decodeDescriptor(from: &buffer, depth: depth + 1)
            constructor = try buffer.amqpByte()
            guard constructor != 0x00 else {
                throw AMQPCodecError(.unknownConstructor, context: "array", detail: "nested descriptor constructor")
            }
        }
        var elements: [AMQPValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            let body = try decodeBody(constructor: constructor, from: &buffer, depth: depth + 1)
            elements.append(descriptor.map { .described($0, body) } ?? body)
            guard buffer.readerIndex <= end else { throw AMQPCodecError(.sizeMismatch, detail: "element past size") }
        }
        guard buffer.readerIndex == end else { throw AMQPCodecError(.sizeMismatch, detail: "bytes after elements") }
        return .array(elements)
    }

    /// The type's name in the spec, for errors.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .ubyte: "ubyte"
        case .ushort: "ushort"
        case .uint: "uint"
        case .ulong: "ulong"
        case .byte: "byte"
        case .short: "short"
        case .int: "int"
        case .long: "long"
        case .float: "float"
        case .double: "double"
        case .decimal32: "decimal32"
        case .decimal64: "decimal64"
        case .decimal128: "decimal128"
        case .char: "char"
        case .timestamp: "timestamp"
        case .uuid: "uuid"
        case .binary: "binary"
        case .string: "string"
        case .symbol: "symbol"
        case .list: "list"
        case .map: "map"
        case .array: "array"
        case .described(let d, _): "described(\(d))"
        }
    }
}

extension ByteBuffer {
    mutating func amqpByte() throws(AMQPCodecError) -> UInt8 {
        guard let b = readInteger(as: UInt8.self) else { throw AMQPCodecError(.truncated) }
        return b
    }

    mutating func amqpInteger<T: FixedWidthInteger>(_: T.Type) throws(AMQPCodecError) -> T {
        guard let v = readInteger(endianness: .big, as: T.self) else { throw AMQPCodecError(.truncated) }
        return v
    }

    /// A 32-bit length, bounded by the bytes present (so nothing is allocated for a length the peer cannot send).
    mutating func amqpLength32() throws(AMQPCodecError) -> Int {
        let n = Int(try amqpInteger(UInt32.self))
        guard n <= readableBytes else { throw AMQPCodecError(.truncated, detail: "length \(n)") }
        return n
    }

    mutating func amqpBytes(_ n: Int) throws(AMQPCodecError) -> [UInt8] {
        guard let bytes = readBytes(length: n) else { throw AMQPCodecError(.truncated, detail: "length \(n)") }
        return bytes
    }

    mutating func amqpString(length: Int) throws(AMQPCodecError) -> String {
        guard let view = readSlice(length: length) else { throw AMQPCodecError(.truncated, detail: "length \(length)") }
        let decoded = view.readableBytesView.withContiguousStorageIfAvailable { String(validating: $0, as: UTF8.self) }
        guard let string = decoded ?? String(validating: Array(view.readableBytesView), as: UTF8.self) else {
            throw AMQPCodecError(.invalidUTF8)
        }
        return string
    }

    mutating func amqpSymbol(length: Int) throws(AMQPCodecError) -> String {
        guard let view = readSlice(length: length) else { throw AMQPCodecError(.truncated, detail: "length \(length)") }
        guard view.readableBytesView.allSatisfy({ $0 < 0x80 }) else { throw AMQPCodecError(.invalidSymbol) }
        return String(decoding: view.readableBytesView, as: UTF8.self)
    }
}
