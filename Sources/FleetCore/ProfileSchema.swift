/// One key of the profile schema: where it is, what it holds (type and range), its default and meaning as
/// `profiles/README.md` shows them, and whether its value is a secret. The profile reader takes each key's type and
/// range from here (`Section`'s getters name only the key), the README's key tables are printed from here
/// (`fleetstorm validate --key-table`; a test fails when the README differs), and the redacted YAML writer and
/// every error message hide the values of secret keys listed here.
public struct ProfileKey: Sendable {
    /// What a key holds. Every number has both bounds, so no value that passes can overflow a later conversion.
    public enum Kind: Sendable, Hashable {
        case text, flag, list, mapping
        /// Parameters the section's own reader knows (a retry policy's).
        case open
        case whole(Int, Int)
        case number(Double, Double)
        case time(Duration, Duration?)
        /// Events per second; 0 means unlimited, else 0.001 … 1e9.
        case rateOrUnlimited
        /// A whole number in range, or `auto`.
        case wholeOrAuto(Int, Int)
    }

    /// The README table a key's row is in (`none`: keys of list items and cohorts, explained in prose).
    public enum Table: Sendable, Hashable {
        case profile, link, none
    }

    /// The key's dotted path (list items as `faults[].at`); a row may document several keys of one meaning.
    public let paths: [String]
    public let kind: Kind
    /// The default as the README shows it (Markdown).
    public let defaultText: String
    /// The meaning as the README shows it (Markdown).
    public let doc: String
    public let secret: Bool
    public let table: Table

    init(
        _ path: String,
        _ kind: Kind,
        default defaultText: String = "",
        doc: String = "",
        secret: Bool = false,
        table: Table = .profile
    ) {
        self.init([path], kind, default: defaultText, doc: doc, secret: secret, table: table)
    }

    init(
        _ paths: [String],
        _ kind: Kind,
        default defaultText: String = "",
        doc: String = "",
        secret: Bool = false,
        table: Table = .profile
    ) {
        self.paths = paths
        self.kind = kind
        self.defaultText = defaultText
        self.doc = doc
        self.secret = secret
        self.table = table
    }
}

public enum ProfileSchema {
    /// Every key, in the README's order, then the keys of list items and cohorts.
    public static let keys: [ProfileKey] = documented + unlisted

    private static let byPath: [String: ProfileKey] = {
        var index: [String: ProfileKey] = [:]
        for key in keys {
            for path in key.paths where index[path] == nil { index[path] = key }
        }
        return index
    }()

    /// The schema entry of a key as the reader meets it (`cohorts[2].mix[0].weight`): list indices dropped; a
    /// cohort's own copy of a profile key (`cohorts[].retry.policy`, `cohorts[].amqp.pool_size`) is the profile
    /// key's, and a cohort's mix item is the telemetry mix's.
    public static func key(_ path: String) -> ProfileKey? {
        var normalized = ""
        var inBrackets = false
        for ch in path {
            if ch == "[" {
                inBrackets = true
                normalized.append("[")
            } else if ch == "]" {
                inBrackets = false
                normalized.append("]")
            } else if !inBrackets {
                normalized.append(ch)
            }
        }
        if let key = byPath[normalized] { return key }
        let cohort = "cohorts[]."
        guard normalized.hasPrefix(cohort) else { return nil }
        let rest = String(normalized.dropFirst(cohort.count))
        return byPath[rest] ?? byPath["telemetry." + rest]
    }

    /// Paths of the keys whose values are secrets.
    public static let secretPaths: Set<String> = Set(keys.filter(\.secret).flatMap(\.paths))

    /// A README key table, as Markdown (header included).
    public static func markdown(_ table: ProfileKey.Table) -> String {
        var lines = ["| key | default | meaning |", "|---|---|---|"]
        for key in keys where key.table == table {
            let names = key.paths.map { "`\($0)`" }.joined(separator: ", ")
            lines.append("| \(names) | \(key.defaultText) | \(key.doc) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Keys of list items and of cohorts, and the faults' parameters: read like the others, explained in the
    /// README's prose (the cohort and fault sections) rather than in the key table.
    static let unlisted: [ProfileKey] = [
        ProfileKey("cohorts[].name", .text, table: .none),
        // A cohort may be empty, as a share rounds to none of a small fleet (and the report writes it so).
        ProfileKey("cohorts[].devices", .whole(0, Int.max), table: .none),
        ProfileKey("cohorts[].share", .number(0, 1), table: .none),
        ProfileKey("telemetry.mix[].name", .text, table: .none),
        ProfileKey("telemetry.mix[].weight", .number(0, 1e9), table: .none),
        ProfileKey("telemetry.mix[].template", .text, table: .none),
        ProfileKey("telemetry.mix[].template_file", .text, table: .none),
        ProfileKey("telemetry.mix[].payload_bytes", .whole(0, 256 * 1024), table: .none),
        ProfileKey("telemetry.mix[].qos", .whole(0, 1), table: .none),
        ProfileKey("faults[].at", .time(.zero, nil), table: .none),
        ProfileKey("faults[].kind", .text, table: .none),
        ProfileKey("faults[].for", .time(.zero, nil), table: .none),
        ProfileKey("faults[].delay", .time(.zero, nil), table: .none),
        ProfileKey("faults[].fraction", .number(0, 1e9), table: .none),
        ProfileKey("faults[].devices", .text, table: .none),
        ProfileKey("faults[].source", .text, table: .none),
        ProfileKey("faults[].connect_rate", .number(0.001, 1e9), table: .none),
        ProfileKey("faults[].send_rate", .number(0.001, 1e9), table: .none),
        ProfileKey("faults[].period", .time(.milliseconds(10), nil), table: .none),
        ProfileKey("faults[].down", .time(.zero, nil), table: .none),
        ProfileKey("faults[].refuse", .text, table: .none),
        ProfileKey("faults[].uplink", .whole(1, 2), table: .none),
    ]
}
