internal import FleetMQTT
import Foundation
internal import Yams

/// Reads a profile (YAML) into a validated `Scenario`. Every key is checked: unknown keys, wrong types and values out
/// of range are errors naming the key and its line. `--set key.path=value` overrides are validated the same way.
///
/// FleetCore reads no files: `readFile` is given by the edge (`ScenarioLoader.files` in FleetEngine reads the file
/// system); the default reads nothing, so a profile given as text that names a registry file is an error.
public struct ScenarioLoader: Sendable {
    public let readFile: @Sendable (String) -> String?

    public init(readFile: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.readFile = readFile
    }

    /// Loads a profile file, then applies `overrides` (`key.path=value`).
    public func load(path: String, overrides: [String] = []) throws(ScenarioError) -> Scenario {
        guard let text = readFile(path) else {
            throw ScenarioError(
                .unreadableFile,
                key: "",
                location: path,
                message: "cannot read the file (does it exist?)"
            )
        }
        return try load(yaml: text, source: path, overrides: overrides)
    }

    /// Loads a profile from text; `source` names it in errors.
    public func load(yaml: String, source: String, overrides: [String] = []) throws(ScenarioError) -> Scenario {
        let root: Node
        do {
            root = try Yams.compose(yaml: yaml) ?? Node([(Node, Node)]())
        } catch let error as YamlError {
            throw ScenarioError(.invalidYAML, key: "", location: source, message: Self.describe(error))
        } catch {
            throw ScenarioError(.invalidYAML, key: "", location: source, message: "\(error)")
        }
        var parsed: [String: (value: Node, text: String)] = [:]
        for item in overrides {
            let shown = Scenario.redactOverride(item)
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw ScenarioError(
                    .invalidOverride,
                    key: "",
                    location: "--set \(shown)",
                    message: "expected key.path=value"
                )
            }
            let key = String(item[..<eq])
            let valueText = String(item[item.index(after: eq)...])
            let node: Node
            do {
                node = try Yams.compose(yaml: valueText) ?? Node("")
            } catch {
                throw ScenarioError(
                    .invalidOverride,
                    key: key,
                    location: "--set \(shown)",
                    message: "value is not valid YAML"
                )
            }
            // Errors name the override by its shown form: a secret key's value never appears in one.
            parsed[key] = (node, shown)
        }
        var reader = ProfileReader(source: source, overrides: parsed, readFile: readFile)
        reader.sourceLines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let scenario = try reader.read(root)
        if let unused = reader.unusedOverride() {
            throw ScenarioError(
                .unknownKey,
                key: unused.key,
                location: "--set \(unused.key)=…",  // an unknown key's value is never shown (it may be a secret)
                message: "no such key in a profile (see profiles/README.md for the keys)"
            )
        }
        return scenario
    }

    /// Loads a fault file for a standalone hub (`fleetstorm hub --faults FILE`): `faults: [...]` as in profiles.
    public func loadFaults(path: String) throws(ScenarioError) -> [Scenario.Fault] {
        guard let text = readFile(path) else {
            throw ScenarioError(
                .unreadableFile,
                key: "",
                location: path,
                message: "cannot read the file (does it exist?)"
            )
        }
        let root: Node
        do {
            root = try Yams.compose(yaml: text) ?? Node([(Node, Node)]())
        } catch let error as YamlError {
            throw ScenarioError(.invalidYAML, key: "", location: path, message: Self.describe(error))
        } catch {
            throw ScenarioError(.invalidYAML, key: "", location: path, message: "\(error)")
        }
        var reader = ProfileReader(source: path, overrides: [:], readFile: readFile)
        return try reader.readFaultFile(root)
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return "line \(mark.line):\(mark.column): \(problem)"
        default:
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable YAML"
        }
    }
}
