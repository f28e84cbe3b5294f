public import NIOCore

/// Encodes packets for one protocol version. The remaining length is written in place: the body goes after a
/// 5-byte gap which is then closed, so encoding a 3.1.1 packet into a buffer with room allocates nothing.
/// A failed encode leaves the buffer as it was.
public struct MQTTEncoder: Sendable {
    public var version: MQTTVersion

    public init(version: MQTTVersion) { self.version = version }

    /// A shared empty buffer parked in the caller's variable while the writer owns the real one, so the writer's
    /// copy stays uniquely referenced and never triggers a copy-on-write.
    private static let parked = ByteBuffer()

    public func encode(_ packet: MQTTPacket, into buffer: inout ByteBuffer) throws(MQTTCodecError) {
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: 5)
        var w = MQTTWriter(buffer: buffer, type: packet.type)
        buffer = Self.parked
        let flags: UInt8
        do {
            flags = try w.writeBody(packet, version: version)
        } catch {
            w.buffer.moveWriterIndex(to: start)
            buffer = w.buffer
            throw error
        }
        buffer = w.buffer
        w.buffer = Self.parked
        try Self.close(start: start, type: packet.type, flags: flags, in: &buffer)
    }

    /// A PUBLISH whose topic `writeTopic` writes straight into the buffer (no topic string is built): the telemetry
    /// hot path, where the topic carries a per-message id. No MQTT 5 properties.
    public func encodePublish(
        qos: MQTTQoS,
        packetID: UInt16?,
        dup: Bool,
        payload: ByteBuffer,
        into buffer: inout ByteBuffer,
        topic writeTopic: (inout ByteBuffer) -> Void
    ) throws(MQTTCodecError) {
        try encodePublish(qos: qos, packetID: packetID, dup: dup, into: &buffer, topic: writeTopic) {
            $0.writeImmutableBuffer(payload)
        }
    }

    /// The same, with the payload written straight into the buffer by `writePayload` too (a templated body: no
    /// buffer of its own per message).
    public func encodePublish(
        qos: MQTTQoS,
        packetID: UInt16?,
        dup: Bool,
        into buffer: inout ByteBuffer,
        topic writeTopic: (inout ByteBuffer) -> Void,
        payload writePayload: (inout ByteBuffer) -> Void
    ) throws(MQTTCodecError) {
        guard qos == .atMostOnce || (packetID ?? 0) != 0 else {
            throw MQTTCodecError(.zeroPacketIdentifier, packetType: .publish)
        }
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: 7)
        writeTopic(&buffer)
        let topicLength = buffer.writerIndex - start - 7
        guard topicLength <= 65535 else {
            buffer.moveWriterIndex(to: start)
            throw MQTTCodecError(.stringTooLong, packetType: .publish)
        }
        buffer.setInteger(UInt16(topicLength), at: start + 5)
        if qos != .atMostOnce, let packetID { buffer.writeInteger(packetID) }
        if version == .v5 { buffer.writeInteger(UInt8(0)) }
        writePayload(&buffer)
        try Self.close(start: start, type: .publish, flags: (dup ? 0x08 : 0) | (qos.rawValue << 1), in: &buffer)
    }

    /// Closes the 5-byte gap left for the fixed header at `start`: moves the body up and writes type, flags and the
    /// remaining length.
    private static func close(
        start: Int,
        type: MQTTPacketType,
        flags: UInt8,
        in buffer: inout ByteBuffer
    ) throws(MQTTCodecError) {
        let bodyLength = buffer.writerIndex - start - 5
        guard bodyLength <= 268_435_455 else {
            buffer.moveWriterIndex(to: start)
            throw MQTTCodecError(.packetTooLarge, packetType: type)
        }
        let lengthBytes = bodyLength < 128 ? 1 : bodyLength < 16_384 ? 2 : bodyLength < 2_097_152 ? 3 : 4
        let headerLength = 1 + lengthBytes
        if headerLength != 5 {
            do {
                try buffer.copyBytes(at: start + 5, to: start + headerLength, length: bodyLength)
            } catch {
                // The body was written just above `start`, so this cannot fail; if it ever did, the packet is
                // dropped and the caller handles an encoding error, as for any packet it cannot send.
                buffer.moveWriterIndex(to: start)
                throw MQTTCodecError(.truncated, packetType: type)
            }
        }
        buffer.setInteger((type.rawValue << 4) | flags, at: start)
        var n = bodyLength
        for i in 0..<lengthBytes {
            var byte = UInt8(n % 128)
            n /= 128
            if n > 0 { byte |= 0x80 }
            buffer.setInteger(byte, at: start + 1 + i)
        }
        buffer.moveWriterIndex(to: start + headerLength + bodyLength)
    }

    /// Convenience: one packet in a fresh buffer.
    public func encode(
        _ packet: MQTTPacket,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    )
        throws(MQTTCodecError) -> ByteBuffer
    {
        var buffer = allocator.buffer(capacity: 64)
        try encode(packet, into: &buffer)
        return buffer
    }
}

struct MQTTWriter {
    var buffer: ByteBuffer
    let type: MQTTPacketType

    mutating func writeString(_ s: String) throws(MQTTCodecError) {
        let count = s.utf8.count
        guard count <= 65535 else { throw MQTTCodecError(.stringTooLong, packetType: type) }
        buffer.writeInteger(UInt16(count))
        buffer.writeString(s)
    }

