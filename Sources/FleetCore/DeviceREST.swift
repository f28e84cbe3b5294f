/// IoT Hub's HTTPS device API (reference §10.2) next to the MQTT topics the same operations use (§4.3): a telemetry
/// PUBLISH is `POST /devices/{id}/messages/events`, its property bag travels as headers (`iothub-app-{name}` for
/// application properties, `iothub-messageid` and friends for system ones); a C2D message is fetched with
/// `GET …/messages/deviceBound` and settled with its ETag. Pure text mapping, used by the devices' HTTPS bridge and the
/// hub's, so both sides read and write the same forms.
public enum DeviceREST {
    /// The api-version devices send unless the profile says otherwise (reference §10.2).
    public static let defaultAPIVersion = "2021-04-12"
    /// Application properties travel as headers with this prefix (removed on the service side).
    public static let appPropertyPrefix = "iothub-app-"

    /// System properties: the HTTP header and the property-bag key MQTT uses for it (reference §4.3).
    static let systemProperties: [(header: String, key: String)] = [
        ("iothub-messageid", "$.mid"),
        ("iothub-correlationid", "$.cid"),
        ("iothub-contenttype", "$.ct"),
        ("iothub-contentencoding", "$.ce"),
        ("iothub-to", "$.to"),
        ("iothub-expiry", "$.exp"),
        ("iothub-userid", "$.uid"),
    ]

    /// An operation of the device API.
    public enum Route: Sendable, Hashable {
        /// Send a device-to-cloud message (POST).
        case send(deviceID: String)
        /// Fetch the next cloud-to-device message (GET).
        case receive(deviceID: String)
        /// Settle a fetched message by its ETag: complete (DELETE), reject (DELETE with `reject`), abandon (POST).
        case complete(deviceID: String, etag: String)
        case reject(deviceID: String, etag: String)
        case abandon(deviceID: String, etag: String)

        public var deviceID: String {
            switch self {
            case .send(let id), .receive(let id), .complete(let id, _), .reject(let id, _), .abandon(let id, _): id
            }
        }
    }

    /// A request the API does not serve: the HTTP status and IoT Hub error code to answer, and why.
    public struct RouteError: Error, Sendable, Hashable {
        public var code: Int
        public var message: String
    }

