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
            case "iothub-contenttype": properties.contentType = value
            case "iothub-contentencoding": properties.contentEncoding = value
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
