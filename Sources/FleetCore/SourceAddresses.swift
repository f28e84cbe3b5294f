/// `fleet.source_addresses` items: single addresses (`127.0.0.2`, `::1`) or IPv4 ranges (`127.0.0.2-127.0.0.40`,
/// both ends included), expanded in order.
public enum SourceAddresses {
    /// The most addresses a list may expand to (each one gives ~28,000 more ports per hub address).
    public static let maxCount = 65_536

    /// The expanded list, or why item `n` (1-based) is wrong.
    public static func expand(_ items: [String]) -> Result<[String], ItemError> {
        var out: [String] = []
        for (i, item) in items.enumerated() {
            let text = item.trimmingSpaces
            if let dash = text.firstIndex(of: "-") {
                let (a, b) = (
                    String(text[..<dash]).trimmingSpaces, String(text[text.index(after: dash)...]).trimmingSpaces
                )
                guard let low = ipv4(a), let high = ipv4(b) else {
                    return .failure(
                        ItemError(
                            item: i + 1,
                            message: "\"\(item)\" is not a range of IPv4 addresses like 127.0.0.2-127.0.0.40"
                        )
                    )
                }
                guard low <= high else {
                    return .failure(
                        ItemError(item: i + 1, message: "\"\(item)\": the range's first address is above its last")
                    )
                }
                guard out.count + Int(high - low) + 1 <= maxCount else {
                    return .failure(
                        ItemError(item: i + 1, message: "\"\(item)\": more than \(maxCount) addresses in all")
                    )
                }
                for v in low...high { out.append(dotted(v)) }
            } else {
                guard ipv4(text) != nil || (text.contains(":") && text.allSatisfy { $0.isHexDigit || $0 == ":" })
                else { return .failure(ItemError(item: i + 1, message: "\"\(item)\" is not an IP address")) }
                out.append(text)
            }
        }
        return .success(out)
    }

    /// Which item is wrong (1-based) and why.
    public struct ItemError: Error, Sendable {
        public var item: Int
        public var message: String
    }

    static func ipv4(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        return v
    }

    static func dotted(_ v: UInt32) -> String {
        "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)"
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
