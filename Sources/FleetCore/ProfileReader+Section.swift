internal import Yams

/// One mapping of the profile: typed getters that remember which keys were asked for, so `finish()` can name
/// every key nobody knows.
struct Section {
    let reader: ProfileReader
    let path: String
    let entries: [(key: String, keyNode: Node, node: Node)]
    var known: Set<String> = []
    /// Override paths used by this section and its children.
    var consumed: Set<String> = []

    init(reader: ProfileReader, path: String, entries: [(key: String, keyNode: Node, node: Node)]) {
        self.reader = reader
        self.path = path
        self.entries = entries
    }

    func fullKey(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ code: ScenarioError.Code, _ key: String, _ message: String) -> ScenarioError {
        let full = fullKey(key)
        if let o = reader.overrides[full] {
            return ScenarioError(code, key: full, location: "--set \(o.text)", message: message)
        }
        let node = entries.first(where: { $0.key == key })?.node
        return ScenarioError(code, key: full, location: reader.location(node), message: message)
    }

    /// The value node for `key` (an override wins over the file) and where it came from.
    mutating func value(_ key: String) -> Node? {
        known.insert(key)
        let full = fullKey(key)
        if let o = reader.overrides[full] {
            consumed.insert(full)
            return o.value
        }
        return entries.first(where: { $0.key == key })?.node
    }

