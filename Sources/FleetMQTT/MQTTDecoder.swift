public import NIOCore

/// Single-step MQTT decoder for both directions.
///
/// `decode(buffer:)` returns nil while the buffer holds only part of a packet, consumes exactly one packet when one is
/// complete, and throws a typed error on a malformed one (leaving the buffer untouched). The size limit is checked as
/// soon as the fixed header is readable, so a peer announcing a 268 MB packet is refused before anything is buffered.
public struct MQTTDecoder: Sendable {
    /// The version used for packets other than CONNECT. A server decoder learns it from the CONNECT it decodes.
    public var version: MQTTVersion
    /// Largest accepted packet, fixed header included.
    public var maxPacketSize: Int

    /// The default maximum packet size: IoT Hub's 256 KB message limit plus room for topic and properties.
    public static let defaultMaxPacketSize = 256 * 1024 + 16 * 1024

    public init(version: MQTTVersion = .v311, maxPacketSize: Int = MQTTDecoder.defaultMaxPacketSize) {
        self.version = version
        self.maxPacketSize = maxPacketSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws(MQTTCodecError) -> MQTTPacket? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        var remaining = 0
        var multiplier = 1
        var headerLength = 1
        while true {
            guard let byte = buffer.getInteger(at: start + headerLength, as: UInt8.self) else { return nil }
            headerLength += 1
            remaining += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 { break }
            if headerLength == 5 {
                throw MQTTCodecError(.remainingLengthTooLong, packetType: MQTTPacketType(rawValue: first >> 4))
            }
            multiplier *= 128
        }
        let total = headerLength + remaining
        guard total <= maxPacketSize else {
            throw MQTTCodecError(
                .packetTooLarge,
                packetType: MQTTPacketType(rawValue: first >> 4),
                detail: "\(total) > \(maxPacketSize) bytes"
            )
        }
        guard buffer.readableBytes >= total else { return nil }
        guard let body = buffer.getSlice(at: start + headerLength, length: remaining) else { return nil }
        let packet = try decodePacket(first: first, body: body)
        buffer.moveReaderIndex(to: start + total)
        return packet
    }

    private mutating func decodePacket(first: UInt8, body: ByteBuffer) throws(MQTTCodecError) -> MQTTPacket {
        guard let type = MQTTPacketType(rawValue: first >> 4) else {
            throw MQTTCodecError(.unknownPacketType, detail: "type \(first >> 4)")
        }
        let flags = first & 0x0F
        if type != .publish && flags != type.requiredFlags {
            throw MQTTCodecError(.invalidFixedHeaderFlags, packetType: type, detail: "flags \(flags)")
        }
        var r = MQTTReader(buffer: body, type: type)
        if type == .connect {
            let connect = try r.readConnect()
            version = connect.version
            try r.expectEnd()
            return .connect(connect)
        }
        let v5 = version == .v5
        let packet: MQTTPacket
        switch type {
        case .connect:
            preconditionFailure("CONNECT handled above")
        case .connack:
            let ackFlags = try r.readByte()
            guard ackFlags & 0xFE == 0 else { throw r.error(.invalidFixedHeaderFlags, "acknowledge flags \(ackFlags)") }
            let code = try r.readByte()
            let properties = v5 && r.readable > 0 ? try r.readProperties() : []
            packet = .connack(MQTTConnAck(sessionPresent: ackFlags & 1 == 1, code: code, properties: properties))
        case .publish:
            packet = .publish(try r.readPublish(flags: flags, v5: v5))
        case .puback, .pubrec, .pubrel, .pubcomp:
            let ack = try r.readAck(v5: v5)
            switch type {
            case .puback: packet = .puback(ack)
            case .pubrec: packet = .pubrec(ack)
            case .pubrel: packet = .pubrel(ack)
            default: packet = .pubcomp(ack)
            }
        case .subscribe:
            packet = .subscribe(try r.readSubscribe(v5: v5))
        case .suback:
            let id = try r.readPacketID()
            let properties = v5 ? try r.readProperties() : []
            packet = .suback(MQTTSubAck(packetID: id, codes: r.readRest(), properties: properties))
        case .unsubscribe:
            let id = try r.readPacketID()
            let properties = v5 ? try r.readProperties() : []
            var filters: [String] = []
            while r.readable > 0 { filters.append(try r.readString()) }
            guard !filters.isEmpty else { throw r.error(.emptySubscription) }
            packet = .unsubscribe(MQTTUnsubscribe(packetID: id, topicFilters: filters, properties: properties))
        case .unsuback:
            let id = try r.readPacketID()
            let properties = v5 ? try r.readProperties() : []
            packet = .unsuback(MQTTSubAck(packetID: id, codes: v5 ? r.readRest() : [], properties: properties))
        case .pingreq:
            packet = .pingreq
        case .pingresp:
            packet = .pingresp
        case .disconnect, .auth:
            if type == .auth && !v5 { throw r.error(.unsupportedInVersion) }
            var reason = MQTTReasonPacket()
            if v5 && r.readable > 0 {
                reason.reasonCode = try r.readByte()
                if r.readable > 0 { reason.properties = try r.readProperties() }
            }
            packet = type == .auth ? .auth(reason) : .disconnect(reason)
        }
        try r.expectEnd()
        return packet
    }
}

