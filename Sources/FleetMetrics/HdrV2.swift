internal import CZlib
public import Histogram

/// HdrHistogram's standard V2 compressed encoding (what `encodeIntoCompressedByteBuffer` writes in Java, C and
/// Python), written from the library's public iteration API so tools in other languages read our histograms:
///
///   compressed:   int32 cookie 0x1c849314 · int32 length · zlib(deflate) of the uncompressed encoding
///   uncompressed: int32 cookie 0x1c849313 · int32 payload length · int32 normalizing offset (0) ·
///                 int32 significant digits · int64 lowest · int64 highest · float64 conversion ratio (1.0) ·
///                 counts as ZigZag LEB128, a run of k empty buckets written as -k
///
/// All integers big-endian.
public enum HdrV2 {
    static let encodingCookie: UInt32 = 0x1c84_9303 | 0x10
    static let compressedCookie: UInt32 = 0x1c84_9304 | 0x10

    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case compression(Int32)
        /// Not HdrHistogram V2 bytes, or damaged ones; the text says which part.
        case malformed(String)
        /// A histogram of another layout than FleetStorm's (1 µs .. 1 h, 3 digits): it cannot be merged.
        case foreignLayout

        public var description: String {
            switch self {
            case .compression(let code): "zlib error \(code)"
            case .malformed(let what): "not an HdrHistogram V2 encoding (\(what))"
            case .foreignLayout: "an HdrHistogram with another layout than FleetStorm's"
            }
        }
    }

    /// The compressed V2 bytes of `h`.
    public static func encode(_ h: Histogram<UInt64>) throws(Failure) -> [UInt8] {
        try compress(uncompressed(h))
    }

    /// The compressed form of an uncompressed V2 encoding `raw`.
    static func compress(_ raw: [UInt8]) throws(Failure) -> [UInt8] {
        var destinationLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(destinationLength))
        let status = raw.withUnsafeBufferPointer { source in
            compressed.withUnsafeMutableBufferPointer { destination in
                compress2(
                    destination.baseAddress,
                    &destinationLength,
                    source.baseAddress,
                    uLong(source.count),
                    Z_DEFAULT_COMPRESSION
                )
            }
        }
        guard status == Z_OK else { throw .compression(status) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + Int(destinationLength))
        put32(compressedCookie, into: &out)
        put32(UInt32(destinationLength), into: &out)
        out += compressed[..<Int(destinationLength)]
        return out
    }

    /// The most counts one histogram may hold when read from outside: 2^62, so that adding two decoded histograms (a
    /// merge) cannot overflow, and any count fits an `Int64` for rendering.
    public static let maxTotalCount: UInt64 = 1 << 62

    /// Reads compressed V2 bytes back into a histogram of FleetStorm's layout. Every length and count is bounded by
    /// the layout before anything is allocated or recorded: damaged bytes throw `Failure`, never trap.
    public static func decode(_ bytes: [UInt8]) throws(Failure) -> Histogram<UInt64> {
        guard bytes.count >= 8, get32(bytes, 0) == compressedCookie else { throw .malformed("cookie") }
        let length = Int(get32(bytes, 4))
        guard length > 0, bytes.count >= 8 + length else { throw .malformed("length") }
        // FleetStorm's layout has `slots` counts; each takes at most 9 bytes (a zero run takes fewer), so a valid
        // inflated encoding is never longer than this. A longer one is refused without allocating for it.
        let layout = Layout(lowest: LatencyLayout.lowest, digits: Int(LatencyLayout.digits.rawValue))
        let slots = layout.countsIndex(LatencyLayout.highest) + 1
        let capacity = 40 + 9 * slots
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = uLong(capacity)
        let status = bytes.withUnsafeBufferPointer { source in
            buffer.withUnsafeMutableBufferPointer { destination in
                uncompress(destination.baseAddress, &size, source.baseAddress! + 8, uLong(length))
            }
        }
        if status == Z_BUF_ERROR && Int(size) == capacity { throw .malformed("inflated size beyond the layout's") }
        guard status == Z_OK else { throw .compression(status) }
        let raw = buffer[..<Int(size)]
        guard raw.count >= 40, get32(raw, 0) == encodingCookie else { throw .malformed("inner cookie") }
        let payloadLength = Int(get32(raw, 4))
        let digits = Int(get32(raw, 12))
        let lowest = get64(raw, 16)
        let highest = get64(raw, 24)
        guard lowest == LatencyLayout.lowest, highest == LatencyLayout.highest,
            digits == Int(LatencyLayout.digits.rawValue)
        else { throw .foreignLayout }
        guard raw.count >= 40 + payloadLength else { throw .malformed("payload length") }
        var h = LatencyLayout.make()
        var i = 40
        var index = 0
        var total: UInt64 = 0
        let end = 40 + payloadLength
        while i < end {
            var u: UInt64 = 0
            var shift: UInt64 = 0
            var byte: UInt8 = 0x80
            var n = 0
            while byte & 0x80 != 0 {
                guard i < end else { throw .malformed("truncated count") }
                byte = raw[raw.startIndex + i]
                i += 1
                n += 1
                if n == 9 {
                    u |= UInt64(byte) << 56
                    break
                }
                u |= UInt64(byte & 0x7F) << shift
                shift += 7
            }
            let v = Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
            if v < 0 {
                // A run of empty slots; `magnitude` also holds Int64.min's.
                guard v.magnitude <= UInt64(slots - index) else { throw .malformed("empty run past the last slot") }
                index += Int(v.magnitude)
            } else {
                guard index < slots else { throw .malformed("count past the last slot") }
                if v > 0 {
                    let count = UInt64(v)
                    guard count <= maxTotalCount - total else { throw .malformed("total count beyond 2^62") }
                    total += count
                    guard h.record(layout.value(atIndex: index), count: count) else { throw .malformed("count index") }
                }
                index += 1
            }
        }
        return h
    }

    static func get32<C: RandomAccessCollection<UInt8>>(_ b: C, _ at: Int) -> UInt32 where C.Index == Int {
        (0..<4).reduce(UInt32(0)) { ($0 << 8) | UInt32(b[b.startIndex + at + $1]) }
    }

    static func get64<C: RandomAccessCollection<UInt8>>(_ b: C, _ at: Int) -> UInt64 where C.Index == Int {
        (0..<8).reduce(UInt64(0)) { ($0 << 8) | UInt64(b[b.startIndex + at + $1]) }
    }

    /// The uncompressed V2 encoding.
    public static func uncompressed(_ h: Histogram<UInt64>) -> [UInt8] {
        let layout = Layout(lowest: h.lowestDiscernibleValue, digits: Int(h.numberOfSignificantValueDigits.rawValue))
        var counts: [(index: Int, count: UInt64)] = []
        for v in h.recordedValues() where v.count > 0 {
            counts.append((layout.countsIndex(v.value), UInt64(v.count)))
        }
        counts.sort { $0.index < $1.index }
        var payload: [UInt8] = []
        var next = 0
        for (index, count) in counts {
            if index > next { putZigZag(-Int64(index - next), into: &payload) }
            putZigZag(Int64(min(count, UInt64(Int64.max))), into: &payload)
            next = index + 1
        }
        var out: [UInt8] = []
        out.reserveCapacity(40 + payload.count)
        put32(encodingCookie, into: &out)
        put32(UInt32(payload.count), into: &out)
        put32(0, into: &out)
        put32(UInt32(layout.digits), into: &out)
        put64(h.lowestDiscernibleValue, into: &out)
        put64(h.highestTrackableValue, into: &out)
        put64((1.0 as Double).bitPattern, into: &out)
        return out + payload
    }

    /// HdrHistogram's bucket layout: which slot of the counts array a value falls in.
    struct Layout {
        let digits: Int
        let unitMagnitude: Int
        let subBucketHalfCountMagnitude: Int
        let subBucketHalfCount: Int
        let subBucketMask: UInt64
        let leadingZeroCountBase: Int

        init(lowest: UInt64, digits: Int) {
            self.digits = digits
            var largest = 2
            for _ in 0..<digits { largest *= 10 }
            let subBucketCountMagnitude = Int(Double(largest).log2Ceil)
            subBucketHalfCountMagnitude = max(subBucketCountMagnitude, 1) - 1
            unitMagnitude = 63 - lowest.leadingZeroBitCount
            let subBucketCount = 1 << (subBucketHalfCountMagnitude + 1)
            subBucketHalfCount = subBucketCount / 2
            subBucketMask = UInt64(subBucketCount - 1) << UInt64(unitMagnitude)
            leadingZeroCountBase = 64 - unitMagnitude - subBucketHalfCountMagnitude - 1
        }

        /// The lowest value that falls in counts slot `index`.
        func value(atIndex index: Int) -> UInt64 {
            var bucket = (index >> subBucketHalfCountMagnitude) - 1
            var subBucket = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
            if bucket < 0 {
                subBucket -= subBucketHalfCount
                bucket = 0
            }
            return UInt64(subBucket) << UInt64(bucket + unitMagnitude)
        }

        func countsIndex(_ value: UInt64) -> Int {
            let bucket = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
            let subBucket = Int(value >> UInt64(bucket + unitMagnitude))
            return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
        }
    }

    static func put32(_ v: UInt32, into out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    static func put64(_ v: UInt64, into out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// ZigZag then LEB128 (at most 9 bytes: the ninth carries 8 bits, as HdrHistogram's variant does).
    static func putZigZag(_ v: Int64, into out: inout [UInt8]) {
        var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        for _ in 0..<8 {
            if u < 0x80 {
                out.append(UInt8(u))
                return
            }
            out.append(UInt8(u & 0x7F) | 0x80)
            u >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: u))
    }
}

extension Double {
    /// ceil(log2(self)) for positive values.
    fileprivate var log2Ceil: Double {
        var p = 1.0
        var n = 0.0
        while p < self {
            p *= 2
            n += 1
        }
        return n
    }
}
