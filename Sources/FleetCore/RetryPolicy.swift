/// A retry policy as data: the delay before each retry, when to give up, and how the wait relates to the failed
/// attempt. SDK presets reproduce their SDK's delay curve exactly (see the reference §1); families are the textbook
/// jitter shapes (AWS "Exponential Backoff And Jitter"). Pure: every random draw comes from the caller's generator.
///
/// Numbering: `delay(attempt: n)` is the wait before the n-th retry, n = 1 for the first retry after a failure.
public struct RetryPolicy: Sendable, Hashable, CustomStringConvertible {
    enum Shape: Sendable, Hashable {
        /// .NET v1 `ExponentialBackoff`: min((2^k − 1)·R + min, max), k = n − 1, R integer ms in [⌊0.8δ⌋, ⌊1.2δ⌋).
        case dotnet(min: Duration, max: Duration, delta: Duration)
        /// Java `ExponentialBackoffWithJitter`: index k = n − 1; k = 0 and first-fast-retry → 0; else like .NET.
        case java(min: Duration, max: Duration, delta: Duration, firstFastRetry: Bool)
        /// Node `ExponentialBackOffWithJitter` as implemented: min(cMin + (2^(x−1) − 1)·U·C·(Jd − Ju), cMax), x = n.
        case node(c: Duration, cMin: Duration, cMax: Duration, ju: Double, jd: Double)
        /// C SDK retry control: whole seconds, the first retry immediate, later waits count from the previous
        /// attempt's start.
        case cSDK(mode: CMode, base: Duration, cap: Duration, maxJitterPercent: Double)
        /// Python v2: 0.01 s after a drop, then a fixed interval.
        case python(first: Duration, interval: Duration)
        /// t = min(cap, base · multiplier^(n−1)).
        case exponential(base: Duration, cap: Duration, multiplier: Double)
        /// U(0, t).
        case fullJitter(base: Duration, cap: Duration)
        /// t/2 + U(0, t/2).
        case equalJitter(base: Duration, cap: Duration)
        /// min(cap, U(base, 3 · previous)), previous starting at base.
        case decorrelatedJitter(base: Duration, cap: Duration)
        /// base, ± jitter.
        case fixed(base: Duration, jitter: Double)
        /// min(cap, base · n), ± jitter.
        case linear(base: Duration, cap: Duration, jitter: Double)
        /// table[n − 1] (the last entry repeats), ± jitter.
        case custom(table: [Duration], jitter: Double)
        /// One attempt, no retry.
        case none
        /// A library user's `RetryStrategy`.
        case strategy(AnyRetryStrategy)
    }

    /// The C SDK's `IOTHUB_CLIENT_RETRY_POLICY` modes.
    public enum CMode: String, Sendable, Hashable, CaseIterable {
        case none, immediate, interval, linear, exponential
        case exponentialJitter = "exponential-jitter"
        case random
    }

    var shape: Shape
    /// Preset or family name, as `fleetstorm policy --list` shows it.
    public let name: String
    /// Most retries before giving up (nil: no limit).
    public var maxAttempts: Int?
    /// A time limit the profile set explicitly (`retry.timeout`): it replaces the SDK's own limits, `.zero` meaning
    /// never give up. nil: the SDK's limits apply (`SDK.timeLimits`).
    public var timeout: Duration?
    /// .NET's CPU guard: attempt starts are never closer than this (the wait grows when an attempt failed fast).
    public var attemptStartFloor: Duration?
    /// C SDK: the wait counts from the previous attempt's start, so a slow failure consumes it.
    public var waitIncludesAttempt: Bool

    init(
        name: String,
        shape: Shape,
        maxAttempts: Int? = nil,
        timeout: Duration? = nil,
        attemptStartFloor: Duration? = nil,
        waitIncludesAttempt: Bool = false
    ) {
        self.name = name
        self.shape = shape
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.attemptStartFloor = attemptStartFloor
        self.waitIncludesAttempt = waitIncludesAttempt
    }

    public var description: String { name }

