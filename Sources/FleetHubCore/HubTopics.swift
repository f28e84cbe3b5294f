internal import FleetCore

/// IoT Hub's MQTT topics (reference §4.3, §4.4): what a device may publish to and subscribe to. Pure.
public enum HubTopics {
    /// What a device's PUBLISH is.
    public enum Publish: Sendable, Hashable {
        /// D2C telemetry (`devices/{id}/messages/events/…` or a module's).
        case telemetry
        /// `$iothub/twin/GET/?$rid=…`.
        case twinGet(rid: String)
        /// `$iothub/twin/PATCH/properties/reported/?$rid=…`.
        case twinPatch(rid: String)
        /// `$iothub/methods/res/{status}/?$rid=…`.
        case methodResponse
        /// Anything else: IoT Hub closes the connection.
        case invalid
    }

    /// Compares bytes, as MQTT compares topics, and allocates nothing for telemetry (the hub calls it per message).
    public static func classify(_ topic: String, deviceID: String) -> Publish {
        switch ownTopic(topic, deviceID: deviceID) {
        case .telemetry: return .telemetry
        case .invalid: return .invalid
        case .module(let rest):
            let parts = rest.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            if parts.count >= 4, !parts[1].isEmpty, parts[2] == "messages", parts[3].utf8.starts(with: "events".utf8) {
                return .telemetry
            }
            return .invalid
        case nil: break
        }
        if topic.hasPrefix("$iothub/twin/GET/"), let rid = requestID(topic) { return .twinGet(rid: rid) }
        if topic.hasPrefix("$iothub/twin/PATCH/properties/reported/"), let rid = requestID(topic) {
            return .twinPatch(rid: rid)
        }
        if topic.hasPrefix("$iothub/methods/res/"), requestID(topic) != nil { return .methodResponse }
        return .invalid
    }

    /// A topic under the device's own `devices/{id}/` prefix, read from its bytes.
    enum Own: Equatable {
        /// `messages/events/…` (or `messages/events`).
        case telemetry
        /// `modules/…`: checked further from the text after the prefix.
        case module(Substring)
        /// Anything else under the prefix.
        case invalid
    }

    /// What `topic` is under `devices/{deviceID}/`; nil when it is not under that prefix.
    static func ownTopic(_ topic: String, deviceID: String) -> Own? {
        ByteText.withBytes(topic) { t in
            let rest: Int? = ByteText.withBytes(deviceID) { id in
                guard ByteText.has("devices/", in: t, at: 0), ByteText.has(id, in: t, at: 8),
                    t.count > 8 + id.count, t[8 + id.count] == UInt8(ascii: "/")
                else { return nil }
                return 9 + id.count
            }
            guard let rest else { return nil }
            if ByteText.has("messages/events/", in: t, at: rest) { return .telemetry }
            if t.count - rest == 15 && ByteText.has("messages/events", in: t, at: rest) { return .telemetry }
            if ByteText.has("modules/", in: t, at: rest) {
                return .module(Substring(decoding: UnsafeBufferPointer(rebasing: t[rest...]), as: UTF8.self))
            }
            return .invalid
        }
    }

    /// What a subscription filter asks for (nil: not an IoT Hub filter; the SUBACK refuses it).
    public enum Filter: Sendable, Hashable {
        case cloudToDevice
        case twinResponses
        case desiredProperties
        case methods
        case moduleInput
    }

    public static func filter(_ text: String, deviceID: String) -> Filter? {
        switch text {
        case "devices/\(deviceID)/messages/devicebound/#": return .cloudToDevice
        case "$iothub/twin/res/#": return .twinResponses
        case "$iothub/twin/PATCH/properties/desired/#": return .desiredProperties
        case "$iothub/methods/POST/#": return .methods
        default:
            let prefix = "devices/\(deviceID)/modules/"
            if text.hasPrefix(prefix) && text.hasSuffix("/#") {
                let module = text.dropFirst(prefix.count).dropLast(2)
                if !module.isEmpty && !module.contains("/") && !module.contains("+") && !module.contains("#") {
                    return .moduleInput
                }
            }
            return nil
        }
    }

    /// The `$rid` of a request topic's query (`…/?$rid=42`).
    static func requestID(_ topic: String) -> String? {
        TwinTopic.parameter("$rid", of: topic).map(String.init)
    }

    /// The C2D delivery topic with a message id in the property bag.
    public static func cloudToDevice(deviceID: String, messageID: UInt64) -> String {
        "devices/\(deviceID)/messages/devicebound/%24.mid=\(messageID)&%24.to=%2Fdevices%2F\(deviceID)%2Fmessages%2Fdevicebound"
    }
}

/// Device twins as the hub stores them: a reported-properties document with a version per device. Pure.
public struct TwinStore: Sendable {
    struct Twin: Sendable {
        var reported: [UInt8] = Array("{}".utf8)
        var version = 1
    }

    private var twins: [String: Twin] = [:]
    public private(set) var patches: UInt64 = 0
    public private(set) var gets: UInt64 = 0

    public init() {}

    /// The response to a twin GET: status 200 and the document `{"desired":{"$version":1},"reported":{...}}`.
    public mutating func get(deviceID: String, rid: String) -> (topic: String, body: [UInt8]) {
        gets += 1
        let twin = twins[deviceID] ?? Twin()
        var body = Array("{\"desired\":{\"$version\":1},\"reported\":".utf8)
        body += twin.reported.isEmpty ? Array("{}".utf8) : twin.reported
        body += Array("}".utf8)
        return (TwinTopic.answer(status: 200, rid: rid), body)
    }

    /// A reported-properties PATCH: stored whole (the hub does not merge JSON), answered 204 with the new version;
    /// a body over 32 KB (IoT Hub's limit) is answered 400.
    public mutating func patch(deviceID: String, rid: String, body: [UInt8]) -> String {
        guard body.count <= 32 * 1024 else { return TwinTopic.answer(status: 400, rid: rid) }
        patches += 1
        var twin = twins[deviceID] ?? Twin()
        twin.reported = body
        twin.version += 1
        twins[deviceID] = twin
        return TwinTopic.answer(status: 204, rid: rid, version: twin.version)
    }
}
