public import FleetCore

/// IoT Hub's traffic shaping for one throttle (reference §5.2): a token bucket absorbs bursts; beyond it requests
/// wait at the limit rate (latency grows); when the wait would exceed the queue bound they are rejected.
/// Pure: callers pass `now`.
public struct RateShaper: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        case now
        case after(Duration)
        case reject

        /// Two throttles on one request (a tier's and a throttle fault's): the stricter answer.
        public func combined(with other: Decision) -> Decision {
            switch (self, other) {
            case (.reject, _), (_, .reject): .reject
            case (.now, let x), (let x, .now): x
            case (.after(let x), .after(let y)): .after(max(x, y))
            }
        }
    }

    /// Requests per second at the limit.
    public let rate: Double
    /// Requests a burst may take at once before shaping starts.
    public let burst: Double
    /// The longest a request is held before it is rejected instead.
    public let maxDelay: Duration
    private var tokens: Double
    private var last: Instant
    /// When the next shaped request is released (requests wait in order).
    private var nextRelease: Instant

    public init(rate: Double, burst: Double, maxDelay: Duration, start: Instant = .zero) {
        precondition(rate > 0, "RateShaper rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self.maxDelay = maxDelay
        self.tokens = max(1, burst)
        self.last = start
        self.nextRelease = start
    }

    public mutating func admit(now: Instant) -> Decision {
        let elapsed = Double((now - last).nanoseconds) / 1e9
        if elapsed > 0 {
            tokens = min(burst, tokens + elapsed * rate)
            last = now
        }
        if tokens >= 1 && nextRelease <= now {
            tokens -= 1
            return .now
        }
        // Shaped: released one per 1/rate after the previous shaped request.
        let interval = Duration.nanoseconds(Int64(1e9 / rate))
        let release = max(nextRelease, now) + interval
        let wait = release - now
        guard wait <= maxDelay else { return .reject }
        nextRelease = release
        return .after(wait)
    }
}

/// IoT Hub tiers and their new-connection and D2C-send throttles (reference §5.1).
public struct HubQuotas: Sendable, Hashable {
    public enum Tier: String, Sendable, Hashable, CaseIterable {
        case free = "F1"
        case b1 = "B1"
        case s1 = "S1"
        case b2 = "B2"
        case s2 = "S2"
        case b3 = "B3"
        case s3 = "S3"
    }

    public var tier: Tier
    public var units: Int
    /// Seconds of limit-rate traffic a burst may take before shaping starts.
    public var burstSeconds: Double = 60
    /// The longest a CONNACK or PUBACK is held before the request is rejected.
    public var maxDelay: Duration = .seconds(30)

    public init(tier: Tier, units: Int) {
        self.tier = tier
        self.units = max(1, units)
    }

    /// New connections per second and D2C sends per second (the table gives the same rate for both).
    public var rate: Double {
        let u = Double(units)
        switch tier {
        case .free, .b1, .s1: return max(100, 12 * u)
        case .b2, .s2: return 120 * u
        case .b3, .s3: return 6000 * u
        }
    }

    /// The throttles a scenario asks for (nil when it names no tier).
    public init?(_ quota: Scenario.Quota?) {
        guard let quota, let tier = Tier(rawValue: quota.tier) else { return nil }
        self.init(tier: tier, units: quota.units)
        burstSeconds = quota.burstSeconds
        maxDelay = quota.maxShapingDelay
        if let daily = quota.dailyMessages { dailyMessages = daily }
    }

    /// Messages a day (reference §5.1), counted in meter units of 4 KB (0.5 KB on Free). Overridable for tests and
    /// rehearsals of the 403002 day.
    public var dailyMessages: UInt64 {
        get {
            if let dailyOverride { return dailyOverride }
            let u = UInt64(units)
            switch tier {
            case .free: return 8_000
            case .b1, .s1: return 400_000 * u
            case .b2, .s2: return 6_000_000 * u
            case .b3, .s3: return 300_000_000 * u
            }
        }
        set { dailyOverride = newValue }
    }
    private var dailyOverride: UInt64?

    /// Meter units a message of `bytes` payload counts for against the daily quota.
    public func meterUnits(bytes: Int) -> UInt64 {
        let meter = tier == .free ? 512 : 4096
        return UInt64(max(1, (bytes + meter - 1) / meter))
    }

    /// Hub processes sharing one address (`fleetstorm hub --workers N`): each enforces 1/N of the rate, the burst
    /// and the daily quota on the connections the kernel gives it (SO_REUSEPORT spreads them evenly), so the N
    /// together enforce the tier's numbers.
    public var workers: Int = 1

    /// The daily quota this process enforces (its 1/`workers` share).
    public var dailyMessagesPerWorker: UInt64 { max(1, dailyMessages / UInt64(max(1, workers))) }

    /// Twin reads (GETs) per second (reference §5.1): a throttle of their own, apart from D2C sends.
    public var twinReadRate: Double {
        let u = Double(units)
        switch tier {
        case .free, .b1, .s1: return 100
        case .b2, .s2: return max(100, 10 * u)
        case .b3, .s3: return 500 * u
        }
    }

    /// Twin updates (reported-property PATCHes) per second (reference §5.1).
    public var twinUpdateRate: Double {
        let u = Double(units)
        switch tier {
        case .free, .b1, .s1: return 50
        case .b2, .s2: return max(50, 5 * u)
        case .b3, .s3: return 250 * u
        }
    }

    /// The shaper of one throttle at `rate` (nil: the new-connection and D2C rate), with the tier's burst and queue.
    public func shaper(rate: Double? = nil) -> RateShaper {
        let share = (rate ?? self.rate) / Double(max(1, workers))
        return RateShaper(rate: share, burst: share * burstSeconds, maxDelay: maxDelay)
    }
}
