public import NIOCore

extension AMQPValue {
    /// Writes the value with its constructor. Integers, strings, binaries and symbols take their shortest form;
    /// lists and maps take the 32-bit form (sizes are patched after the elements are written, no copy), an empty
    /// list `list0`. Throws only for what cannot be encoded: an array whose elements differ in type, a value over
    /// 4 GiB.
    public func encode(into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        switch self {
        case .null: buffer.writeInteger(UInt8(0x40))
        case .bool(let v): buffer.writeInteger(UInt8(v ? 0x41 : 0x42))
        case .uint(let v):
            Self.writeUInt(v, into: &buffer)
        case .ulong(let v):
            if v == 0 {
                buffer.writeInteger(UInt8(0x44))
            } else if v <= 0xFF {
                buffer.writeInteger(UInt8(0x53))
                buffer.writeInteger(UInt8(v))
            } else {
                buffer.writeInteger(UInt8(0x80))
                buffer.writeInteger(v)
            }
        case .int(let v):
            if let small = Int8(exactly: v) {
                buffer.writeInteger(UInt8(0x54))
                buffer.writeInteger(small)
            } else {
                buffer.writeInteger(UInt8(0x71))
                buffer.writeInteger(v)
            }
        case .long(let v):
            if let small = Int8(exactly: v) {
                buffer.writeInteger(UInt8(0x55))
                buffer.writeInteger(small)
            } else {
                buffer.writeInteger(UInt8(0x81))
                buffer.writeInteger(v)
            }
        case .string(let s):
            let count = s.utf8.count
            if count <= 0xFF {
                buffer.writeInteger(UInt8(0xA1))
                buffer.writeInteger(UInt8(count))
            } else {
                buffer.writeInteger(UInt8(0xB1))
                buffer.writeInteger(try Self.length32(count))
            }
            buffer.writeString(s)
        case .symbol(let s):
            let count = s.utf8.count
            if count <= 0xFF {
                buffer.writeInteger(UInt8(0xA3))
                buffer.writeInteger(UInt8(count))
            } else {
                buffer.writeInteger(UInt8(0xB3))
                buffer.writeInteger(try Self.length32(count))
            }
            buffer.writeString(s)
        case .binary(let bytes):
            if bytes.count <= 0xFF {
                buffer.writeInteger(UInt8(0xA0))
                buffer.writeInteger(UInt8(bytes.count))
            } else {
                buffer.writeInteger(UInt8(0xB0))
                buffer.writeInteger(try Self.length32(bytes.count))
            }
            buffer.writeBytes(bytes)
        case .list(let elements) where elements.isEmpty:
            buffer.writeInteger(UInt8(0x45))
        case .described(let descriptor, let value):
            buffer.writeInteger(UInt8(0x00))
            switch descriptor {
            case .code(let code): try AMQPValue.ulong(code).encode(into: &buffer)
            case .name(let name): try AMQPValue.symbol(name).encode(into: &buffer)
            }
            try value.encode(into: &buffer)
        default:
            buffer.writeInteger(elementConstructor)
            try encodeBody(into: &buffer)
        }
    }

    /// The constructor an array element of this type takes (one fixed-width form per type, so all elements fit).
    var elementConstructor: UInt8 {
        switch self {
        case .null: 0x40
        case .bool: 0x56
        case .ubyte: 0x50
        case .ushort: 0x60
        case .uint: 0x70
        case .ulong: 0x80
        case .byte: 0x51
        case .short: 0x61
        case .int: 0x71
        case .long: 0x81
        case .float: 0x72
        case .double: 0x82
        case .decimal32: 0x74
        case .decimal64: 0x84
        case .decimal128: 0x94
        case .char: 0x73
        case .timestamp: 0x83
        case .uuid: 0x98
        case .binary: 0xB0
        case .string: 0xB1
        case .symbol: 0xB3
        case .list: 0xD0
        case .map: 0xD1
        case .array: 0xF0
        case .described(_, let inner): inner.elementConstructor
        }
    }