/// Reads fields from one packet's body; every short read is a typed error.
struct MQTTReader {
    var buffer: ByteBuffer
    let type: MQTTPacketType

    var readable: Int { buffer.readableBytes }

    func error(_ code: MQTTCodecError.Code, _ detail: String? = nil) -> MQTTCodecError {
        MQTTCodecError(code, packetType: type, detail: detail)
    }

    func expectEnd() throws(MQTTCodecError) {
        if buffer.readableBytes != 0 { throw error(.trailingBytes, "\(buffer.readableBytes) bytes") }
    }

    mutating func readByte() throws(MQTTCodecError) -> UInt8 {
        guard let v = buffer.readInteger(as: UInt8.self) else { throw error(.truncated) }
        return v
    }

    mutating func readUInt16() throws(MQTTCodecError) -> UInt16 {
        guard let v = buffer.readInteger(as: UInt16.self) else { throw error(.truncated) }
        return v
    }

    mutating func readUInt32() throws(MQTTCodecError) -> UInt32 {
        guard let v = buffer.readInteger(as: UInt32.self) else { throw error(.truncated) }
        return v
    }

    mutating func readPacketID() throws(MQTTCodecError) -> UInt16 {
        let id = try readUInt16()
        guard id != 0 else { throw error(.zeroPacketIdentifier) }
        return id
    }

    mutating func readVarint() throws(MQTTCodecError) -> Int {
        var value = 0
        var multiplier = 1
        for i in 0..<4 {
            let byte = try readByte()
            value += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 { return value }
            if i == 3 { break }
            multiplier *= 128
        }
        throw error(.remainingLengthTooLong, "variable byte integer")
    }

    mutating func readBinary() throws(MQTTCodecError) -> [UInt8] {
        let length = Int(try readUInt16())
        guard let bytes = buffer.readBytes(length: length) else { throw error(.truncated) }
        return bytes
    }

    /// A UTF-8 string (MQTT 1.5.4: no U+0000). `topicName`: a PUBLISH topic, which may not hold the wildcards `+` and
    /// `#` (MQTT 4.7.1). The bytes are scanned once, in place, before the string is made.
    mutating func readString(topicName: Bool = false) throws(MQTTCodecError) -> String {
        let length = Int(try readUInt16())
        guard let view = buffer.readSlice(length: length) else { throw error(.truncated) }
        var nul = false
        var wildcard = false
        func scan(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
            for b in raw {
                if b == 0 {
                    nul = true
                } else if b == UInt8(ascii: "+") || b == UInt8(ascii: "#") {
                    wildcard = true
                }
            }
            return String(validating: raw, as: UTF8.self)
        }
        let bytes = view.readableBytesView
        let decoded = bytes.withContiguousStorageIfAvailable(scan) ?? Array(bytes).withUnsafeBufferPointer(scan)
        guard let string = decoded else { throw error(.invalidUTF8) }
        if nul { throw error(.invalidUTF8, "U+0000 in string") }
        if topicName && wildcard { throw error(.invalidTopic, "wildcard in a topic name") }
        return string
    }

