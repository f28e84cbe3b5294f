import FleetCore
import Foundation
import Testing

/// profiles/README.md's key table and the profile reader agree, both ways: every key the table documents is one the
/// reader takes, and every key the reader takes (it names them when it refuses an unknown one: "known here: ...") is
/// in the table. A key added to the reader without a row, or a row for a key that is gone, fails here.
@Suite("profiles/README.md key table = the reader's keys")
struct ProfileKeyTableTests {
    static let readme: String = {
        let url = ScenarioLoaderTests.repo.appendingPathComponent("profiles/README.md")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// The key column of the table (rows whose first cell is a dotted key in backticks; fault and netlab kinds
    /// have their own tables and are not keys).
    static var documented: [String] {
        // The key table and the link table; the fault and netlab tables list kinds, not keys.
        let keyTable = readme.components(separatedBy: "### Faults").first ?? ""
        let linkRows = readme.split(separator: "\n").filter { $0.hasPrefix("| `link.") }
        let rows = keyTable.split(separator: "\n").filter { $0.hasPrefix("| `") } + linkRows
        // A first cell may name several keys: "`simulation.connack_delay`, `simulation.puback_delay`".
        return rows.flatMap { row -> [String] in
            let cell = row.dropFirst(2).components(separatedBy: " | ").first ?? ""
            return cell.split(separator: "`").enumerated().filter { $0.offset % 2 == 0 }.map { String($0.element) }
                .filter { $0.allSatisfy { $0.isLetter || $0.isNumber || "._<>".contains($0) } && !$0.isEmpty }
        }
    }

    /// The parameters `retry.<parameter>` covers: the keys its row names in backticks.
    static var retryParameters: Set<String> {
        guard let row = readme.split(separator: "\n").first(where: { $0.hasPrefix("| `retry.<parameter>`") }) else {
            return []
        }
        return Set(row.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
    }

    /// The keys the reader knows in one section, from its refusal of a key nobody knows.
    static func known(section: String, context: String = "") -> [String] {
        let yaml =
            section.isEmpty ? "\(context)zz_not_a_key: 1\n" : "\(context)\(section): {zz_not_a_key: 1}\n"
        do {
            _ = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
        } catch {
            // "unknown key (known here: a, b)", or for retry: "… has no parameter "x" (it takes: a, b)".
            let marker = error.message.contains("known here: ") ? "known here: " : "it takes: "
            guard error.message.contains(marker), let list = error.message.components(separatedBy: marker).last
            else { return [] }
            return list.dropLast().components(separatedBy: ", ").map { section.isEmpty ? $0 : "\(section).\($0)" }
        }
        return []
    }

    @Test func everyDocumentedKeyIsRead() {
        let keys = Self.documented
        #expect(keys.count > 50, "the table was found (\(keys.count) keys)")
        for key in keys where !key.contains("<") {
            // A value of the wrong shape: the reader must refuse it for what it is, never as an unknown key. A
            // mapping's key (telemetry.properties) is set by its own keys.
            let yaml = "hub: {https: \(key.hasPrefix("https.") ? "true" : "false")}\n"
            let sets: [String] = ["\(key)={zz: [1]}", "\(key).zz=1"]
            let refusals = sets.map { set -> ScenarioError? in
                do {
                    _ = try ScenarioLoader().load(yaml: yaml, source: "p.yaml", overrides: [set])
                    return nil
                } catch let error as ScenarioError {
                    return error
                } catch {
                    return nil
                }
            }
            #expect(
                refusals.contains { $0?.code != .unknownKey },
                "\(key) is documented but the reader does not take it: \(refusals.compactMap { $0 })"
            )
        }
    }

    @Test func everyKeyTheReaderTakesIsDocumented() {
        let documented = Set(Self.documented)
        let sections: [(name: String, context: String)] = [
            ("", ""), ("hub", ""), ("fleet", ""), ("mqtt", ""), ("telemetry", ""), ("retry", ""), ("auth", ""),
            ("simulation", ""), ("link", ""), ("https", "hub: {https: true}\n"), ("twin", ""),
        ]
        var seen = 0
        for (name, context) in sections {
            let known = Self.known(section: name, context: context)
            #expect(!known.isEmpty, "the reader names the keys of \(name.isEmpty ? "the top level" : name)")
            seen += known.count
            let sectionNames = Set(sections.map(\.name)).union(["cohorts", "faults"])
            for key in known where !(name.isEmpty && sectionNames.contains(key)) {
                let parameter = key.hasPrefix("retry.") && Self.retryParameters.contains(String(key.dropFirst(6)))
                #expect(documented.contains(key) || parameter, "\(key) is read but profiles/README.md has no row")
            }
        }
        #expect(seen > 50)
    }
}

/// The README's key tables are printed from the profile schema (`fleetstorm validate --key-table`), and the reader
/// takes every key's type and range from it: what users read and what the reader enforces are one table.
@Suite("profiles/README.md tables = the profile schema")
struct ProfileSchemaTests {
    /// The README's table that starts with the schema table's first row, header included, up to the blank line.
    static func readmeTable(startingWith firstRow: String) -> String {
        let lines = ProfileKeyTableTests.readme.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.firstIndex(where: { $0.hasPrefix(firstRow) }), first >= 2 else { return "" }
        let rows = lines[(first - 2)...].prefix { $0.hasPrefix("|") }
        return rows.joined(separator: "\n") + "\n"
    }

