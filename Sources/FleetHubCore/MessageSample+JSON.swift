internal import FleetCore
import Foundation

/// The sample as JSON lines, one message per line: what `--sample FILE` writes.
extension MessageSample {
    /// Every first message (`"sample": "first"`, in arrival order), then each device's last (`"sample": "last"`, by
    /// device id). Fields: `device`, `mid` (the `$.mid`, or null), `received_ms` (from the start), `properties` (the
    /// topic's property bag, decoded), `bytes` (the body's whole size), `body` (as text when it is UTF-8, else
    /// `body_base64`), `truncated` when the body was longer than the sample keeps.
    public func jsonLines() -> String {
        let (first, last, _) = contents
        var out = ""
        for (kind, messages) in [("first", first), ("last", last)] {
            for m in messages {
                var line = "{\"sample\":\"\(kind)\",\"device\":\(TextQuoting.doubleQuoted(m.deviceID))"
                line += ",\"mid\":" + (m.messageID.map(String.init) ?? "null")
                line += ",\"received_ms\":\(m.received.nanoseconds / 1_000_000)"
                line += ",\"properties\":{"
                line += Self.properties(m.properties).map {
                    "\(TextQuoting.doubleQuoted($0.0)):\(TextQuoting.doubleQuoted($0.1))"
                }
                .joined(separator: ",")
                line += "},\"bytes\":\(m.bodyBytes)"
                if let text = String(validating: m.body, as: UTF8.self) {
                    line += ",\"body\":" + TextQuoting.doubleQuoted(text)
                } else {
                    line += ",\"body_base64\":\"" + Data(m.body).base64EncodedString() + "\""
                }
                if m.body.count < m.bodyBytes { line += ",\"truncated\":true" }
                out += line + "}\n"
            }
        }
        return out
    }

    /// `k=v&k2=v2`, percent-decoded (a pair that does not decode is kept as sent).
    static func properties(_ bag: String) -> [(String, String)] {
        bag.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]) : ""
            return (key.removingPercentEncoding ?? key, value.removingPercentEncoding ?? value)
        }
    }
}
