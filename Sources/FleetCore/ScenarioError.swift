/// A profile that cannot be used: names the key path and where it came from (file:line:column or `--set`).
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        public static let unreadableFile = Code(name: "cannot read profile")
        public static let invalidYAML = Code(name: "invalid YAML")
        public static let unknownKey = Code(name: "unknown key")
        public static let wrongType = Code(name: "wrong type")
        public static let outOfRange = Code(name: "value out of range")
        public static let invalidValue = Code(name: "invalid value")
        public static let invalidOverride = Code(name: "invalid --set")
        public var description: String { name }
    }

    public var code: Code
    /// Dotted key path, e.g. `fleet.devices`.
    public var key: String
    /// `file:line:column`, `--set key=value`, or the file alone.
    public var location: String
    public var message: String

    public init(_ code: Code, key: String, location: String, message: String) {
        self.code = code
        self.key = key
        self.location = location
        self.message = message
    }

    public var description: String {
        key.isEmpty ? "\(location): \(code): \(message)" : "\(location): \(key): \(message)"
    }
}