    @Test(
        "the key table and the link table are the schema's, row for row",
        arguments: [
            ProfileKey.Table.profile, .link,
        ]
    )
    func readmeTablesArePrinted(table: ProfileKey.Table) {
        let printed = ProfileSchema.markdown(table)
        let firstRow = printed.split(separator: "\n")[2].prefix(20)
        let readme = Self.readmeTable(startingWith: String(firstRow))
        #expect(printed.split(separator: "\n").count > 3)
        if readme != printed {
            let a = readme.split(separator: "\n")
            let b = printed.split(separator: "\n")
            let at = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            Issue.record(
                "profiles/README.md differs from `fleetstorm validate --key-table` at row \(at):\nREADME:  \(at < a.count ? a[at] : "(end)")\nschema:  \(at < b.count ? b[at] : "(end)")"
            )
        }
    }

    @Test("every number has both bounds and the reader enforces them, naming the key")
    func rangesComeFromTheSchema() throws {
        for key in ProfileSchema.keys where key.table != .none {
            guard let path = key.paths.first, !path.contains("["), !path.contains("<") else { continue }
            let beyond: String?
            switch key.kind {
            case .whole(_, let max) where max < Int.max: beyond = String(max + 1)
            case .number(_, let max): beyond = "\(max * 2)"
            case .wholeOrAuto(_, let max): beyond = String(max + 1)
            case .time(_, let max?): beyond = "\(max.components.seconds + 1)s"
            default: beyond = nil
            }
            guard let beyond else { continue }
            let context = path.hasPrefix("https.") ? "hub: {https: true}\n" : ""
            #expect(throws: ScenarioError.self, "\(path)=\(beyond)") {
                _ = try ScenarioLoader().load(yaml: context, source: "p.yaml", overrides: ["\(path)=\(beyond)"])
            }
            do {
                _ = try ScenarioLoader().load(yaml: context, source: "p.yaml", overrides: ["\(path)=\(beyond)"])
            } catch {
                #expect(error.key == path && error.code == .outOfRange, "\(path)=\(beyond): \(error)")
            }
        }
    }

    @Test("the secret keys the writer and errors hide are the schema's")
    func secrets() {
        #expect(ProfileSchema.secretPaths == ["auth.group_key"])
        #expect(Scenario.secretKeys == ProfileSchema.secretPaths)
        // Names a later version might add are hidden by their shape too.
        for name in ["auth.group_key", "auth.key", "auth.password", "hub.group_key", "x.sas_token"] {
            #expect(Scenario.isSecret(key: name), "\(name)")
        }
    }
}