    mutating func readRest() -> [UInt8] {
        buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    mutating func readProperties() throws(MQTTCodecError) -> MQTTProperties {
        let length = try readVarint()
        guard let slice = buffer.readSlice(length: length) else { throw error(.truncated, "properties") }
        var props = MQTTReader(buffer: slice, type: type)
        var result = MQTTProperties()
        while props.readable > 0 {
            let rawID = try props.readByte()
            guard let id = MQTTPropertyID(rawValue: rawID) else { throw error(.unknownProperty, "id \(rawID)") }
            let value: MQTTProperty.Value
            switch id.wireType {
            case .byte: value = .integer(UInt32(try props.readByte()))
            case .twoByte: value = .integer(UInt32(try props.readUInt16()))
            case .fourByte: value = .integer(try props.readUInt32())
            case .varint: value = .integer(UInt32(try props.readVarint()))
            case .string: value = .string(try props.readString())
            case .binary: value = .binary(try props.readBinary())
            case .pair: value = .pair(try props.readString(), try props.readString())
            }
            result.append(MQTTProperty(id, value))
        }
        return result
    }

    mutating func readConnect() throws(MQTTCodecError) -> MQTTConnect {
        let name = try readString()
        let level = try readByte()
        guard name == "MQTT", let version = MQTTVersion(rawValue: level) else {
            throw error(.invalidProtocol, "\(name) level \(level)")
        }
        let flags = try readByte()
        guard flags & 0x01 == 0 else { throw error(.invalidConnectFlags, "reserved bit set") }
        let hasWill = flags & 0x04 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & 0x20 != 0
        let hasPassword = flags & 0x40 != 0
        let hasUsername = flags & 0x80 != 0
        guard willQoSBits != 3 else { throw error(.invalidQoS, "will QoS") }
        if !hasWill && (willQoSBits != 0 || willRetain) {
            throw error(.invalidConnectFlags, "will QoS/retain without a will")
        }
        if version == .v311 && hasPassword && !hasUsername {
            throw error(.invalidConnectFlags, "password without username")
        }
        let keepAlive = try readUInt16()
        let properties = version == .v5 ? try readProperties() : []
        let clientID = try readString()
        var will: MQTTWill?
        if hasWill {
            let willProperties = version == .v5 ? try readProperties() : []
            let topic = try readString()
            let payload = try readBinary()
            will = MQTTWill(
                topic: topic,
                payload: ByteBuffer(bytes: payload),
                qos: MQTTQoS(rawValue: willQoSBits) ?? .atMostOnce,
                retain: willRetain,
                properties: willProperties
            )
        }
        let username = hasUsername ? try readString() : nil
        let password = hasPassword ? try readBinary() : nil
        return MQTTConnect(
            version: version,
            clientID: clientID,
            cleanStart: flags & 0x02 != 0,
            keepAliveSeconds: keepAlive,
            username: username,
            password: password,
            will: will,
            properties: properties
        )
    }

    mutating func readPublish(flags: UInt8, v5: Bool) throws(MQTTCodecError) -> MQTTPublish {
        guard let qos = MQTTQoS(rawValue: (flags >> 1) & 0x03) else { throw error(.invalidQoS) }
        let dup = flags & 0x08 != 0
        if dup && qos == .atMostOnce { throw error(.invalidFixedHeaderFlags, "DUP set on a QoS 0 PUBLISH") }
        let topic = try readString(topicName: true)
        let packetID = qos == .atMostOnce ? nil : try readPacketID()
        let properties = v5 ? try readProperties() : []
        if topic.isEmpty && properties.integer(.topicAlias) == nil { throw error(.invalidTopic, "empty topic") }
        let payload = buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
        return MQTTPublish(
            topic: topic,
            payload: payload,
            qos: qos,
            dup: dup,
            retain: flags & 0x01 != 0,
            packetID: packetID,
            properties: properties
        )
    }

    mutating func readAck(v5: Bool) throws(MQTTCodecError) -> MQTTAck {
        var ack = MQTTAck(packetID: try readPacketID())
        if v5 && readable > 0 {
            ack.reasonCode = try readByte()
            if readable > 0 { ack.properties = try readProperties() }
        }
        return ack
    }

    mutating func readSubscribe(v5: Bool) throws(MQTTCodecError) -> MQTTSubscribe {
        let id = try readPacketID()
        let properties = v5 ? try readProperties() : []
        var subscriptions: [MQTTSubscription] = []
        while readable > 0 {
            let filter = try readString()
            let options = try readByte()
            let reservedMask: UInt8 = v5 ? 0xC0 : 0xFC
            guard options & reservedMask == 0 else { throw error(.invalidFixedHeaderFlags, "subscription options") }
            guard options & 0x03 != 3 else { throw error(.invalidQoS) }
            if v5 && (options >> 4) & 0x03 == 3 { throw error(.invalidFixedHeaderFlags, "retain handling 3") }
            subscriptions.append(MQTTSubscription(topicFilter: filter, options: options))
        }
        guard !subscriptions.isEmpty else { throw error(.emptySubscription) }
        return MQTTSubscribe(packetID: id, subscriptions: subscriptions, properties: properties)
    }
}