    /// The operation `method` and `uri` ask for, and the api-version they name.
    public static func route(method: String, uri: String) -> Result<(Route, apiVersion: String), RouteError> {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let query = parts.count > 1 ? parse(query: parts[1]) : []
        let segments = parts[0].split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            percentDecoded($0)
        }
        guard segments.count >= 3, segments[0] == "devices", !segments[1].isEmpty, segments[2] == "messages" else {
            return .failure(RouteError(code: 404_000, message: "not a device API path: /devices/{id}/messages/…"))
        }
        let id = segments[1]
        let rest = Array(segments.dropFirst(3))
        let route: Route
        switch (method, rest.count, rest.first?.lowercased()) {
        case ("POST", 1, "events"):
            route = .send(deviceID: id)
        case ("GET", 1, "devicebound"):
            route = .receive(deviceID: id)
        case ("DELETE", 2, "devicebound") where !rest[1].isEmpty:
            let reject = query.contains { $0.name == "reject" && ($0.value.isEmpty || $0.value == "true") }
            route = reject ? .reject(deviceID: id, etag: rest[1]) : .complete(deviceID: id, etag: rest[1])
        case ("POST", 3, "devicebound") where rest[2] == "abandon" && !rest[1].isEmpty:
            route = .abandon(deviceID: id, etag: rest[1])
        case (_, 1, "events"), (_, 1, "devicebound"), (_, 2, "devicebound"), (_, 3, "devicebound"):
            return .failure(RouteError(code: 405_000, message: "\(method) is not allowed on this path"))
        default:
            return .failure(RouteError(code: 404_000, message: "not a device API path: /devices/{id}/messages/…"))
        }
        guard let version = query.first(where: { $0.name == "api-version" })?.value, !version.isEmpty else {
            return .failure(RouteError(code: 400_000, message: "the api-version query parameter is missing"))
        }
        return .success((route, version))
    }

    /// The request path (with query) of `route`.
    public static func path(_ route: Route, apiVersion: String) -> String {
        let version = "api-version=\(SASToken.urlEncode(apiVersion))"
        switch route {
        case .send(let id): return "/devices/\(SASToken.urlEncode(id))/messages/events?\(version)"
        case .receive(let id): return "/devices/\(SASToken.urlEncode(id))/messages/deviceBound?\(version)"
        case .complete(let id, let etag):
            return "/devices/\(SASToken.urlEncode(id))/messages/deviceBound/\(SASToken.urlEncode(etag))?\(version)"
        case .reject(let id, let etag):
            return
                "/devices/\(SASToken.urlEncode(id))/messages/deviceBound/\(SASToken.urlEncode(etag))?\(version)&reject"
        case .abandon(let id, let etag):
            return
                "/devices/\(SASToken.urlEncode(id))/messages/deviceBound/\(SASToken.urlEncode(etag))/abandon?\(version)"
        }
    }

    /// The HTTP method of `route`.
    public static func method(_ route: Route) -> String {
        switch route {
        case .send, .abandon: "POST"
        case .receive: "GET"
        case .complete, .reject: "DELETE"
        }
    }

    // MARK: - properties: topic property bag ↔ headers

    /// The headers a topic's property bag becomes (`devices/{id}/messages/events/{bag}` or
    /// `…/messages/devicebound/{bag}`); nil when `topic` is neither for `deviceID`.
    public static func headers(fromTopic topic: String, deviceID: String) -> [(name: String, value: String)]? {
        let prefix = "devices/\(deviceID)/messages/"
        guard topic.hasPrefix(prefix) else { return nil }
        let rest = topic.dropFirst(prefix.count)
        let bag: Substring
        if rest.hasPrefix("events/") {
            bag = rest.dropFirst("events/".count)
        } else if rest.hasPrefix("devicebound/") {
            bag = rest.dropFirst("devicebound/".count)
        } else if rest == "events" || rest == "devicebound" {
            bag = ""
        } else {
            return nil
        }
        return parse(query: bag).map { pair in
            let header = systemProperties.first { $0.key == pair.name }?.header ?? appPropertyPrefix + pair.name
            return (header, pair.value)
        }
    }

    /// The property bag (URL-encoded, MQTT's form) that `headers` carry: `iothub-app-*` and the system properties;
    /// every other header is transport, not message.
    public static func propertyBag(fromHeaders headers: [(name: String, value: String)]) -> String {
        var pairs: [String] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            let key: String
            if let system = systemProperties.first(where: { $0.header == lower }) {
                key = system.key
            } else if lower.hasPrefix(appPropertyPrefix), lower.count > appPropertyPrefix.count {
                key = String(name.dropFirst(appPropertyPrefix.count))
            } else {
                continue
            }
            pairs.append(SASToken.urlEncode(key) + "=" + SASToken.urlEncode(value))
        }
        return pairs.joined(separator: "&")
    }

    /// The telemetry topic a `POST …/messages/events` with `headers` stands for.
    public static func telemetryTopic(deviceID: String, headers: [(name: String, value: String)]) -> String {
        "devices/\(deviceID)/messages/events/" + propertyBag(fromHeaders: headers)
    }

    /// The C2D topic a fetched message with `headers` stands for.
    public static func cloudToDeviceTopic(deviceID: String, headers: [(name: String, value: String)]) -> String {
        "devices/\(deviceID)/messages/devicebound/" + propertyBag(fromHeaders: headers)
    }

    // MARK: - text helpers

    static func parse(query: Substring) -> [(name: String, value: String)] {
        query.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecoded(kv[0]), kv.count > 1 ? percentDecoded(kv[1]) : "")
        }
    }

    /// `%XX` escapes decoded (an invalid escape stays as it is; `+` is not a space in a path or property bag).
    static func percentDecoded(_ text: Substring) -> String {
        let utf8 = text.utf8
        guard utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let b = utf8[i]
            i = utf8.index(after: i)
            if b == UInt8(ascii: "%"), i != utf8.endIndex {
                let j = utf8.index(after: i)
                if j != utf8.endIndex, let hi = hex(utf8[i]), let lo = hex(utf8[j]) {
                    bytes.append(hi << 4 | lo)
                    i = utf8.index(after: j)
                    continue
                }
            }
            bytes.append(b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// An IoT Hub error as the HTTPS API reports it: the HTTP status and the six-digit error code (reference §3.3), e.g.
/// 401003 IotHubUnauthorized, 429001 ThrottlingException.
public struct HubServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The six-digit code; its first three digits are the HTTP status.
    public var code: Int

    public init(code: Int) { self.code = code }

    /// The error a response with `status` and `body` reports: the body's `errorCode` when it names one of this
    /// status, else the status alone (`status` × 1000).
    public init(status: Int, body: some Collection<UInt8>) {
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        if let range = text.range(of: "\"errorCode\":") {
            let digits = text[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
            if let code = Int(digits), code / 1000 == status {
                self.code = code
                return
            }
        }
        self.code = status * 1000
    }

    public var status: Int { code / 1000 }

    public static let badRequest = 400_000
    public static let unauthorized = 401_003
    public static let quotaExceeded = 403_002
    public static let deviceDisabled = 403_012
    public static let deviceNotFound = 404_001
    public static let lockLost = 412_002
    public static let messageTooLarge = 413_001
    public static let throttled = 429_001
    public static let serverError = 500_001
    public static let serviceUnavailable = 503_001

    /// IoT Hub's name for the code (the `iothub-errorcode` header).
    public var name: String {
        switch code {
        case Self.unauthorized: "IotHubUnauthorized"
        case Self.quotaExceeded: "IotHubQuotaExceeded"
        case Self.deviceDisabled: "DeviceDisabled"
        case Self.deviceNotFound: "DeviceNotFound"
        case Self.lockLost: "DeviceMessageLockLost"
        case Self.messageTooLarge: "MessageTooLarge"
        case Self.throttled: "ThrottlingException"
        case Self.serverError: "ServerError"
        case Self.serviceUnavailable: "ServiceUnavailable"
        default: "Error\(code)"
        }
    }

    /// The JSON body the hub answers with.
    public func body(message: String) -> String {
        var escaped = ""
        for c in message.unicodeScalars {
            switch c {
            case "\\", "\"": escaped += "\\\(c)"
            case _ where c.value < 0x20: escaped += " "
            default: escaped.unicodeScalars.append(c)
            }
        }
        return "{\"errorCode\":\(code),\"name\":\"\(name)\",\"message\":\"\(escaped)\"}\n"
    }

    public var description: String { "http_\(code)" }

    /// The error a report's `http_NNNNNN` counter names, in one line (nil for any other name).
    public static func explain(counter: String) -> String? {
        guard counter.hasPrefix("http_"), let code = Int(counter.dropFirst(5)), code >= 100_000 else { return nil }
        let error = HubServiceError(code: code)
        return "the HTTPS device API answered \(error.status) \(error.name)"
    }
}
