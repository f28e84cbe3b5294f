public import FleetAMQP
public import NIOCore

/// IoT Hub messages over AMQP (reference §11.2) next to their MQTT form: a topic's property bag (`$.mid`, `$.cid`,
/// `$.ct`, `$.ce`, `$.to` and application properties, reference §4.3) is the properties and application-properties
/// sections, the payload one data section. Used by the devices' AMQP bridge and the hub's, so both read and write the
/// same forms (through `DeviceREST`'s header names, which the HTTPS bridges share).
public enum AMQPMessages {
    /// The message a telemetry or C2D topic with `payload` stands for.
    public static func message(topic: String, payload: ByteBuffer, deviceID: String) -> AMQPMessage {
        var properties = AMQPMessage.Properties()
        var application = AMQPMap()
        for (name, value) in DeviceREST.headers(fromTopic: topic, deviceID: deviceID) ?? [] {
            switch name {
            case "iothub-messageid": properties.messageID = .string(value)
            case "iothub-correlationid": properties.correlationID = .string(value)
            // Content type and encoding are AMQP symbols, ASCII only: a value that is not cannot be carried.
            case "iothub-contenttype": properties.contentType = value.isASCIISymbol ? value : nil
            case "iothub-contentencoding": properties.contentEncoding = value.isASCIISymbol ? value : nil
            case "iothub-to": properties.to = value
            default:
                if name.hasPrefix(DeviceREST.appPropertyPrefix) {
                    let key = String(name.dropFirst(DeviceREST.appPropertyPrefix.count))
                    application.entries.append(.init(key: .string(key), value: .string(value)))
                }
            }
        }
        return AMQPMessage(
            properties: properties,
            applicationProperties: application.isEmpty ? nil : application,
            body: .data([Array(payload.readableBytesView)])
        )
    }

    /// The bytes of `message(topic:payload:deviceID:)`, written straight from the topic's property bag (two passes
    /// over it: system properties, then application properties), without building the message: a device's per-message
    /// path. `AMQPMessagesTests` checks it gives the same bytes.
    public static func encoded(topic: String, payload: ByteBuffer, deviceID: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(48 + topic.utf8.count + payload.readableBytes)
        let bag = propertyBag(topic, deviceID: deviceID)
        var messageID: String?
        var correlationID: String?
        var contentType: String?
        var contentEncoding: String?
        var to: String?
        var application = false
        forEachPair(bag) { key, value in
            switch key {
            case "$.mid": messageID = value()
            case "$.cid": correlationID = value()
            case "$.ct":
                let v = value()
                contentType = v.isASCIISymbol ? v : nil
            case "$.ce":
                let v = value()
                contentEncoding = v.isASCIISymbol ? v : nil
            case "$.to": to = value()
            case _ where DeviceREST.systemProperties.contains { $0.key == key }: break
            default: application = true
            }
        }
        var properties = AMQPListWriter(descriptor: 0x73, into: &buffer)
        properties.text(messageID, into: &buffer)
        properties.null(into: &buffer)
        properties.text(to, into: &buffer)
        properties.null(into: &buffer)
        properties.null(into: &buffer)
        properties.text(correlationID, into: &buffer)
        properties.text(contentType, symbol: true, into: &buffer)
        properties.text(contentEncoding, symbol: true, into: &buffer)
        properties.end(into: &buffer)
        if application {
            var map = AMQPStringMapWriter(descriptor: 0x74, into: &buffer)
            forEachPair(bag) { key, value in
                guard !DeviceREST.systemProperties.contains(where: { $0.key == key }) else { return }
                map.entry(key, value(), into: &buffer)
            }
            map.end(into: &buffer)
        }
        // One data section with the payload, as `AMQPValue.binary` writes it.
        buffer.writeBytes([0x00, 0x53, 0x75])
        if payload.readableBytes <= 0xFF {
            buffer.writeInteger(UInt8(0xA0))
            buffer.writeInteger(UInt8(payload.readableBytes))
        } else {
            buffer.writeInteger(UInt8(0xB0))
            buffer.writeInteger(UInt32(truncatingIfNeeded: payload.readableBytes))
        }
        var body = payload
        buffer.writeBuffer(&body)
        return buffer
    }