    private mutating func scalar(_ key: String, _ expected: String) throws(ScenarioError) -> Node.Scalar? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let s) = node else { throw error(.wrongType, key, "expected \(expected)") }
        if s.tag == Tag(.null) || (s.string.isEmpty && s.style == .plain) {
            throw error(.wrongType, key, "expected \(expected), got nothing")
        }
        return s
    }

    // MARK: - typed getters: the type and range come from the schema (`ProfileSchema`)

    /// The schema's kind of `key` in this section; a key the schema lacks is FleetStorm's own mistake, refused in
    /// one line rather than read with no range.
    private func kind(_ key: String) throws(ScenarioError) -> ProfileKey.Kind {
        guard let entry = ProfileSchema.key(fullKey(key)) else {
            throw error(.invalidValue, key, "this key is missing from FleetStorm's profile schema: please report it")
        }
        return entry.kind
    }

    private func mismatch(_ key: String, _ getter: String) -> ScenarioError {
        error(
            .invalidValue,
            key,
            "FleetStorm reads this key as \(getter), which its schema does not say: please report it"
        )
    }

    mutating func string(_ key: String) throws(ScenarioError) -> String? {
        guard try kind(key) == .text else { throw mismatch(key, "text") }
        return try scalar(key, "text")?.string
    }

    mutating func int(_ key: String) throws(ScenarioError) -> Int? {
        guard case .whole(let min, let max) = try kind(key) else { throw mismatch(key, "a whole number") }
        return try wholeNumber(key, min: min, max: max)
    }

    mutating func intOrAuto(_ key: String) throws(ScenarioError) -> Int?? {
        guard case .wholeOrAuto(let min, let max) = try kind(key) else { throw mismatch(key, "a number or auto") }
        return try wholeNumberOrAuto(key, min: min, max: max)
    }

    mutating func double(_ key: String) throws(ScenarioError) -> Double? {
        guard case .number(let min, let max) = try kind(key) else { throw mismatch(key, "a number") }
        return try number(key, min: min, max: max)
    }

    mutating func rateOrUnlimited(_ key: String) throws(ScenarioError) -> Double? {
        guard try kind(key) == .rateOrUnlimited else { throw mismatch(key, "a rate") }
        return try rate(key)
    }

    mutating func duration(_ key: String) throws(ScenarioError) -> Duration? {
        guard case .time(let min, let max) = try kind(key) else { throw mismatch(key, "a duration") }
        return try time(key, min: min, max: max)
    }

    mutating func bool(_ key: String) throws(ScenarioError) -> Bool? {
        guard try kind(key) == .flag else { throw mismatch(key, "true or false") }
        return try flag(key)
    }

    // MARK: - reading a scalar of a type within a range

    private mutating func wholeNumber(_ key: String, min: Int, max: Int) throws(ScenarioError) -> Int? {
        guard let s = try scalar(key, "a whole number") else { return nil }
        let text = s.string.replacingUnderscores
        guard let v = Int(text) else {
            throw error(.wrongType, key, "expected a whole number, got \"\(s.string)\"")
        }
        guard v >= min && v <= max else {
            let range = max == Int.max ? "at least \(min)" : "between \(min) and \(max)"
            throw error(.outOfRange, key, "must be \(range), got \(v)")
        }
        return v
    }

    /// A whole number in `min ... max`, or the word `auto` (the program decides; nil inside: `.some(nil)`).
    private mutating func wholeNumberOrAuto(_ key: String, min: Int, max: Int) throws(ScenarioError) -> Int?? {
        guard let s = try scalar(key, "a whole number or auto") else { return nil }
        if s.string == "auto" { return .some(nil) }
        guard let v = Int(s.string.replacingUnderscores) else {
            throw error(.wrongType, key, "expected a whole number or auto, got \"\(s.string)\"")
        }
        guard v >= min && v <= max else {
            throw error(.outOfRange, key, "must be auto or between \(min) and \(max), got \(v)")
        }
        return .some(v)
    }

    /// A number in `min ... max`. Every number key has an upper bound (a billion unless the key says otherwise), so
    /// each later conversion of it (to a count, a rate's interval, nanoseconds) stays in range.
    private mutating func number(_ key: String, min: Double, max: Double) throws(ScenarioError) -> Double? {
        guard let s = try scalar(key, "a number") else { return nil }
        guard let v = Double(s.string.replacingUnderscores), v.isFinite else {
            throw error(.wrongType, key, "expected a number, got \"\(s.string)\"")
        }
        guard v >= min && v <= max else {
            throw error(.outOfRange, key, "must be between \(min.shortText) and \(max.shortText), got \(v.shortText)")
        }
        return v
    }

    /// A rate in events per second where 0 means unlimited: 0, or between 0.001 and a billion (a slower rate's interval
    /// between events would not fit the clock).
    private mutating func rate(_ key: String) throws(ScenarioError) -> Double? {
        guard let v = try number(key, min: 0, max: 1e9) else { return nil }
        guard v == 0 || v >= 0.001 else {
            throw error(.outOfRange, key, "must be 0 (unlimited) or between 0.001 and 1e9, got \(v.shortText)")
        }
        return v
    }

    private mutating func flag(_ key: String) throws(ScenarioError) -> Bool? {
        guard let s = try scalar(key, "true or false") else { return nil }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(.wrongType, key, "expected true or false, got \"\(s.string)\"")
        }
    }

    private mutating func time(_ key: String, min: Duration, max: Duration?) throws(ScenarioError) -> Duration? {
        guard let s = try scalar(key, "a duration like 250ms, 10s or 5m") else { return nil }
        guard let d = Duration.parse(s.string) else {
            throw error(.wrongType, key, "expected a duration like 250ms, 10s or 5m, got \"\(s.string)\"")
        }
        guard d >= min else { throw error(.outOfRange, key, "must be at least \(min.formatted), got \(d.formatted)") }
        if let max, d > max {
            throw error(.outOfRange, key, "must be at most \(max.formatted), got \(d.formatted)")
        }
        return d
    }

    mutating func strings(_ key: String) throws(ScenarioError) -> [String]? {
        guard try kind(key) == .list else { throw mismatch(key, "a list of text") }
        guard let node = value(key) else { return nil }
        guard case .sequence(let seq) = node else { throw error(.wrongType, key, "expected a list of text") }
        var out: [String] = []
        for item in seq {
            guard case .scalar(let s) = item else { throw error(.wrongType, key, "expected a list of text") }
            out.append(s.string)
        }
        return out
    }

    /// Every key of this mapping (and every `--set` under it) that no getter asked for, as text. Marks them known;
    /// the caller validates them (retry policy parameters are open-ended).
    mutating func remainingScalars() throws(ScenarioError) -> [String: String] {
        var out: [String: String] = [:]
        for (key, _, node) in entries where !known.contains(key) {
            guard case .scalar(let scalar) = node else { throw error(.wrongType, key, "expected a single value") }
            out[key] = scalar.string
        }
        let prefix = path.isEmpty ? "" : path + "."
        for (full, o) in reader.overrides where full.hasPrefix(prefix) {
            let key = String(full.dropFirst(prefix.count))
            guard !key.contains("."), !known.contains(key) else { continue }
            guard case .scalar(let scalar) = o.value else { throw error(.wrongType, key, "expected a single value") }
            out[key] = scalar.string
            consumed.insert(full)
        }
        for key in out.keys { known.insert(key) }
        return out
    }

    /// Reads a list of mappings (`faults: [{at: 2s, kind: drop}, ...]`); each item is checked like a section.
    mutating func list(_ key: String, _ body: (inout Section) throws(ScenarioError) -> Void) throws(ScenarioError) {
        guard let node = value(key) else { return }
        guard case .sequence(let seq) = node else { throw error(.wrongType, key, "expected a list") }
        for (i, item) in seq.enumerated() {
            var child = try reader.section(item, path: "\(fullKey(key))[\(i)]")
            try body(&child)
            try child.finish()
        }
    }

    /// Reads a nested mapping (absent counts as empty, so overrides still reach its keys).
    /// True when the profile or a `--set` gives `key` (or anything under it).
    func mentions(_ key: String) -> Bool {
        let full = fullKey(key)
        return entries.contains { $0.key == key }
            || reader.overrides.keys.contains { $0 == full || $0.hasPrefix(full + ".") }
    }

    mutating func mapping(
        _ key: String,
        _ body: (inout Section) throws(ScenarioError) -> Void
    )
        throws(ScenarioError)
    {
        known.insert(key)
        let node = entries.first(where: { $0.key == key })?.node
        var child = try reader.section(node, path: fullKey(key))
        try body(&child)
        try child.finish()
        consumed.formUnion(child.consumed)
    }

    /// Fails on the first key of this mapping that no getter asked for.
    func finish() throws(ScenarioError) {
        for (key, keyNode, _) in entries where !known.contains(key) {
            let choices = known.sorted().joined(separator: ", ")
            throw ScenarioError(
                .unknownKey,
                key: fullKey(key),
                location: reader.location(keyNode),
                message: "unknown key (known here: \(choices))"
            )
        }
    }
}

extension Double {
    /// `1000`, `0.5`, `1e+09`: a number as a user would type it back.
    var shortText: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : "\(self)" }
}

extension String {
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