    /// The nominal wait before retry `attempt` (1-based), or nil when the policy gives up. `previous` is the wait
    /// chosen before the previous retry (decorrelated jitter uses it). The fast-failure floor and the C SDK's
    /// "measured from the attempt start" are applied by `wait(...)`, not here.
    public func delay(attempt n: Int, previous: Duration?, using rng: inout some RandomNumberGenerator) -> Duration? {
        precondition(n >= 1, "retry attempts are numbered from 1")
        if let maxAttempts, n > maxAttempts { return nil }
        switch shape {
        case .none:
            return nil
        case .strategy(let s):
            return s.base.delay(attempt: n, previous: previous, using: &rng)
        case .dotnet(let min, let max, let delta):
            return Self.dotnetCurve(k: n - 1, min: min, max: max, delta: delta, using: &rng)
        case .java(let min, let max, let delta, let firstFast):
            if n == 1 && firstFast { return .zero }
            return Self.dotnetCurve(k: n - 1, min: min, max: max, delta: delta, using: &rng)
        case .node(let c, let cMin, let cMax, let ju, let jd):
            let spread = Double(c.nanoseconds) * (jd - ju)
            let grow = Self.pow2(n - 1) - 1
            let u = Double.random(in: 0..<1, using: &rng)
            return Self.clamp(Double(cMin.nanoseconds) + grow * u * spread, max: cMax)
        case .cSDK(let mode, let base, let cap, let maxJitter):
            if n == 1 { return mode == .none ? nil : .zero }
            let m = n - 1  // the C SDK's retry_count after the previous attempt
            let baseS = Double(base.components.seconds)
            let capS = Double(cap.components.seconds)
            let seconds: Double
            switch mode {
            case .none: return nil
            case .immediate: seconds = 0
            case .interval: seconds = baseS
            case .linear: seconds = min(baseS * Double(m), capS)
            case .exponential: seconds = min(Self.pow2(m - 1) * baseS, capS)
            case .exponentialJitter:
                let u = Double(UInt32.random(in: 0...UInt32.max, using: &rng)) / Double(UInt32.max)
                seconds = (min(Self.pow2(m - 1) * baseS, capS) * (1 + maxJitter / 100 * u)).rounded(.down)
            case .random:
                let u = Double(UInt32.random(in: 0...UInt32.max, using: &rng)) / Double(UInt32.max)
                seconds = (baseS * u).rounded(.down)
            }
            return .seconds(Int64(saturating: seconds))
        case .python(let first, let interval):
            return n == 1 ? first : interval
        case .exponential(let base, let cap, let multiplier):
            return Self.clamp(Double(base.nanoseconds) * Self.power(multiplier, n - 1), max: cap)
        case .fullJitter(let base, let cap):
            let t = Self.exponentialTarget(base: base, cap: cap, n: n)
            return .nanoseconds(Int64(saturating: Double.random(in: 0..<1, using: &rng) * t))
        case .equalJitter(let base, let cap):
            let t = Self.exponentialTarget(base: base, cap: cap, n: n)
            return .nanoseconds(Int64(saturating: t / 2 + Double.random(in: 0..<1, using: &rng) * t / 2))
        case .decorrelatedJitter(let base, let cap):
            let lo = Double(base.nanoseconds)
            let hi = max(lo, 3 * Double((previous ?? base).nanoseconds))
            let d = hi > lo ? Double.random(in: lo..<hi, using: &rng) : lo
            return Self.clamp(d, max: cap)
        case .fixed(let base, let jitter):
            return Self.jittered(Double(base.nanoseconds), jitter, using: &rng)
        case .linear(let base, let cap, let jitter):
            let t = min(Double(base.nanoseconds) * Double(n), Double(cap.nanoseconds))
            return Self.jittered(t, jitter, using: &rng)
        case .custom(let table, let jitter):
            guard let last = table.last else { return nil }
            let d = n - 1 < table.count ? table[n - 1] : last
            return Self.jittered(Double(d.nanoseconds), jitter, using: &rng)
        }
    }

    /// The actual wait after a failed attempt: the nominal `delay`, raised by the attempt-start floor when the
    /// attempt failed fast (.NET), or reduced by the attempt's own duration (C SDK).
    public func wait(nominal: Duration, attemptDuration: Duration) -> Duration {
        var w = nominal
        if let floor = attemptStartFloor, w + attemptDuration < floor { w = floor - attemptDuration }
        if waitIncludesAttempt { w = max(.zero, w - attemptDuration) }
        return w
    }

    /// The first `count` nominal delays (nil once the policy gives up), drawn from `rng`.
    public func delays(count: Int, using rng: inout some RandomNumberGenerator) -> [Duration?] {
        var previous: Duration?
        var out: [Duration?] = []
        out.reserveCapacity(count)
        for n in 1...max(count, 1) where n <= count {
            let d = delay(attempt: n, previous: previous, using: &rng)
            out.append(d)
            if d != nil { previous = d }
        }
        return out
    }

    // MARK: - arithmetic

    static func dotnetCurve(
        k: Int,
        min: Duration,
        max: Duration,
        delta: Duration,
        using rng: inout some RandomNumberGenerator
    ) -> Duration {
        let deltaMs = Double(delta.nanoseconds) / 1e6
        let lo = Int64(saturating: (0.8 * deltaMs).rounded(.down))
        let hi = Int64(saturating: (1.2 * deltaMs).rounded(.down))
        let r = hi > lo ? Int64.random(in: lo..<hi, using: &rng) : lo
        let ms = (pow2(k) - 1) * Double(r) + Double(min.nanoseconds) / 1e6
        return clamp(ms * 1e6, max: max)
    }

    static func exponentialTarget(base: Duration, cap: Duration, n: Int) -> Double {
        Swift.min(Double(cap.nanoseconds), Double(base.nanoseconds) * pow2(n - 1))
    }

    static func pow2(_ e: Int) -> Double { power(2, e) }

    static func power(_ b: Double, _ e: Int) -> Double {
        var r = 1.0
        for _ in 0..<Swift.min(e, 1100) {
            r *= b
            if r.isInfinite { break }
        }
        return r
    }

    static func clamp(_ ns: Double, max: Duration) -> Duration {
        let capped = Swift.min(ns, Double(max.nanoseconds))
        return .nanoseconds(Int64(saturating: Swift.max(0, capped)))
    }

    static func jittered(_ ns: Double, _ jitter: Double, using rng: inout some RandomNumberGenerator) -> Duration {
        guard jitter > 0 else { return .nanoseconds(Int64(saturating: ns)) }
        let f = Double.random(in: (1 - jitter)...(1 + jitter), using: &rng)
        return .nanoseconds(Int64(saturating: Swift.max(0, ns * f)))
    }
}
