public import NIOCore

/// Writing one message's body.
extension PayloadTemplate {
    /// What a body depends on: the device, the message id, the intended send time and the device's payload seed.
    public struct Message: Sendable, Hashable {
        public var deviceID: String
        public var seq: UInt64
        /// The intended send time, milliseconds since the Unix epoch.
        public var unixMillis: Int64
        public var seed: UInt64

        public init(deviceID: String, seq: UInt64, unixMillis: Int64, seed: UInt64) {
            self.deviceID = deviceID
            self.seq = seq
            self.unixMillis = unixMillis
            self.seed = seed
        }
    }

    /// Appends `message`'s body to `buffer` (nothing else is allocated).
    public func render(_ message: Message, into buffer: inout ByteBuffer) {
        for piece in pieces {
            switch piece {
            case .text(let bytes): buffer.writeBytes(bytes)
            case .deviceID: buffer.writeString(message.deviceID)
            case .cohort: break  // replaced by the cohort's name (`forCohort`) before any message is written
            case .seq: Self.writeInteger(Int64(truncatingIfNeeded: message.seq), into: &buffer)
            case .time: Self.writeTime(message.unixMillis, into: &buffer)
            case .timeMillis: Self.writeInteger(message.unixMillis, into: &buffer)
            case .counter(let start, let step, let period):
                var k = Int64(truncatingIfNeeded: message.seq &- 1)
                if let period { k %= period }
                Self.writeInteger(start &+ k &* step, into: &buffer)
            case .int(let slot, let min, let span):
                let h = Self.mix(message.seed, slot, message.seq)
                Self.writeInteger(min &+ Int64(truncatingIfNeeded: h.multipliedFullWidth(by: span).high), into: &buffer)
            case .float(let slot, let min, let width, let decimals):
                let u = Self.unit(Self.mix(message.seed, slot, message.seq))
                Self.writeDecimal(min + u * width, decimals: decimals, into: &buffer)
            case .choice(let slot, let values):
                let h = Self.mix(message.seed, slot, message.seq)
                buffer.writeBytes(
                    values[
                        Int(
                            truncatingIfNeeded: h.multipliedFullWidth(by: UInt64(truncatingIfNeeded: values.count)).high
                        )
                    ]
                )
            case .walk(let walk):
                Self.writeDecimal(
                    walk.value(seed: message.seed, seq: message.seq),
                    decimals: walk.decimals,
                    into: &buffer
                )
            case .pad(let bytes):
                var left = bytes
                while left > 0 {
                    let n = Swift.min(left, Self.padding.count)
                    buffer.writeBytes(Self.padding[0..<n])
                    left -= n
                }
            }
        }
    }

