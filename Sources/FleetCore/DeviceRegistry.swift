import Foundation
internal import Yams

/// A device registry file (YAML or JSON): `devices: [{id: dev-1, key: BASE64, disabled: true}, ...]`.
/// Shared by profiles (device keys) and the test hub (keys and disabled devices). Keys never appear in errors.
public struct DeviceRegistry: Sendable, Hashable {
    public var keys: [String: String]
    public var disabled: Set<String>

    /// Parses a registry's text (`source` names it in errors: the file and the entry, never a key). The file is read at
    /// the edge (the CLI, the engine); FleetCore reads no files.
    public static func parse(_ text: String, source path: String) throws(RegistryError) -> DeviceRegistry {
        guard let root = try? Yams.compose(yaml: text), case .mapping(let m) = root, let list = m["devices"],
            case .sequence(let devices) = list
        else {
            throw RegistryError(message: "\(path): expected devices: [{id: ..., key: ...}, ...]")
        }
        var registry = DeviceRegistry(keys: [:], disabled: [])
        for (i, d) in devices.enumerated() {
            guard case .mapping(let entry) = d, let id = entry["id"]?.string, !id.isEmpty,
                let key = entry["key"]?.string,
                let bytes = Data(base64Encoded: key), !bytes.isEmpty
            else {
                let line = d.mark.map { ":\($0.line)" } ?? ""
                throw RegistryError(message: "\(path)\(line): device \(i + 1) needs an id and a base64 key")
            }
            registry.keys[id] = key
            if entry["disabled"]?.bool == true { registry.disabled.insert(id) }
        }
        return registry
    }
}

public struct RegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
