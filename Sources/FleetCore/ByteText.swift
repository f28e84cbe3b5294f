/// Reading ASCII markers in UTF-8 bytes, for the hub's per-message paths (topic rules, message ids): no allocation,
/// no walk over Characters, byte comparison as MQTT compares topics.
public enum ByteText {
    /// True when `bytes[i...]` starts with `literal`.
    public static func has(_ literal: StaticString, in bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        has(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount), in: bytes, at: i)
    }

    /// True when `bytes[i...]` starts with `prefix`.
    public static func has(
        _ prefix: UnsafeBufferPointer<UInt8>,
        in bytes: UnsafeBufferPointer<UInt8>,
        at i: Int
    ) -> Bool {
        guard i >= 0, bytes.count - i >= prefix.count else { return false }
        var k = 0
        while k < prefix.count {
            if bytes[i + k] != prefix[k] { return false }
            k += 1
        }
        return true
    }

    /// The index just past the first occurrence of `literal` in `bytes`, or nil.
    public static func end(of literal: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = literal.utf8CodeUnitCount
        guard n > 0 else { return 0 }
        let first = literal.utf8Start.pointee
        var i = 0
        while i + n <= bytes.count {
            if bytes[i] == first && has(literal, in: bytes, at: i) { return i + n }
            i += 1
        }
        return nil
    }

    /// `bytes[from..<to]` as a decimal UInt64, as `UInt64(_: String)` reads it: nil when empty, not all digits, or
    /// too large. A leading sign (rare in a message id) is left to the standard parser.
    public static func decimal(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> UInt64? {
        guard from < to else { return nil }
        if bytes[from] == UInt8(ascii: "+") || bytes[from] == UInt8(ascii: "-") {
            return UInt64(String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self))
        }
        var value: UInt64 = 0
        for i in from..<to {
            let digit = bytes[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            guard !o1 && !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// Runs `body` over the string's UTF-8 bytes (in place for native strings).
    public static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var text = text
        return text.withUTF8(body)
    }
}
