/// A telemetry body written per message from a text template (`telemetry.template`): literal text with variables in
/// double braces, e.g. `{"deviceId": "{{device_id}}", "seq": {{seq}}, "t": {{walk min=15 max=30 step=0.2}}}`.
///
/// Every variable's value is a pure function of the device, the message id and the intended send time (random ones of
/// the device's payload seed as well), so a message re-sent after a reconnect carries the same bytes, the same seed
/// gives the same bodies over sockets and in FleetSim, and nothing per message is stored. Parsed and checked once, when
/// the profile loads; `render` writes a body with no allocation of its own.
public struct PayloadTemplate: Sendable, Hashable {
    /// One piece of the template, in order.
    enum Piece: Sendable, Hashable {
        case text([UInt8])
        case deviceID
        /// Replaced by the cohort's name as text when a cohort's configuration is built (`forCohort`).
        case cohort
        case seq
        case time
        case timeMillis
        /// `start + ((seq - 1) mod period) × step` (period nil: no wrap).
        case counter(start: Int64, step: Int64, period: Int64?)
        case int(slot: UInt64, min: Int64, span: UInt64)
        case float(slot: UInt64, min: Double, width: Double, decimals: Int)
        case choice(slot: UInt64, values: [[UInt8]])
        case walk(Walk)
        /// `bytes` characters of filler (a diagnostic blob's bulk).
        case pad(bytes: Int)
    }

    /// A bounded Gaussian random walk per device: Brownian motion with `step` the standard deviation of one message's
    /// change, started at `start` and reflected at `min` and `max`. Its value at message `seq` is computed directly
    /// (a Brownian bridge over `levels` halvings), so it needs no state per device.
    struct Walk: Sendable, Hashable {
        var slot: UInt64
        var start: Double
        var min: Double
        var max: Double
        var step: Double
        var decimals: Int
        /// 2^levels ≥ the largest message id (set from `telemetry.messages`).
        var levels: Int = 1 {
            didSet { spreads = Self.spreads(step: step, levels: levels) }
        }
        /// Per level of the bridge, the standard deviation of its midpoint: step × √(interval) / 2, the interval
        /// halving each level (index 0: the whole 2^levels; computed once, not per message).
        var spreads: [Double] = []

        static func spreads(step: Double, levels: Int) -> [Double] {
            (0...levels).map { level in
                step * Double(UInt64(1) << UInt64(truncatingIfNeeded: levels - level)).squareRoot() / 2
            }
        }
    }

    /// What went wrong, and where in the template's text (1-based line and column).
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    /// The variables a template may use, for messages and documentation.
    public static let variables = [
        "device_id", "cohort", "seq", "time", "time_ms", "counter", "int", "float", "choice", "walk", "pad",
    ]

    /// Numbers in templates stay within ±10^15 (integers) and ±10^9 (decimals), so no arithmetic on them can
    /// overflow and every decimal prints exactly.
    static let integerLimit: Int64 = 1_000_000_000_000_000
    static let decimalLimit = 1_000_000_000.0

    /// The template's text as written.
    public let text: String
    var pieces: [Piece]

    /// Parses `text`; an error names the line and column of the first problem.
    public init(_ text: String) throws(PayloadTemplate.Error) {
        self.text = text
        var parser = TemplateParser(text)
        pieces = try parser.parse()
        guard !pieces.isEmpty else { throw Error(line: 1, column: 1, message: "the template is empty") }
    }

    /// This template for one cohort of a run: `{{cohort}}` becomes the cohort's name, and walks are sized for message
    /// ids up to `messages`.
    public func forCohort(_ name: String, messages: Int) -> PayloadTemplate {
        var out = self
        var levels = 1
        while levels < 62 && (Int64(1) << levels) < Int64(clamping: messages) { levels += 1 }
        var merged: [Piece] = []
        for piece in pieces {
            var p = piece
            switch piece {
            case .cohort: p = .text(Array(name.utf8))
            case .walk(var w):
                w.levels = levels
                p = .walk(w)
            default: break
            }
            if case .text(let more) = p, case .text(let before)? = merged.last {
                merged[merged.count - 1] = .text(before + more)
            } else {
                merged.append(p)
            }
        }
        out.pieces = merged
        return out
    }

    /// Whether the body depends on the intended send time (`time`, `time_ms`): such bodies differ between runs.
    public var usesTime: Bool {
        pieces.contains {
            switch $0 {
            case .time, .timeMillis: return true
            default: return false
            }
        }
    }

    /// The longest body this template can expand to, for device ids of at most `deviceIDBytes` bytes, cohort names
    /// of at most `cohortBytes`, and message ids up to `messages`.
    public func maxBytes(deviceIDBytes: Int, cohortBytes: Int, messages given: Int) -> Int {
        // A profile allows at most 10^8 messages per device; beyond, the counter's arithmetic could overflow.
        let messages = min(max(given, 1), 100_000_000)
        var total = 0
        for piece in pieces {
            switch piece {
            case .text(let bytes): total += bytes.count
            case .deviceID: total += deviceIDBytes
            case .cohort: total += cohortBytes
            case .seq: total += Self.digits(Int64(clamping: messages))
            case .time: total += 24
            case .timeMillis: total += 20
            case .counter(let start, let step, let period):
                // The render's arithmetic (wrapping), so the bound is of the value it writes for any piece.
                let last = start &+ ((period ?? Int64(clamping: messages)) &- 1) &* step
                total += max(Self.digits(start), Self.digits(last))
            case .int(_, let min, let span):
                total += max(Self.digits(min), Self.digits(min + Int64(clamping: span) - 1))
            case .float(_, let min, let width, let decimals):
                total += max(Self.decimalWidth(min, decimals), Self.decimalWidth(min + width, decimals))
            case .choice(_, let values): total += values.map(\.count).max() ?? 0
            case .walk(let w): total += max(Self.decimalWidth(w.min, w.decimals), Self.decimalWidth(w.max, w.decimals))
            case .pad(let bytes): total += bytes
            }
        }
        return total
    }

    /// Characters to print `v` (sign included).
    static func digits(_ v: Int64) -> Int {
        var n = v < 0 ? 2 : 1
        var rest = v.magnitude / 10
        while rest > 0 {
            n += 1
            rest /= 10
        }
        return n
    }

    /// At most how many characters `v` takes with `decimals` places: sign, digits (one more for a carry when
    /// rounding), point and decimals.
    static func decimalWidth(_ v: Double, _ decimals: Int) -> Int {
        1 + digits(Int64(exactly: v.magnitude.rounded(.up) + 1) ?? Int64.max) + (decimals > 0 ? decimals + 1 : 0)
    }
}
