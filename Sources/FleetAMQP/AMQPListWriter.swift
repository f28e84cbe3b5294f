public import NIOCore

/// Writes a described list (a performative, a message's properties) field by field straight into a buffer, without
/// building `AMQPValue`s: the hot paths (a transfer, a disposition, a telemetry message's properties) use it. The
/// encoding is the one `AMQPValue.encode` gives the same fields (32-bit list, shortest scalars, trailing nulls
/// dropped), so either decodes to the same value.
public struct AMQPListWriter {
    private let sizeIndex: Int
    private var count: UInt32 = 0
    /// Where the list would end, and its count, if it stopped after the last non-null field.
    private var lastEnd: Int
    private var lastCount: UInt32 = 0

    /// Starts `descriptor`'s list (0x00, the ulong descriptor, list32 with its size and count patched by `end`).
    public init(descriptor: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x00))
        if descriptor <= 0xFF {
            buffer.writeInteger(UInt8(0x53))
            buffer.writeInteger(UInt8(descriptor))
        } else {
            buffer.writeInteger(UInt8(0x80))
            buffer.writeInteger(descriptor)
        }
        buffer.writeInteger(UInt8(0xD0))
        sizeIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt32(0))
        lastEnd = buffer.writerIndex
    }

    private mutating func wrote(_ buffer: ByteBuffer) {
        count += 1
        lastEnd = buffer.writerIndex
        lastCount = count
    }

    public mutating func null(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x40))
        count += 1
    }

    public mutating func uint(_ v: UInt32?, into buffer: inout ByteBuffer) {
        guard let v else { return null(into: &buffer) }
        AMQPValue.writeUInt(v, into: &buffer)
        wrote(buffer)
    }

    public mutating func bool(_ v: Bool?, into buffer: inout ByteBuffer) {
        guard let v else { return null(into: &buffer) }
        buffer.writeInteger(UInt8(v ? 0x41 : 0x42))
        wrote(buffer)
    }

    public mutating func binary(_ bytes: [UInt8]?, into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        guard let bytes else { return null(into: &buffer) }
        try AMQPValue.binary(bytes).encode(into: &buffer)
        wrote(buffer)
    }

    /// A string (`symbol: false`) or symbol field from any text, written from its UTF-8 bytes.
    public mutating func text(_ s: (some StringProtocol)?, symbol: Bool = false, into buffer: inout ByteBuffer) {
        guard let s else { return null(into: &buffer) }
        Self.writeText(s, symbol: symbol, into: &buffer)
        wrote(buffer)
    }

    /// Any value, through the general encoder.
    public mutating func value(_ v: AMQPValue?, into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        guard let v, v != .null else { return null(into: &buffer) }
        try v.encode(into: &buffer)
        wrote(buffer)
    }

    /// A delivery state: `accepted` (every acknowledgement) written as its four bytes, the others through the values.
    mutating func state(_ state: AMQPDeliveryState?, into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        guard let state else { return null(into: &buffer) }
        if state == .accepted {
            buffer.writeBytes([0x00, 0x53, 0x24, 0x45])
            wrote(buffer)
        } else {
            try value(state.value, into: &buffer)
        }
    }

    /// A boolean that defaults to false: written only when true.
    mutating func flag(_ v: Bool, into buffer: inout ByteBuffer) {
        bool(v ? true : nil, into: &buffer)
    }

    /// Drops the trailing nulls and patches the size and count (an empty list becomes `list0`, as the encoder writes).
    public func end(into buffer: inout ByteBuffer) {
        if lastCount == 0 {
            buffer.moveWriterIndex(to: sizeIndex - 1)
            buffer.writeInteger(UInt8(0x45))
            return
        }
        buffer.moveWriterIndex(to: lastEnd)
        buffer.setInteger(UInt32(lastEnd - sizeIndex - 4), at: sizeIndex)
        buffer.setInteger(lastCount, at: sizeIndex + 4)
    }

    static func writeText(_ s: some StringProtocol, symbol: Bool, into buffer: inout ByteBuffer) {
        let count = s.utf8.count
        if count <= 0xFF {
            buffer.writeInteger(UInt8(symbol ? 0xA3 : 0xA1))
            buffer.writeInteger(UInt8(count))
        } else {
            buffer.writeInteger(UInt8(symbol ? 0xB3 : 0xB1))
            buffer.writeInteger(UInt32(truncatingIfNeeded: count))
        }
        buffer.writeBytes(s.utf8)
    }
}

/// Writes a described map of string keys and values (application properties) straight into a buffer.
public struct AMQPStringMapWriter {
    private let sizeIndex: Int
    private var count: UInt32 = 0

    public init(descriptor: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x00))
        buffer.writeInteger(UInt8(0x53))
        buffer.writeInteger(UInt8(truncatingIfNeeded: descriptor))
        buffer.writeInteger(UInt8(0xD1))
        sizeIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt32(0))
    }

    public mutating func entry(_ key: some StringProtocol, _ value: some StringProtocol, into buffer: inout ByteBuffer)
    {
        AMQPListWriter.writeText(key, symbol: false, into: &buffer)
        AMQPListWriter.writeText(value, symbol: false, into: &buffer)
        count += 2
    }

    public func end(into buffer: inout ByteBuffer) {
        buffer.setInteger(UInt32(buffer.writerIndex - sizeIndex - 4), at: sizeIndex)
        buffer.setInteger(count, at: sizeIndex + 4)
    }
}