    mutating func writeBinary(_ b: some Collection<UInt8>) throws(MQTTCodecError) {
        guard b.count <= 65535 else { throw MQTTCodecError(.stringTooLong, packetType: type) }
        buffer.writeInteger(UInt16(b.count))
        buffer.writeBytes(b)
    }

    mutating func writeVarint(_ value: Int) {
        var n = value
        repeat {
            var byte = UInt8(n % 128)
            n /= 128
            if n > 0 { byte |= 0x80 }
            buffer.writeInteger(byte)
        } while n > 0
    }

    mutating func writeProperties(_ properties: MQTTProperties) throws(MQTTCodecError) {
        var body = MQTTWriter(buffer: ByteBuffer(), type: type)
        for p in properties {
            body.buffer.writeInteger(p.id.rawValue)
            switch (p.id.wireType, p.value) {
            case (.byte, .integer(let v)): body.buffer.writeInteger(UInt8(truncatingIfNeeded: v))
            case (.twoByte, .integer(let v)): body.buffer.writeInteger(UInt16(truncatingIfNeeded: v))
            case (.fourByte, .integer(let v)): body.buffer.writeInteger(v)
            case (.varint, .integer(let v)): body.writeVarint(Int(v))
            case (.string, .string(let s)): try body.writeString(s)
            case (.binary, .binary(let b)): try body.writeBinary(b)
            case (.pair, .pair(let k, let v)):
                try body.writeString(k)
                try body.writeString(v)
            default:
                throw MQTTCodecError(.invalidProperty, packetType: type, detail: "property \(p.id) has the wrong type")
            }
        }
        writeVarint(body.buffer.readableBytes)
        buffer.writeBuffer(&body.buffer)
    }

    /// Writes the variable header and payload; returns the fixed-header flags.
    mutating func writeBody(_ packet: MQTTPacket, version: MQTTVersion) throws(MQTTCodecError) -> UInt8 {
        let v5 = version == .v5
        switch packet {
        case .connect(let c):
            try writeString("MQTT")
            buffer.writeInteger(c.version.rawValue)
            var flags: UInt8 = c.cleanStart ? 0x02 : 0
            if let will = c.will {
                flags |= 0x04 | (will.qos.rawValue << 3) | (will.retain ? 0x20 : 0)
            }
            if c.password != nil { flags |= 0x40 }
            if c.username != nil { flags |= 0x80 }
            buffer.writeInteger(flags)
            buffer.writeInteger(c.keepAliveSeconds)
            if c.version == .v5 { try writeProperties(c.properties) }
            try writeString(c.clientID)
            if let will = c.will {
                if c.version == .v5 { try writeProperties(will.properties) }
                try writeString(will.topic)
                try writeBinary(will.payload.readableBytesView)
            }
            if let u = c.username { try writeString(u) }
            if let p = c.password { try writeBinary(p) }
            return 0
        case .connack(let a):
            buffer.writeInteger(UInt8(a.sessionPresent ? 1 : 0))
            buffer.writeInteger(a.code)
            if v5 { try writeProperties(a.properties) }
            return 0
        case .publish(let p):
            guard p.qos == .atMostOnce || (p.packetID ?? 0) != 0 else {
                throw MQTTCodecError(.zeroPacketIdentifier, packetType: .publish)
            }
            try writeString(p.topic)
            if p.qos != .atMostOnce, let id = p.packetID { buffer.writeInteger(id) }
            if v5 { try writeProperties(p.properties) }
            buffer.writeImmutableBuffer(p.payload)
            return (p.dup ? 0x08 : 0) | (p.qos.rawValue << 1) | (p.retain ? 0x01 : 0)
        case .puback(let a), .pubrec(let a), .pubrel(let a), .pubcomp(let a):
            guard a.packetID != 0 else { throw MQTTCodecError(.zeroPacketIdentifier, packetType: type) }
            buffer.writeInteger(a.packetID)
            if v5 && (a.reasonCode != 0 || !a.properties.isEmpty) {
                buffer.writeInteger(a.reasonCode)
                if !a.properties.isEmpty { try writeProperties(a.properties) }
            }
            return type.requiredFlags
        case .subscribe(let s):
            guard s.packetID != 0 else { throw MQTTCodecError(.zeroPacketIdentifier, packetType: type) }
            buffer.writeInteger(s.packetID)
            if v5 { try writeProperties(s.properties) }
            for sub in s.subscriptions {
                try writeString(sub.topicFilter)
                buffer.writeInteger(sub.options)
            }
            return type.requiredFlags
        case .suback(let a), .unsuback(let a):
            buffer.writeInteger(a.packetID)
            if v5 { try writeProperties(a.properties) }
            if v5 || type == .suback { buffer.writeBytes(a.codes) }
            return 0
        case .unsubscribe(let u):
            guard u.packetID != 0 else { throw MQTTCodecError(.zeroPacketIdentifier, packetType: type) }
            buffer.writeInteger(u.packetID)
            if v5 { try writeProperties(u.properties) }
            for f in u.topicFilters { try writeString(f) }
            return type.requiredFlags
        case .pingreq, .pingresp:
            return 0
        case .disconnect(let d), .auth(let d):
            if type == .auth && !v5 { throw MQTTCodecError(.unsupportedInVersion, packetType: .auth) }
            if v5 && (d.reasonCode != 0 || !d.properties.isEmpty) {
                buffer.writeInteger(d.reasonCode)
                if !d.properties.isEmpty { try writeProperties(d.properties) }
            }
            return 0
        }
    }
}
