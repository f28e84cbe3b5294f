/// Text written back for other readers.
public enum TextQuoting {
    /// `s` as a double-quoted string that JSON and YAML both read back unchanged: backslash, quote and control characters
    /// escaped (`\n`, `\r`, `\t`, else `\u00XX`). A template's newlines survive an effective profile, a body a sample line.
    public static func doubleQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
