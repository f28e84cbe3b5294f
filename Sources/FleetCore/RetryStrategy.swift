/// A retry schedule written in code, for library users whose SDK or product does something the catalogue lacks.
/// Wrap it with `RetryPolicy.strategy(_:)`; the device machine then uses it like any preset.
public protocol RetryStrategy: Sendable {
    /// Shown in reports and `fleetstorm policy`; two strategies with the same name count as the same policy.
    var name: String { get }
    /// The wait before retry `attempt` (1-based), or nil to give up. `previous` is the wait chosen before the
    /// previous retry. Draw randomness only from `rng`, so runs stay reproducible.
    func delay(attempt: Int, previous: Duration?, using rng: inout some RandomNumberGenerator) -> Duration?
}

/// A type-erased strategy that compares by name (so `RetryPolicy` stays a value with equality).
struct AnyRetryStrategy: Sendable, Hashable {
    let base: any RetryStrategy

    static func == (lhs: AnyRetryStrategy, rhs: AnyRetryStrategy) -> Bool { lhs.base.name == rhs.base.name }
    func hash(into hasher: inout Hasher) { hasher.combine(base.name) }
}

extension RetryPolicy {
    /// A policy driven by a `RetryStrategy`; `timeout` and `maxAttempts` still apply.
    public static func strategy(
        _ strategy: some RetryStrategy,
        maxAttempts: Int? = nil,
        timeout: Duration? = nil
    ) -> RetryPolicy {
        RetryPolicy(
            name: strategy.name,
            shape: .strategy(AnyRetryStrategy(base: strategy)),
            maxAttempts: maxAttempts,
            timeout: timeout
        )
    }
}
