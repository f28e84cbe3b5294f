/// A point on a monotonic timeline, in nanoseconds from an arbitrary origin (the run's start, or a virtual clock).
/// Core logic never reads a clock: callers pass `now`.
public struct Instant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .exactly(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String { "t+\(Duration.nanoseconds(nanoseconds).formatted)" }
}

extension Duration {
    /// `.nanoseconds(ns)` as one full-width multiply (the attoseconds' 128 bits as two halves; exact for every
    /// Int64), not the standard library's general 128-bit arithmetic.
    @inlinable public static func exactly(nanoseconds ns: Int64) -> Duration {
        let (high, low) = ns.multipliedFullWidth(by: 1_000_000_000)
        return Duration(_high: high, low: low)
    }

    /// The duration as whole nanoseconds, truncated toward zero (saturating at Int64 bounds).
    @inlinable public var nanoseconds: Int64 {
        // Fast path: a duration within ±9.2 s is a 64-bit count of attoseconds (most waits here are); one 64-bit
        // division instead of 128-bit arithmetic.
        let low = Int64(bitPattern: _low)
        if (_high == 0 && low >= 0) || (_high == -1 && low < 0) { return low / 1_000_000_000 }
        // Within ±292 years the quotient fits in 64 bits: one full-width division (x86's 128-by-64 `idiv`), which
        // truncates toward zero as `components` does. |attoseconds| < 2^63 × 10^9 exactly when the high half is
        // within ±(10^9 / 2).
        if _high >= -500_000_000 && _high < 500_000_000 {
            return Int64(1_000_000_000).dividingFullWidth((high: _high, low: _low)).quotient
        }
        return _high < 0 ? .min : .max
    }

    /// Compact human form: `250ms`, `10s`, `1.5s`, `5m`, `2h`, `120µs`.
    public var formatted: String {
        let ns = nanoseconds
        let a = abs(Double(ns))
        let sign = ns < 0 ? "-" : ""
        func trim(_ v: Double) -> String {
            let thousandths = Int64((v * 1000).rounded())
            let whole = thousandths / 1000
            var frac = thousandths % 1000
            guard frac != 0 else { return "\(whole)" }
            var digits = 3
            while frac % 10 == 0 {
                frac /= 10
                digits -= 1
            }
            let f = String(frac)
            return "\(whole)." + String(repeating: "0", count: digits - f.count) + f
        }
        if a >= 3_600_000_000_000 && ns % 3_600_000_000_000 == 0 { return sign + trim(a / 3.6e12) + "h" }
        if a >= 60_000_000_000 && ns % 60_000_000_000 == 0 { return sign + trim(a / 6e10) + "m" }
        if a >= 1e9 { return sign + trim(a / 1e9) + "s" }
        if a >= 1e6 { return sign + trim(a / 1e6) + "ms" }
        if a >= 1e3 { return sign + trim(a / 1e3) + "µs" }
        return sign + "\(Int64(a))ns"
    }

    /// Parses `250ms`, `10s`, `1.5s`, `5m`, `2h`, `100us`, `0`. Returns nil for anything else (`10x`, `-1s`).
    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingWhitespace
        if t == "0" { return .zero }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 6e10), ("h", 3.6e12),
        ]
        for (suffix, scale) in units.sorted(by: { $0.0.count > $1.0.count }) where t.hasSuffix(suffix) {
            let number = String(t.dropLast(suffix.count))
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }),
                let value = Double(number), value.isFinite, value >= 0, value * scale < 9.2e18
            else { return nil }
            return .nanoseconds(Int64((value * scale).rounded()))
        }
        return nil
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
