/// The device SDK a device imitates: everything the SDK decides apart from the retry curve — error classification
/// and status reasons, the keep-alive / ping rule, the api-version and client type in the username, token renewal,
/// the throttled-retry policy and the retry time limits (reference §1–§4). Decided once per cohort, from the
/// profile's `sdk:` key, never from a policy's name. `retry.policy` picks only the curve; its default is the SDK's.
public struct SDK: Sendable, Hashable, CustomStringConvertible {
    enum Kind: String, Sendable, Hashable, CaseIterable {
        case dotnet = "azure-dotnet"
        case java = "azure-java"
        case node = "azure-node"
        case c = "azure-c"
        case python = "azure-python"
        /// A plain MQTT client (paho / mqtt.js rules), not an Azure SDK.
        case mqtt
    }

    let kind: Kind

    public static let dotnet = SDK(kind: .dotnet)
    public static let java = SDK(kind: .java)
    public static let node = SDK(kind: .node)
    public static let c = SDK(kind: .c)
    public static let python = SDK(kind: .python)
    public static let mqtt = SDK(kind: .mqtt)

    /// The profile's name for it (`azure-dotnet`, ..., `mqtt`); nil for an unknown name.
    public init?(name: String) {
        guard let kind = Kind(rawValue: name) else { return nil }
        self.kind = kind
    }

    init(kind: Kind) { self.kind = kind }

    public static var names: [String] { Kind.allCases.map(\.rawValue) }
    public var name: String { kind.rawValue }
    public var description: String { name }

    /// The SASL mechanism the SDK asks for over AMQP (reference §11.1: the C SDK offers `MSSBCBS`, Java with a SAS
    /// token `ANONYMOUS`; .NET and Node authenticate by CBS after an anonymous SASL step too); nil for an SDK without an
    /// AMQP transport (Python's is MQTT only).
    public var amqpMechanism: String? {
        switch kind {
        case .c: "MSSBCBS"
        case .dotnet, .java, .node, .mqtt: "ANONYMOUS"
        case .python: nil
        }
    }

    /// How failures are classified and which status reason each reports (reference §2, §3).
    public var classifier: ErrorClassifier {
        switch kind {
        case .dotnet: ErrorClassifier(flavour: .dotnet)
        case .java: ErrorClassifier(flavour: .java)
        case .node: ErrorClassifier(flavour: .node)
        case .c: ErrorClassifier(flavour: .c)
        case .python: ErrorClassifier(flavour: .python)
        case .mqtt: ErrorClassifier(flavour: .mqtt)
        }
    }

    /// The SDK's own reconnect curve (reference §1.7) and its throttled policy: .NET and Node have separate
    /// throttling policies; a plain MQTT client reconnects like paho (1 s doubling to 120 s, no jitter).
    public var defaultRetry: Scenario.Retry {
        var r = Scenario.Retry()
        switch kind {
        case .dotnet:
            r.policy = .preset("azure-dotnet")
            r.throttled = .preset("azure-dotnet-throttled")
        case .node:
            r.policy = .preset("azure-node")
            r.throttled = .preset("azure-node-throttled")
        case .java, .c, .python:
            r.policy = .preset(name)
            r.throttled = r.policy
        case .mqtt:
            r.policy = .preset("paho")
            r.throttled = r.policy
        }
        return r
    }

    /// The throttled policy that goes with `policy` when the profile names a curve but no throttled policy: with the
    /// SDK's own curve, its own throttling policy (.NET's legacy one, Node's throttled parameters); with any other
    /// curve, that curve (as .NET ≥ 1.19 and a custom Node policy handle throttling with the one policy).
    public func throttledPolicy(for policy: RetryPolicy) -> RetryPolicy {
        policy == defaultRetry.policy ? defaultRetry.throttled : policy
    }

