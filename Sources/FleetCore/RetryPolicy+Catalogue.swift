/// A policy's parameter as `fleetstorm policy --list` and profiles name it.
public struct RetryParameter: Sendable, Hashable {
    public var key: String
    public var defaultValue: String
    public var meaning: String
}

/// One entry of the catalogue: a preset or family, what it is, and the parameters it accepts.
public struct RetryPolicyInfo: Sendable, Hashable {
    public var name: String
    public var summary: String
    public var parameters: [RetryParameter]
}

/// A policy name or parameter that cannot be used; names the parameter.
public struct RetryPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var message: String
    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
}

extension RetryPolicy {
    private static func p(_ key: String, _ value: String, _ meaning: String) -> RetryParameter {
        RetryParameter(key: key, defaultValue: value, meaning: meaning)
    }

    private static let attempts = p("attempts", "unlimited", "most retries before giving up")
    private static func timeout(_ v: String) -> RetryParameter {
        p("timeout", v, "give up this long after retrying started (0: never; unset: the SDK's own limit, see sdk:)")
    }

    /// Every preset and family, with its parameters and defaults.
    public static let catalogue: [RetryPolicyInfo] = [
        RetryPolicyInfo(
            name: "azure-dotnet",
            summary: ".NET v1 default ExponentialBackoff: min((2^k−1)·U[0.8δ,1.2δ)+base, cap), k = n−1; attempt "
                + "starts ≥ 1 s apart",
            parameters: [
                p("base", "100ms", "minBackoff"), p("cap", "10s", "maxBackoff"), p("delta", "100ms", "deltaBackoff"),
                p("floor", "1s", "least time between attempt starts"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "azure-dotnet-throttled",
            summary: ".NET < 1.19 throttling policy: ExponentialBackoff(10 s, 60 s, 5 s)",
            parameters: [
                p("base", "10s", "minBackoff"), p("cap", "60s", "maxBackoff"), p("delta", "5s", "deltaBackoff"),
                p("floor", "1s", "least time between attempt starts"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "azure-java",
            summary: "Java ExponentialBackoffWithJitter: first retry immediate, then the .NET curve",
            parameters: [
                p("base", "100ms", "minBackoff"), p("cap", "10s", "maxBackoff"), p("delta", "100ms", "deltaBackoff"),
                p("first_fast", "true", "first retry without waiting"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "azure-node",
            summary: "Node ExponentialBackOffWithJitter as implemented: min(cMin + (2^(x−1)−1)·U·C·(Jd−Ju), cMax)",
            parameters: [
                p("c", "100ms", "C"), p("base", "100ms", "cMin"), p("cap", "10s", "cMax"), p("ju", "0.25", "Ju"),
                p("jd", "0.5", "Jd"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "azure-node-throttled",
            summary: "Node throttled constants (C 5 s, cMin 10 s, cMax 60 s; Ju/Jd as the code leaves them)",
            parameters: [
                p("c", "5s", "C"), p("base", "10s", "cMin"), p("cap", "60s", "cMax"), p("ju", "0.25", "Ju"),
                p("jd", "0.5", "Jd"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "azure-c",
            summary: "C SDK retry control: first retry immediate, whole seconds, waits count from the attempt start",
            parameters: [
                p("mode", "exponential-jitter", "none|immediate|interval|linear|exponential|exponential-jitter|random"),
                p("base", "1s (5s for interval, linear, random)", "retry_interval_sec"),
                p("cap", "30s", "retry_max_delay_secs"), p("jitter", "0.05", "max_jitter as a fraction"), attempts,
                timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "azure-python",
            summary: "Python v2: reconnect 0.01 s after a drop, then every 10 s, no jitter, no limit",
            parameters: [
                p("first", "10ms", "wait before the first retry"), p("base", "10s", "connection_retry_interval"),
                attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "paho",
            summary: "paho-mqtt's reconnect delay: min(120 s, 1 s·2^(n−1)), no jitter (the plain MQTT client's curve)",
            parameters: [
                p("base", "1s", "min_delay"), p("cap", "120s", "max_delay"), p("multiplier", "2", ""), attempts,
                timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "exponential",
            summary: "min(cap, base·multiplier^(n−1)), no jitter",
            parameters: [
                p("base", "100ms", ""), p("cap", "30s", ""), p("multiplier", "2", ""), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "full-jitter",
            summary: "U(0, t), t = min(cap, base·2^(n−1))",
            parameters: [p("base", "100ms", ""), p("cap", "30s", ""), attempts, timeout("unset")]
        ),
        RetryPolicyInfo(
            name: "equal-jitter",
            summary: "t/2 + U(0, t/2), t = min(cap, base·2^(n−1))",
            parameters: [p("base", "100ms", ""), p("cap", "30s", ""), attempts, timeout("unset")]
        ),
        RetryPolicyInfo(
            name: "decorrelated-jitter",
            summary: "min(cap, U(base, 3·previous)), previous starts at base",
            parameters: [p("base", "100ms", ""), p("cap", "30s", ""), attempts, timeout("unset")]
        ),
        RetryPolicyInfo(
            name: "fixed",
            summary: "base, ± jitter (a fraction)",
            parameters: [
                p("base", "1s", ""), p("jitter", "0", "fraction, e.g. 0.1 for ±10 %"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "linear",
            summary: "min(cap, base·n), ± jitter",
            parameters: [
                p("base", "1s", ""), p("cap", "30s", ""), p("jitter", "0", "fraction"), attempts, timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "custom",
            summary: "a table of delays (the last repeats), ± jitter",
            parameters: [
                p("delays", "(required)", "comma-separated, e.g. 100ms,1s,5s"), p("jitter", "0", "fraction"), attempts,
                timeout("unset"),
            ]
        ),
        RetryPolicyInfo(
            name: "none",
            summary: "one attempt; a message that cannot be sent is dropped and counted",
            parameters: []
        ),
    ]

    /// A catalogue entry with its defaults (for names known to be in the catalogue).
    public static func preset(_ name: String) -> RetryPolicy {
        do { return try make(name: name) } catch { preconditionFailure("no default policy \(name): \(error)") }
    }

    /// Builds a policy from its name and `key=value` parameters (validated: unknown keys and bad values are errors).
    public static func make(name: String, parameters: [String: String] = [:]) throws(RetryPolicyError) -> RetryPolicy {
        guard let info = catalogue.first(where: { $0.name == name }) else {
            throw RetryPolicyError(
                key: "policy",
                message: "unknown policy \"\(name)\" (known: \(catalogue.map(\.name).joined(separator: ", ")))"
            )
        }
        let args = PolicyArguments(values: parameters, allowed: Set(info.parameters.map(\.key)))
        try args.checkKeys(policy: name)
        var policy: RetryPolicy
        switch name {
        case "azure-dotnet", "azure-dotnet-throttled":
            let throttled = name.hasSuffix("throttled")
            policy = RetryPolicy(
                name: name,
                shape: .dotnet(
                    min: try args.duration("base", throttled ? .seconds(10) : .milliseconds(100)),
                    max: try args.duration("cap", throttled ? .seconds(60) : .seconds(10)),
                    delta: try args.duration("delta", throttled ? .seconds(5) : .milliseconds(100))
                ),
                attemptStartFloor: try args.duration("floor", .seconds(1))
            )
        case "azure-java":
            policy = RetryPolicy(
                name: name,
                shape: .java(
                    min: try args.duration("base", .milliseconds(100)),
                    max: try args.duration("cap", .seconds(10)),
                    delta: try args.duration("delta", .milliseconds(100)),
                    firstFastRetry: try args.bool("first_fast", true)
                )
            )
        case "azure-node", "azure-node-throttled":
            let throttled = name.hasSuffix("throttled")
            policy = RetryPolicy(
                name: name,
                shape: .node(
                    c: try args.duration("c", throttled ? .seconds(5) : .milliseconds(100)),
                    cMin: try args.duration("base", throttled ? .seconds(10) : .milliseconds(100)),
                    cMax: try args.duration("cap", throttled ? .seconds(60) : .seconds(10)),
                    ju: try args.fraction("ju", 0.25),
                    jd: try args.fraction("jd", 0.5)
                )
            )
        case "azure-c":
            let modeText = args.values["mode"] ?? CMode.exponentialJitter.rawValue
            guard let mode = CMode(rawValue: modeText) else {
                throw RetryPolicyError(
                    key: "mode",
                    message: "expected one of \(CMode.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let exponential = mode == .exponential || mode == .exponentialJitter
            policy = RetryPolicy(
                name: name,
                shape: .cSDK(
                    mode: mode,
                    base: try args.duration("base", exponential ? .seconds(1) : .seconds(5), min: .seconds(1)),
                    cap: try args.duration("cap", .seconds(30)),
                    maxJitterPercent: try args.fraction("jitter", 0.05) * 100
                ),
                waitIncludesAttempt: true
            )
        case "azure-python":
            policy = RetryPolicy(
                name: name,
                shape: .python(
                    first: try args.duration("first", .milliseconds(10)),
                    interval: try args.duration("base", .seconds(10))
                )
            )
        case "exponential", "paho":
            let paho = name == "paho"
            policy = RetryPolicy(
                name: name,
                shape: .exponential(
                    base: try args.duration("base", paho ? .seconds(1) : .milliseconds(100)),
                    cap: try args.duration("cap", paho ? .seconds(120) : .seconds(30)),
                    multiplier: try args.number("multiplier", 2, min: 1)
                )
            )
        case "full-jitter", "equal-jitter", "decorrelated-jitter":
            let base = try args.duration("base", .milliseconds(100))
            let cap = try args.duration("cap", .seconds(30))
            let shape: Shape =
                name == "full-jitter"
                ? .fullJitter(base: base, cap: cap)
                : name == "equal-jitter"
                    ? .equalJitter(base: base, cap: cap) : .decorrelatedJitter(base: base, cap: cap)
            policy = RetryPolicy(name: name, shape: shape)
        case "fixed":
            policy = RetryPolicy(
                name: name,
                shape: .fixed(base: try args.duration("base", .seconds(1)), jitter: try args.fraction("jitter", 0))
            )
        case "linear":
            policy = RetryPolicy(
                name: name,
                shape: .linear(
                    base: try args.duration("base", .seconds(1)),
                    cap: try args.duration("cap", .seconds(30)),
                    jitter: try args.fraction("jitter", 0)
                )
            )
        case "custom":
            guard let text = args.values["delays"] else {
                throw RetryPolicyError(
                    key: "delays",
                    message: "custom needs a table of delays, e.g. delays=100ms,1s,5s"
                )
            }
            var table: [Duration] = []
            for item in text.split(separator: ",") {
                guard let d = Duration.parse(String(item)) else {
                    throw RetryPolicyError(key: "delays", message: "\"\(item)\" is not a duration like 250ms or 10s")
                }
                table.append(d)
            }
            guard !table.isEmpty else { throw RetryPolicyError(key: "delays", message: "the table is empty") }
            policy = RetryPolicy(name: name, shape: .custom(table: table, jitter: try args.fraction("jitter", 0)))
        default:
            policy = RetryPolicy(name: name, shape: .none)
        }
        if let a = args.values["attempts"] {
            guard let n = Int(a), n >= 0 else {
                throw RetryPolicyError(key: "attempts", message: "expected a whole number ≥ 0, got \"\(a)\"")
            }
            policy.maxAttempts = n
        }
        if args.values["timeout"] != nil {
            // Given: it replaces the SDK's limit (0 = never give up). Not given: nil, the SDK decides.
            policy.timeout = try args.duration("timeout", .zero)
        }
        return policy
    }
}

/// Typed reads of `key=value` policy parameters.
struct PolicyArguments {
    var values: [String: String]
    let allowed: Set<String>

    func checkKeys(policy: String) throws(RetryPolicyError) {
        for key in values.keys.sorted() where !allowed.contains(key) {
            let known = allowed.isEmpty ? "none" : allowed.sorted().joined(separator: ", ")
            throw RetryPolicyError(key: key, message: "\(policy) has no parameter \"\(key)\" (it takes: \(known))")
        }
    }

    func duration(_ key: String, _ fallback: Duration, min: Duration = .zero) throws(RetryPolicyError) -> Duration {
        guard let text = values[key] else { return fallback }
        guard let d = Duration.parse(text) else {
            throw RetryPolicyError(key: key, message: "expected a duration like 250ms or 10s, got \"\(text)\"")
        }
        guard d >= min else { throw RetryPolicyError(key: key, message: "must be at least \(min.formatted)") }
        return d
    }

    func number(_ key: String, _ fallback: Double, min: Double) throws(RetryPolicyError) -> Double {
        guard let text = values[key] else { return fallback }
        guard let v = Double(text), v.isFinite, v >= min else {
            throw RetryPolicyError(key: key, message: "expected a number ≥ \(min), got \"\(text)\"")
        }
        return v
    }

    func fraction(_ key: String, _ fallback: Double) throws(RetryPolicyError) -> Double {
        guard let text = values[key] else { return fallback }
        guard let v = Double(text), v >= 0, v <= 1 else {
            throw RetryPolicyError(key: key, message: "expected a fraction between 0 and 1, got \"\(text)\"")
        }
        return v
    }

    func bool(_ key: String, _ fallback: Bool) throws(RetryPolicyError) -> Bool {
        guard let text = values[key] else { return fallback }
        switch text.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw RetryPolicyError(key: key, message: "expected true or false, got \"\(text)\"")
        }
    }
}

extension RetryPolicy {
    /// The policy's parameters as a profile's `retry:` writes them (`base`, `cap`, …; the inverse of the
    /// catalogue's reading), so the effective profile in a report loads back to the same policy. A programmatic
    /// strategy has none a profile could write.
    public var parameters: [(key: String, value: String)] {
        func d(_ v: Duration) -> String { v.formatted }
        func n(_ v: Double) -> String { v.shortText }
        var out: [(String, String)]
        switch shape {
        case .dotnet(let min, let max, let delta):
            out = [("base", d(min)), ("cap", d(max)), ("delta", d(delta))]
            if let floor = attemptStartFloor { out.append(("floor", d(floor))) }
        case .java(let min, let max, let delta, let firstFast):
            out = [("base", d(min)), ("cap", d(max)), ("delta", d(delta)), ("first_fast", "\(firstFast)")]
        case .node(let c, let cMin, let cMax, let ju, let jd):
            out = [("c", d(c)), ("base", d(cMin)), ("cap", d(cMax)), ("ju", n(ju)), ("jd", n(jd))]
        case .cSDK(let mode, let base, let cap, let jitterPercent):
            out = [("mode", mode.rawValue), ("base", d(base)), ("cap", d(cap)), ("jitter", n(jitterPercent / 100))]
        case .python(let first, let interval):
            out = [("first", d(first)), ("base", d(interval))]
        case .exponential(let base, let cap, let multiplier):
            out = [("base", d(base)), ("cap", d(cap)), ("multiplier", n(multiplier))]
        case .fullJitter(let base, let cap), .equalJitter(let base, let cap), .decorrelatedJitter(let base, let cap):
            out = [("base", d(base)), ("cap", d(cap))]
        case .fixed(let base, let jitter):
            out = [("base", d(base)), ("jitter", n(jitter))]
        case .linear(let base, let cap, let jitter):
            out = [("base", d(base)), ("cap", d(cap)), ("jitter", n(jitter))]
        case .custom(let table, let jitter):
            out = [("delays", table.map(d).joined(separator: ",")), ("jitter", n(jitter))]
        case .none, .strategy:
            out = []
        }
        if let attempts = maxAttempts { out.append(("attempts", String(attempts))) }
        if let timeout { out.append(("timeout", timeout == .zero ? "0" : d(timeout))) }
        return out
    }
}