    /// The body as bytes (tests, samples, the load-time check).
    public func rendered(_ message: Message) -> [UInt8] {
        var buffer = ByteBuffer()
        render(message, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// A device's payload seed, from the seed its retry jitter uses (a separate stream: a template changes no delay).
    public static func payloadSeed(deviceSeed: UInt64) -> UInt64 { mix(deviceSeed, 0x7061_796C_6F61_6473, 0) }

    /// One 64-bit draw for (seed, slot, n): SplitMix64's finalizer over the three.
    static func mix(_ seed: UInt64, _ slot: UInt64, _ n: UInt64) -> UInt64 {
        var z = seed &+ slot &* 0x9E37_79B9_7F4A_7C15 &+ n &* 0xD1B5_4A32_D192_ED03
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    static func unit(_ h: UInt64) -> Double { Double(h >> 11) * 0x1p-53 }

    /// A draw of mean 0 and standard deviation 1, close to normal (the sum of four uniforms, scaled).
    static func gaussian(_ h: UInt64) -> Double {
        let sum = Double(h & 0xFFFF) + Double((h >> 16) & 0xFFFF) + Double((h >> 32) & 0xFFFF) + Double(h >> 48)
        return (sum / 65536 - 2) * 3.0.squareRoot()
    }

    /// What `pad` writes, repeated: letters and digits (JSON-safe, and not one repeated byte a link could compress
    /// to nothing).
    static let padding: [UInt8] = (0..<1024).map { i in
        UInt8(ascii: "a") + UInt8(truncatingIfNeeded: (i * 7 + i / 26) % 26)
    }

    static let powersOfTen: [Int64] = [
        1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
    ]

    static func writeInteger(_ v: Int64, into buffer: inout ByteBuffer) {
        if v < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        writeDigits(v.magnitude, minimum: 1, into: &buffer)
    }

    /// `v`'s decimal digits, zero-padded to at least `minimum`, written in one access to the buffer.
    static func writeDigits(_ v: UInt64, minimum: Int, into buffer: inout ByteBuffer) {
        var count = 1
        var rest = v / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        count = max(count, minimum)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            var left = v
            for i in stride(from: count - 1, through: 0, by: -1) {
                bytes[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: left % 10)
                left /= 10
            }
            return count
        }
    }

    /// `v` rounded to `decimals` places (|v| ≤ 10^9, decimals ≤ 9: the scaled value fits an Int64 exactly).
    static func writeDecimal(_ v: Double, decimals: Int, into buffer: inout ByteBuffer) {
        let scale = powersOfTen[decimals]
        let scaled = Int64(exactly: (v * Double(scale)).rounded()) ?? 0
        if scaled < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        let m = scaled.magnitude
        writeDigits(m / scale.magnitude, minimum: 1, into: &buffer)
        guard decimals > 0 else { return }
        buffer.writeInteger(UInt8(ascii: "."))
        writeDigits(m % scale.magnitude, minimum: decimals, into: &buffer)
    }

    /// ISO 8601 in UTC with milliseconds: `2026-12-06T07:00:00.000Z` (years 0–9999).
    static func writeTime(_ unixMillis: Int64, into buffer: inout ByteBuffer) {
        let limit: Int64 = 253_402_300_799_999  // 9999-12-31T23:59:59.999Z
        let ms = min(max(unixMillis, -62_167_219_200_000), limit)
        var days = ms / 86_400_000
        var inDay = ms % 86_400_000
        if inDay < 0 {
            inDay += 86_400_000
            days -= 1
        }
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64, _ separator: UInt8) {
            writeDigits(v.magnitude, minimum: 2, into: &buffer)
            buffer.writeInteger(separator)
        }
        writeDigits(year.magnitude, minimum: 4, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        two(month, UInt8(ascii: "-"))
        two(day, UInt8(ascii: "T"))
        two(inDay / 3_600_000, UInt8(ascii: ":"))
        two(inDay / 60_000 % 60, UInt8(ascii: ":"))
        two(inDay / 1000 % 60, UInt8(ascii: "."))
        writeDigits((inDay % 1000).magnitude, minimum: 3, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "Z"))
    }
}

extension PayloadTemplate.Walk {
    /// The walk's value at message `seq`: a Brownian bridge refined level by level down to `seq`, then reflected
    /// into [min, max]. Pure in (seed, seq): a device needs no state for it and a re-sent message repeats its value.
    func value(seed: UInt64, seq: UInt64) -> Double {
        var leftT: UInt64 = 0
        var leftV = 0.0
        var rightT: UInt64 = 1 << UInt64(truncatingIfNeeded: levels)
        // The whole interval's end: variance step² × 2^levels, i.e. twice the first midpoint's spread.
        let whole = spreads.first.map { $0 * 2 } ?? step * Double(rightT).squareRoot()
        var rightV = PayloadTemplate.gaussian(PayloadTemplate.mix(seed, slot, 0)) * whole
        let n = Swift.min(seq, rightT)
        var level = 0
        while n != leftT && n != rightT {
            let midT = leftT + (rightT - leftT) / 2
            let spread = level < spreads.count ? spreads[level] : step * Double(rightT - leftT).squareRoot() / 2
            let midV = (leftV + rightV) / 2 + PayloadTemplate.gaussian(PayloadTemplate.mix(seed, slot, midT)) * spread
            if n < midT {
                (rightT, rightV) = (midT, midV)
            } else {
                (leftT, leftV) = (midT, midV)
            }
            level += 1
        }
        return reflected(start + (n == leftT ? leftV : rightV))
    }

    /// `v` folded into [min, max] as a walk reflected at both bounds.
    func reflected(_ v: Double) -> Double {
        let width = max - min
        var r = (v - min).truncatingRemainder(dividingBy: 2 * width)
        if r < 0 { r += 2 * width }
        if r > width { r = 2 * width - r }
        return Swift.min(Swift.max(min + r, min), max)
    }
}