    /// The bytes after `elementConstructor` (for a described value: after its descriptor).
    func encodeBody(into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        switch self {
        case .null: break
        case .bool(let v): buffer.writeInteger(UInt8(v ? 1 : 0))
        case .ubyte(let v): buffer.writeInteger(v)
        case .ushort(let v): buffer.writeInteger(v)
        case .uint(let v): buffer.writeInteger(v)
        case .ulong(let v): buffer.writeInteger(v)
        case .byte(let v): buffer.writeInteger(v)
        case .short(let v): buffer.writeInteger(v)
        case .int(let v): buffer.writeInteger(v)
        case .long(let v): buffer.writeInteger(v)
        case .float(let bits): buffer.writeInteger(bits)
        case .double(let bits): buffer.writeInteger(bits)
        case .decimal32(let v): buffer.writeInteger(v)
        case .decimal64(let v): buffer.writeInteger(v)
        case .decimal128(let bytes), .uuid(let bytes):
            guard bytes.count == 16 else {
                throw AMQPCodecError(.valueTooLarge, context: typeName, detail: "\(bytes.count) bytes, not 16")
            }
            buffer.writeBytes(bytes)
        case .char(let v): buffer.writeInteger(v)
        case .timestamp(let v): buffer.writeInteger(v)
        case .binary(let bytes):
            buffer.writeInteger(try Self.length32(bytes.count))
            buffer.writeBytes(bytes)
        case .string(let s), .symbol(let s):
            buffer.writeInteger(try Self.length32(s.utf8.count))
            buffer.writeString(s)
        case .list(let elements):
            try Self.writeCompound(count: elements.count, into: &buffer) { (buffer) throws(AMQPCodecError) in
                for element in elements { try element.encode(into: &buffer) }
            }
        case .map(let map):
            try Self.writeCompound(count: map.entries.count * 2, into: &buffer) { (buffer) throws(AMQPCodecError) in
                for entry in map.entries {
                    try entry.key.encode(into: &buffer)
                    try entry.value.encode(into: &buffer)
                }
            }
        case .array(let elements):
            try Self.writeCompound(count: elements.count, into: &buffer) { (buffer) throws(AMQPCodecError) in
                try Self.writeArrayElements(elements, into: &buffer)
            }
        case .described(_, let inner):
            try inner.encodeBody(into: &buffer)
        }
    }

    private static func writeArrayElements(
        _ elements: [AMQPValue],
        into buffer: inout ByteBuffer
    ) throws(AMQPCodecError) {
        // An empty array still names an element type; null is the one that carries nothing.
        guard let first = elements.first else {
            buffer.writeInteger(UInt8(0x40))
            return
        }
        let constructor = first.elementConstructor
        // Null elements take no bytes; the decoder bounds a count by the bytes present, so more than one is refused
        // there and is not written here.
        guard constructor != 0x40 || elements.count <= 1 else {
            throw AMQPCodecError(.countExceedsSize, context: "array", detail: "\(elements.count) nulls")
        }
        var descriptor: AMQPDescriptor?
        if case .described(let d, _) = first { descriptor = d }
        for element in elements.dropFirst() {
            var elementDescriptor: AMQPDescriptor?
            if case .described(let d, _) = element { elementDescriptor = d }
            guard element.elementConstructor == constructor, elementDescriptor == descriptor else {
                throw AMQPCodecError(.mixedArray, detail: "\(first.typeName) and \(element.typeName)")
            }
        }
        if let descriptor {
            buffer.writeInteger(UInt8(0x00))
            switch descriptor {
            case .code(let code): try AMQPValue.ulong(code).encode(into: &buffer)
            case .name(let name): try AMQPValue.symbol(name).encode(into: &buffer)
            }
        }
        buffer.writeInteger(constructor)
        for element in elements { try element.encodeBody(into: &buffer) }
    }

    /// Size (patched once known) and count, then the elements.
    private static func writeCompound(
        count: Int,
        into buffer: inout ByteBuffer,
        elements: (inout ByteBuffer) throws(AMQPCodecError) -> Void
    ) throws(AMQPCodecError) {
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(try length32(count))
        try elements(&buffer)
        let size = buffer.writerIndex - sizeIndex - 4
        buffer.setInteger(try length32(size), at: sizeIndex)
    }

    /// A uint in its shortest form: `uint0`, `smalluint` or the full four bytes.
    static func writeUInt(_ v: UInt32, into buffer: inout ByteBuffer) {
        if v == 0 {
            buffer.writeInteger(UInt8(0x43))
        } else if v <= 0xFF {
            buffer.writeInteger(UInt8(0x52))
            buffer.writeInteger(UInt8(v))
        } else {
            buffer.writeInteger(UInt8(0x70))
            buffer.writeInteger(v)
        }
    }

    static func length32(_ n: Int) throws(AMQPCodecError) -> UInt32 {
        guard let v = UInt32(exactly: n) else { throw AMQPCodecError(.valueTooLarge, detail: "\(n) bytes") }
        return v
    }
}
