import FleetCore
import Foundation
import Testing

/// The effective profile a report carries (`Scenario.redactedYAML`) is a profile: read back, it is the same
/// scenario, so a user can rerun what a report says was run. Checked for every profile in profiles/ (read back: the
/// same scenario, field by field; written again: the same text) and with curves of every family (a policy's
/// parameters, read back through the catalogue, are the same policy). Before the scenario comparison, five profiles
/// with a custom curve read back with the throttled curve at its family's defaults (written by name only).
@Suite("The report's effective profile loads back")
struct EffectiveProfileRoundTripTests {
    static let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    /// The redacted text with its secret replaced by a usable one (the only edit a user makes to rerun it).
    static func reloaded(_ s: Scenario, source: String) throws -> Scenario {
        let text = s.redactedYAML.replacingOccurrences(of: "group_key: \"(redacted)\"", with: "group_key: \(key)")
        return try ScenarioLoader(readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })
            .load(yaml: text, source: source)
    }

    /// Where two scenarios differ: the first lines of their dumps that do not match.
    static func difference(_ a: Scenario, _ b: Scenario) -> String {
        var (x, y) = ("", "")
        dump(a, to: &x)
        dump(b, to: &y)
        let lines = zip(x.split(separator: "\n"), y.split(separator: "\n")).filter { $0 != $1 }.prefix(4)
        return lines.map {
            "\($0.0.trimmingCharacters(in: .whitespaces)) ≠ \($0.1.trimmingCharacters(in: .whitespaces))"
        }
        .joined(separator: "; ")
    }

    @Test("every profile in profiles/: written and read back, the same scenario; written again, the same text")
    func profilesAreFixedPoints() throws {
        let dir = ScenarioLoaderTests.repo.appendingPathComponent("profiles")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count > 20)
        let loader = ScenarioLoader(readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })
        for file in files.sorted() {
            let path = dir.appendingPathComponent(file).path
            let original = try loader.load(path: path, overrides: [])
            // A registry's keys are not in the report (only their count): such a profile cannot be rerun from it.
            if case .registry? = original.auth?.keys { continue }
            do {
                let again = try Self.reloaded(original, source: path)
                #expect(again.redactedYAML == original.redactedYAML, "\(file)")
                #expect(again == original, "\(file): read back, \(Self.difference(again, original))")
            } catch {
                Issue.record("\(file): its effective profile does not load back: \(error)")
            }
        }
    }

    @Test("every policy of the catalogue, with its parameters moved off their defaults, reads back the same")
    func policiesReadBack() throws {
        for info in RetryPolicy.catalogue where info.name != "none" {
            var parameters: [String: String] = [:]
            for p in info.parameters {
                switch p.key {
                case "base", "cap", "delta", "first", "c": parameters[p.key] = p.key == "cap" ? "20s" : "2s"
                case "floor": parameters[p.key] = "3s"
                case "jitter", "ju", "jd": parameters[p.key] = "0.125"
                case "multiplier": parameters[p.key] = "1.5"
                case "attempts": parameters[p.key] = "7"
                case "timeout": parameters[p.key] = "90s"
                case "delays": parameters[p.key] = "100ms,1s,5s"
                case "first_fast": parameters[p.key] = "false"
                case "mode": parameters[p.key] = "linear"
                default: Issue.record("\(info.name).\(p.key): a parameter this test does not know")
                }
            }
            let policy = try RetryPolicy.make(name: info.name, parameters: parameters)
            let written = Dictionary(uniqueKeysWithValues: policy.parameters.map { ($0.key, $0.value) })
            let back = try RetryPolicy.make(name: info.name, parameters: written)
            #expect(back == policy, "\(info.name): \(written)")
            #expect(Set(written.keys) == Set(parameters.keys), "\(info.name) writes every parameter it takes")
        }
    }
}