    /// The api-version each SDK sends in the username (reference §4.1).
    public var apiVersion: String {
        switch kind {
        case .dotnet, .java, .c: "2020-09-30"
        case .node, .mqtt: "2021-04-12"
        case .python: "2019-10-01"
        }
    }

    /// When the SDK renews its SAS token by reconnecting (reference §4.2): C after 80 % of the lifetime, Node 15
    /// minutes before expiry, Python 2 minutes before; .NET and Java wait for the hub to drop them (nil).
    public func tokenRenewal(ttl: Duration, overAMQP: Bool = false) -> Duration? {
        switch kind {
        // Over AMQP the C SDK puts a new token at half its lifetime (reference §11.1: 3,600 s, renewed at 1,800 s).
        case .c: overAMQP ? ttl / 2 : ttl * 0.8
        case .node: ttl > .seconds(900) ? ttl - .seconds(900) : ttl / 2
        case .python: ttl > .seconds(120) ? ttl - .seconds(120) : ttl / 2
        case .dotnet, .java, .mqtt: nil
        }
    }

    /// The keep-alive rule (reference §4.5): silence before a PINGREQ, how long to wait for the PINGRESP, and
    /// whether silence in the *receive* direction also counts (paho / mqtt.js) or only what the device sends (.NET, C).
    public func keepAlive(_ keepAlive: Duration) -> (pingIdle: Duration, pingTimeout: Duration, onReadSilence: Bool) {
        switch kind {
        case .dotnet: (keepAlive / 4, .seconds(30), false)
        case .c: (keepAlive, min(.seconds(80), keepAlive / 2), false)
        case .java, .node, .python, .mqtt: (keepAlive, keepAlive, true)
        }
    }

    /// When an SDK stops retrying (reference §1): the limit for the first connect (an open operation) and for a
    /// reconnect after a drop, and when the limit is checked. nil: never.
    public struct TimeLimits: Sendable, Hashable {
        /// When the elapsed time is compared with the limit.
        public enum Check: String, Sendable, Hashable {
            /// A timer at start + limit cancels whatever is in progress (.NET's operation CancellationToken).
            case deadline
            /// When a wait ends, before the next attempt starts (Java's reconnect loop, the C SDK's DoWork).
            case atAttemptStart = "at_attempt_start"
            /// When an attempt fails, before waiting (Node's RetryOperation: now ≥ start + maxTimeout).
            case afterFailure = "after_failure"
        }

        public var open: Duration?
        public var reconnect: Duration?
        public var check: Check
        /// The clock of an open starts at its first attempt; a reconnect's at the loss (.NET, Java, Node) — the C
        /// SDK's at its first retry, which follows the loss at once.
    }

    public var timeLimits: TimeLimits {
        let fourMinutes = Duration.seconds(240)
        switch kind {
        // .NET: operations (OpenAsync) run under a 240 s token; the background reconnect after a drop never ends.
        case .dotnet: return TimeLimits(open: fourMinutes, reconnect: nil, check: .deadline)
        // Java: open(withRetry) and reconnection both stop after 4 minutes, checked in the reconnect loop.
        case .java: return TimeLimits(open: fourMinutes, reconnect: fourMinutes, check: .atAttemptStart)
        // Node: every operation has MAX_OPERATION_TIMEOUT = 240 s, checked when an attempt fails.
        case .node: return TimeLimits(open: fourMinutes, reconnect: fourMinutes, check: .afterFailure)
        // C: retry timeout 0 = forever (DEFAULT_RETRY_TIMEOUT_IN_SECONDS 0).
        case .c: return TimeLimits(open: nil, reconnect: nil, check: .atAttemptStart)
        // Python: transient errors retry without limit; plain MQTT clients retry forever.
        case .python, .mqtt: return TimeLimits(open: nil, reconnect: nil, check: .afterFailure)
        }
    }

    /// `DeviceClientType` in the username.
    public var clientType: String { "fleetstorm/0.1.0 (\(name))" }
}
