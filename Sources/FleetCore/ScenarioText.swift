extension Scenario {
    /// The effective scenario (after `--set` overrides and defaults) as YAML for the report, with every secret
    /// replaced: keys, group keys and registry contents never leave the process. Written from the profile schema:
    /// each key in the schema's order, its value from `keyWriters`, the keys of a section as one flow mapping.
    public var redactedYAML: String {
        var order: [String] = []
        var scalars: [String: String] = [:]
        var items: [String: [String]] = [:]
        for key in ProfileSchema.documented {
            for path in key.paths {
                guard let write = Self.keyWriters[path], let value = write(self) else { continue }
                let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
                if !order.contains(parts[0]) { order.append(parts[0]) }
                if parts.count == 1 {
                    scalars[parts[0]] = value
                } else {
                    // A retry curve's parameters come as their own items.
                    items[parts[0], default: []].append(parts[1].hasPrefix("<") ? value : "\(parts[1]): \(value)")
                }
            }
        }
        let lines = order.compactMap { top -> String? in
            if let value = scalars[top] { return value.hasPrefix("\n") ? "\(top):\(value)" : "\(top): \(value)" }
            return items[top].map { "\(top): {\($0.joined(separator: ", "))}" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The profile keys whose values are secrets (the schema's secret flag): never shown in errors, logs or reports.
    public static var secretKeys: Set<String> { ProfileSchema.secretPaths }

    /// True for a key whose value must not be shown: one of `secretKeys`, or (for keys a later version may add)
    /// a key, password or token by its last part.
    public static func isSecret(key: String) -> Bool {
        let k = key.lowercased()
        let last = k.split(separator: ".").last.map(String.init) ?? k
        return secretKeys.contains(k) || last.hasSuffix("key") || last.contains("password")
            || (last.contains("token") && last != "token_ttl")
    }

    /// One `--set` item as it may be shown: a secret key's value replaced; an item without `=` (it may be a
    /// pasted secret) not shown at all.
    public static func redactOverride(_ item: String) -> String {
        guard let eq = item.firstIndex(of: "=") else { return "(an item without \"=\", not shown)" }
        return isSecret(key: String(item[..<eq])) ? "\(item[..<eq])=(redacted)" : item
    }

    /// `--set` overrides as given, with the values of secret keys replaced.
    public static func redactOverrides(_ overrides: [String]) -> [String] {
        overrides.map(redactOverride)
    }
}

extension Scenario {
    /// The delays the fleet's policies predict for retries 1 … `attempts`, sampled in proportion to the cohorts'
    /// sizes with a generator seeded from the scenario: each sample is one chain of retries (decorrelated jitter
    /// draws each wait from the one before). Element k−1 holds retry k's delays; a policy that gives up before
    /// retry k adds none to it. For the KS distance between what the policy promises and what a run shows, and the
    /// reports' predicted curves.
    public func predictedRetries(attempts: Int = 3, samples: Int = 10_000) -> [[Int64]] {
        var rng = SplitMix64(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        let cohorts = effectiveCohorts
        let total = Swift.max(1, cohorts.reduce(0) { $0 + $1.devices })
        var out = [[Int64]](repeating: [], count: Swift.max(0, attempts))
        for c in cohorts {
            for _ in 0..<(samples * c.devices / total) {
                for (k, d) in c.retry.policy.delays(count: out.count, using: &rng).enumerated() {
                    if let d { out[k].append(d.nanoseconds) }
                }
            }
        }
        return out
    }

    /// A message mix as a YAML flow list.
    static func mixText(_ mix: [MessageKind]) -> String {
        "["
            + mix.map { k in
                var item = "{name: \(TextQuoting.doubleQuoted(k.name)), weight: \(k.weight.shortText)"
                if let q = k.qos { item += ", qos: \(q.rawValue)" }
                if let b = k.payloadBytes { item += ", payload_bytes: \(b)" }
                if let t = k.template { item += ", template: \(TextQuoting.doubleQuoted(t.text))" }
                return item + "}"
            }.joined(separator: ", ") + "]"
    }

}
