/// The one checked conversion for numbers that come from outside (a profile, a flag, a packet, a token, a report
/// file) on their way to an integer. Swift's `Int64(someDouble)` traps on NaN, infinities and values past the type's
/// range; these saturate instead, so a damaged input ends in a refusal or a clamped figure, never a dead process.
extension FixedWidthInteger {
    /// `value` rounded toward zero, clamped to `min ... max`; NaN becomes zero.
    @inlinable
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value <= Double(Self.min) {
            self = .min
        } else if value >= Double(Self.max) {
            // Double(Int64.max) rounds up to 2^63, so `>=` also catches the values that would round past `max`.
            self = .max
        } else {
            self.init(value)
        }
    }

    /// `a + b`, clamped to the type's range instead of trapping on overflow.
    @inlinable
    public static func saturatingSum(_ a: Self, _ b: Self) -> Self {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard overflow else { return sum }
        return b > 0 ? .max : .min
    }

    /// `a * b`, clamped to the type's range instead of trapping on overflow.
    @inlinable
    public static func saturatingProduct(_ a: Self, _ b: Self) -> Self {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        guard overflow else { return product }
        return (a < 0) == (b < 0) ? .max : .min
    }
}

extension Duration {
    /// `seconds` as a duration, clamped to ±2^63 nanoseconds (about ±292 years); NaN is zero.
    @inlinable
    public static func seconds(saturating seconds: Double) -> Duration {
        .nanoseconds(Int64(saturating: seconds * 1e9))
    }
}
