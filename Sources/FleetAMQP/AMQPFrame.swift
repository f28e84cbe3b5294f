public import NIOCore

/// The 8 bytes that open each protocol layer: `AMQP`, the protocol id, then version 1.0.0.
public enum AMQPProtocolHeader: UInt8, Sendable, Hashable {
    case amqp = 0
    case tls = 2
    case sasl = 3

    public var bytes: [UInt8] { [0x41, 0x4D, 0x51, 0x50, rawValue, 1, 0, 0] }
}

/// One frame: the channel (a session, for AMQP frames) and its body.
public struct AMQPFrame: Sendable, Hashable {
    public enum Body: Sendable, Hashable {
        /// An AMQP frame without a body: keeps an idle connection alive.
        case empty
        case performative(AMQPPerformative)
        case sasl(AMQPSASLFrame)
    }

    public var channel: UInt16
    public var body: Body

    public init(channel: UInt16 = 0, _ body: Body) {
        self.channel = channel
        self.body = body
    }

    public static func performative(_ p: AMQPPerformative, channel: UInt16 = 0) -> AMQPFrame {
        AMQPFrame(channel: channel, .performative(p))
    }

    /// Frame header (size, data offset 2, type, channel), the described body, and a transfer's payload.
    public func encode(into buffer: inout ByteBuffer) throws(AMQPCodecError) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt8(2))
        switch body {
        case .empty:
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(channel)
        case .performative(let p):
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(channel)
            try p.encodeBody(into: &buffer)
        case .sasl(let s):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt16(0))
            try s.value.encode(into: &buffer)
        }
        buffer.setInteger(try AMQPValue.length32(buffer.writerIndex - start), at: start)
    }
}

/// What arrives on an AMQP connection: a protocol header (the first bytes, and again after SASL) or a frame.
public enum AMQPInbound: Sendable, Hashable {
    case header(AMQPProtocolHeader)
    case frame(AMQPFrame)
}

/// Single-step decoder for both directions.
///
/// `decode(buffer:)` returns nil while the buffer holds only part of a header or frame, consumes exactly one when
/// complete, and throws a typed error on a malformed one. It expects a protocol header first, and again where the SASL
/// layer ends: after a SASL outcome, or wherever `AMQP` starts in place of a SASL frame (clients send the AMQP header
/// right behind their last SASL frame without waiting for the outcome; no SASL frame is 1 GiB long, so the two cannot
/// be confused). The frame size limit is checked as soon as the size field is readable, so a peer
/// announcing a 4 GiB frame is refused before anything is buffered.
public struct AMQPFrameDecoder: Sendable {
    /// Largest accepted frame, header included (a connection lowers it to what it announced in its open).
    public var maxFrameSize: Int
    /// Whether the next bytes are a protocol header.
    public var expectsHeader = true
    /// Whether the frames are SASL frames (after a SASL header, until the next header).
    public private(set) var inSASL = false

    /// IoT Hub's 256 KB message limit plus room for the performative and message sections.
    public static let defaultMaxFrameSize = 256 * 1024 + 16 * 1024
    /// The spec's smallest maximum frame size: every peer accepts frames this large.
    public static let minimumMaxFrameSize = 512

    public init(maxFrameSize: Int = AMQPFrameDecoder.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws(AMQPCodecError) -> AMQPInbound? {
        if expectsHeader {
            guard let bytes = buffer.getBytes(at: buffer.readerIndex, length: 8) else {
                // A peer that sends something else from its first byte on is told so without waiting for 8 bytes.
                if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first != 0x41 {
                    throw AMQPCodecError(.invalidProtocolHeader, detail: "first byte 0x" + String(first, radix: 16))
                }
                return nil
            }
            guard bytes[0..<4] == [0x41, 0x4D, 0x51, 0x50], bytes[5..<8] == [1, 0, 0],
                let header = AMQPProtocolHeader(rawValue: bytes[4])
            else {
                throw AMQPCodecError(
                    .invalidProtocolHeader,
                    detail: bytes.map { String($0, radix: 16) }.joined(separator: " ")
                )
            }
            buffer.moveReaderIndex(forwardBy: 8)
            expectsHeader = false
            inSASL = header == .sasl
            return .header(header)
        }
        let start = buffer.readerIndex
        if inSASL, buffer.getInteger(at: start, as: UInt32.self) == 0x414D_5150 {
            expectsHeader = true
            return try decode(buffer: &buffer)
        }
        guard let size32 = buffer.getInteger(at: start, as: UInt32.self) else { return nil }
        let size = Int(size32)
        guard size >= 8 else { throw AMQPCodecError(.frameTooSmall, detail: "size \(size)") }
        guard size <= maxFrameSize else {
            throw AMQPCodecError(.frameTooLarge, detail: "\(size) > \(maxFrameSize) bytes")
        }
        guard buffer.readableBytes >= size else { return nil }
        guard let offsetWords = buffer.getInteger(at: start + 4, as: UInt8.self),
            let type = buffer.getInteger(at: start + 5, as: UInt8.self),
            let channel = buffer.getInteger(at: start + 6, as: UInt16.self)
        else { return nil }
        let offset = Int(offsetWords) * 4
        guard offset >= 8, offset <= size else {
            throw AMQPCodecError(.frameTooSmall, detail: "data offset \(offset) in a \(size)-byte frame")
        }
        guard var body = buffer.getSlice(at: start + offset, length: size - offset) else { return nil }
        let frame: AMQPFrame
        switch type {
        case 0:
            if body.readableBytes == 0 {
                frame = AMQPFrame(channel: channel, .empty)
            } else {
                frame = AMQPFrame(channel: channel, .performative(try AMQPPerformative.decode(body: &body)))
            }
        case 1:
            let value = try AMQPValue.decode(from: &body)
            let sasl = try AMQPSASLFrame.decode(value: value)
            guard body.readableBytes == 0 else {
                throw AMQPCodecError(.trailingBytes, context: sasl.name, detail: "\(body.readableBytes) bytes")
            }
            if case .outcome = sasl { expectsHeader = true }
            // SASL frames have no channel: the field is ignored (and written as 0).
            frame = AMQPFrame(channel: 0, .sasl(sasl))
        default:
            throw AMQPCodecError(.unknownFrameType, detail: "type \(type)")
        }
        buffer.moveReaderIndex(to: start + size)
        return .frame(frame)
    }
}