    /// The property bag of a telemetry or C2D topic of `deviceID` (empty for any other topic).
    private static func propertyBag(_ topic: String, deviceID: String) -> Substring {
        // Byte comparisons: no string is built and no character is walked per message.
        var rest = Substring(topic)
        for part in ["devices/", deviceID, "/messages/"] {
            guard rest.utf8.starts(with: part.utf8) else { return "" }
            rest = Substring(rest.utf8.dropFirst(part.utf8.count))
        }
        for kind in ["events/", "devicebound/"] where rest.utf8.starts(with: kind.utf8) {
            return Substring(rest.utf8.dropFirst(kind.utf8.count))
        }
        return ""
    }

    /// Each `key=value` pair of a bag, the key percent-decoded; the value decoded when asked for.
    private static func forEachPair(_ bag: Substring, _ body: (String, () -> String) -> Void) {
        var rest = bag
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "&")) ?? rest.endIndex
            let pair = rest[..<end]
            rest = end == rest.endIndex ? "" : rest[rest.utf8.index(after: end)...]
            guard !pair.isEmpty else { continue }
            let equals = pair.utf8.firstIndex(of: UInt8(ascii: "="))
            let key = DeviceREST.percentDecoded(pair[..<(equals ?? pair.endIndex)])
            let raw = equals.map { pair[pair.utf8.index(after: $0)...] } ?? ""
            body(key) { DeviceREST.percentDecoded(raw) }
        }
    }

    /// The message's properties as the header names `DeviceREST` maps to and from a topic's property bag.
    public static func headers(of message: AMQPMessage) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if let p = message.properties {
            if let id = p.messageID?.propertyText { headers.append(("iothub-messageid", id)) }
            if let id = p.correlationID?.propertyText { headers.append(("iothub-correlationid", id)) }
            if let t = p.contentType { headers.append(("iothub-contenttype", t)) }
            if let e = p.contentEncoding { headers.append(("iothub-contentencoding", e)) }
            if let to = p.to { headers.append(("iothub-to", to)) }
        }
        for entry in message.applicationProperties?.entries ?? [] {
            guard let key = entry.key.text, let value = entry.value.propertyText else { continue }
            headers.append((DeviceREST.appPropertyPrefix + key, value))
        }
        return headers
    }

    /// The message's bytes. Messages built here and messages decoded from a peer always encode (no mixed arrays, no
    /// value past 4 GiB); an empty buffer stands for the impossible failure.
    public static func encoded(_ message: AMQPMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        do { try message.encode(into: &buffer) } catch { return ByteBuffer() }
        return buffer
    }
}

extension AMQPValue {
    /// An integer of any width (a CBS status code may come as int, uint or long).
    public var integerValue: Int? {
        switch self {
        case .byte(let v): Int(v)
        case .short(let v): Int(v)
        case .int(let v): Int(v)
        case .long(let v): Int(v)
        default: unsignedValue.map { Int(clamping: $0) }
        }
    }

    /// A property value as text: strings and symbols as they are, integers and uuids printed; nil for the rest.
    public var propertyText: String? {
        switch self {
        case .string(let s), .symbol(let s): return s
        case .uuid(let b) where b.count == 16:
            let hex = b.map { byte -> String in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }
            return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
        default: return integerValue.map(String.init)
        }
    }
}

extension AMQPMessage.Body {
    /// The payload: data sections joined, or a value body's string or binary; empty otherwise.
    public var bytes: [UInt8] {
        switch self {
        case .data(let sections): sections.count == 1 ? sections[0] : sections.flatMap { $0 }
        case .value(.string(let s)): Array(s.utf8)
        case .value(.binary(let b)): b
        default: []
        }
    }
}

extension String {
    /// Whether the text can be an AMQP symbol (ASCII).
    var isASCIISymbol: Bool { utf8.allSatisfy { $0 < 0x80 } }
}
