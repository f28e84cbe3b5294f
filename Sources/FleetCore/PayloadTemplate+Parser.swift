/// Reads a template's text into pieces, naming the line and column of the first problem.
struct TemplateParser {
    typealias Piece = PayloadTemplate.Piece
    typealias Failure = PayloadTemplate.Error

    let bytes: [UInt8]
    var index = 0
    var line = 1
    var column = 1
    /// Random variables get their own stream each, in order of appearance.
    var slots: UInt64 = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    private static let open = UInt8(ascii: "{")
    private static let close = UInt8(ascii: "}")

    mutating func parse() throws(Failure) -> [Piece] {
        var pieces: [Piece] = []
        var text: [UInt8] = []
        while index < bytes.count {
            if bytes[index] == Self.open && index + 1 < bytes.count && bytes[index + 1] == Self.open {
                if !text.isEmpty {
                    pieces.append(.text(text))
                    text = []
                }
                pieces.append(try variable())
            } else {
                text.append(bytes[index])
                advance()
            }
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        return pieces
    }

    /// Moves past one byte, keeping the line and column (columns count characters, not UTF-8 bytes).
    private mutating func advance() {
        let b = bytes[index]
        index += 1
        if b == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if b & 0xC0 != 0x80 {
            column += 1
        }
    }

    private func failure(_ message: String, line: Int, column: Int) -> Failure {
        Failure(line: line, column: column, message: message)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

    /// `{{name key=value ...}}`, at `index` (on the first brace).
    private mutating func variable() throws(Failure) -> Piece {
        let (startLine, startColumn) = (line, column)
        advance()
        advance()
        var words: [(text: String, line: Int, column: Int)] = []
        while true {
            while index < bytes.count && Self.isSpace(bytes[index]) { advance() }
            guard index < bytes.count, bytes[index] != UInt8(ascii: "\n") else {
                throw failure("{{ is not closed with }} on its line", line: startLine, column: startColumn)
            }
            if bytes[index] == Self.close && index + 1 < bytes.count && bytes[index + 1] == Self.close {
                advance()
                advance()
                break
            }
            let (wordLine, wordColumn) = (line, column)
            var word: [UInt8] = []
            while index < bytes.count && !Self.isSpace(bytes[index]) && bytes[index] != UInt8(ascii: "\n")
                && !(bytes[index] == Self.close && index + 1 < bytes.count && bytes[index + 1] == Self.close)
            {
                word.append(bytes[index])
                advance()
            }
            words.append((String(decoding: word, as: UTF8.self), wordLine, wordColumn))
        }
        guard let name = words.first else {
            throw failure("an empty {{}}: name a variable (\(Self.known))", line: startLine, column: startColumn)
        }
        var arguments = try Arguments(words.dropFirst(), variable: name.text, line: startLine, column: startColumn)
        let piece = try build(name, &arguments)
        try arguments.finish()
        return piece
    }

    private static var known: String { PayloadTemplate.variables.joined(separator: ", ") }

    private mutating func build(
        _ name: (text: String, line: Int, column: Int),
        _ a: inout Arguments
    ) throws(Failure) -> Piece {
        let limit = PayloadTemplate.integerLimit
        switch name.text {
        case "device_id": return .deviceID
        case "cohort": return .cohort
        case "seq": return .seq
        case "time": return .time
        case "time_ms": return .timeMillis
        case "counter":
            let start = try a.integer("start", limit: limit) ?? 0
            let step = try a.integer("step", limit: 1_000_000) ?? 1
            guard step >= 1 else { throw a.failure("step", "must be at least 1, got \(step)") }
            var period: Int64?
            if let max = try a.integer("max", limit: limit) {
                guard max >= start else { throw a.failure("max", "must be at least start (\(start)), got \(max)") }
                period = (max - start) / step + 1
            }
            return .counter(start: start, step: step, period: period)
        case "int":
            let min = try a.requiredInteger("min", limit: limit)
            let max = try a.requiredInteger("max", limit: limit)
            guard max >= min else { throw a.failure("max", "must be at least min (\(min)), got \(max)") }
            return .int(slot: nextSlot(), min: min, span: (max - min).magnitude + 1)
        case "float":
            let min = try a.requiredDecimal("min")
            let max = try a.requiredDecimal("max")
            let decimals = try a.decimals()
            guard max >= min else { throw a.failure("max", "must be at least min (\(min)), got \(max)") }
            return .float(slot: nextSlot(), min: min, width: max - min, decimals: decimals)
        case "choice":
            guard let list = a.take("values") else { throw a.missing("values") }
            let values = list.text.split(separator: "|", omittingEmptySubsequences: false).map { Array($0.utf8) }
            guard !values.contains(where: \.isEmpty) else {
                throw failure("values: an empty choice (write values=a|b|c)", line: list.line, column: list.column)
            }
            return .choice(slot: nextSlot(), values: values)
        case "walk":
            let min = try a.requiredDecimal("min")
            let max = try a.requiredDecimal("max")
            guard max > min else { throw a.failure("max", "must be more than min (\(min)), got \(max)") }
            let step = try a.requiredDecimal("step")
            guard step > 0 else { throw a.failure("step", "must be more than 0, got \(step)") }
            let start = try a.decimal("start") ?? (min + max) / 2
            guard start >= min && start <= max else {
                throw a.failure("start", "must lie between min (\(min)) and max (\(max)), got \(start)")
            }
            let decimals = try a.decimals()
            return .walk(
                PayloadTemplate.Walk(slot: nextSlot(), start: start, min: min, max: max, step: step, decimals: decimals)
            )
        case "pad":
            let bytes = try a.requiredInteger("bytes", limit: 256 * 1024)
            guard bytes >= 0 else { throw a.failure("bytes", "must be at least 0, got \(bytes)") }
            return .pad(bytes: Int(truncatingIfNeeded: bytes))
        default:
            throw failure(
                "unknown variable \"\(name.text)\" (known: \(Self.known))",
                line: name.line,
                column: name.column
            )
        }
    }

    private mutating func nextSlot() -> UInt64 {
        slots += 1
        return slots
    }
}

/// A variable's `key=value` arguments: each may be given once, and every one must be used.
struct Arguments {
    typealias Failure = PayloadTemplate.Error
    private var given: [(key: String, value: String, line: Int, column: Int)] = []
    private let variable: String
    /// Where the variable's `{{` is (named when a required argument is missing).
    private let line: Int
    private let column: Int

    init(
        _ words: ArraySlice<(text: String, line: Int, column: Int)>,
        variable: String,
        line: Int,
        column: Int
    ) throws(Failure) {
        self.variable = variable
        self.line = line
        self.column = column
        for word in words {
            guard let eq = word.text.firstIndex(of: "="), eq != word.text.startIndex else {
                throw Failure(
                    line: word.line,
                    column: word.column,
                    message: "\(variable): expected key=value, got \"\(word.text)\""
                )
            }
            let key = String(word.text[..<eq])
            guard !given.contains(where: { $0.key == key }) else {
                throw Failure(line: word.line, column: word.column, message: "\(variable): \(key) is given twice")
            }
            let value = String(word.text[word.text.index(after: eq)...])
            // The value's column: after the key and the `=`.
            given.append((key, value, word.line, word.column + key.count + 1))
        }
    }

    /// A problem with `key`'s value (read already): named at the value.
    func failure(_ key: String, _ message: String) -> Failure {
        let at = read.first { $0.key == key }
        return Failure(
            line: at?.line ?? line,
            column: at?.column ?? column,
            message: "\(variable) \(key): \(message)"
        )
    }

    /// A required argument is absent: named at the variable.
    func missing(_ key: String) -> Failure {
        let examples = [
            "min": "min=0", "max": "max=100", "step": "step=0.1", "values": "values=on|off|idle", "bytes": "bytes=1024",
        ]
        return Failure(
            line: line,
            column: column,
            message: "\(variable) needs \(key)= (e.g. {{\(variable) \(examples[key] ?? key + "=...")}})"
        )
    }

    /// The value of `key`, consumed.
    mutating func take(_ key: String) -> (text: String, line: Int, column: Int)? {
        guard let i = given.firstIndex(where: { $0.key == key }) else { return nil }
        let g = given.remove(at: i)
        read.append(g)
        return (g.value, g.line, g.column)
    }
    private var read: [(key: String, value: String, line: Int, column: Int)] = []

    mutating func requiredInteger(_ key: String, limit: Int64) throws(Failure) -> Int64 {
        guard let v = try integer(key, limit: limit) else { throw missing(key) }
        return v
    }

    mutating func requiredDecimal(_ key: String) throws(Failure) -> Double {
        guard let v = try decimal(key) else { throw missing(key) }
        return v
    }

    mutating func integer(_ key: String, limit: Int64) throws(Failure) -> Int64? {
        guard let v = take(key) else { return nil }
        guard let n = Int64(v.text), n.magnitude <= limit.magnitude else {
            throw Failure(
                line: v.line,
                column: v.column,
                message: "\(variable) \(key): expected a whole number within ±\(limit), got \"\(v.text)\""
            )
        }
        return n
    }

    mutating func decimal(_ key: String) throws(Failure) -> Double? {
        guard let v = take(key) else { return nil }
        guard let n = Double(v.text), n.isFinite, n.magnitude <= PayloadTemplate.decimalLimit else {
            throw Failure(
                line: v.line,
                column: v.column,
                message: "\(variable) \(key): expected a number within ±1e9, got \"\(v.text)\""
            )
        }
        return n
    }

    mutating func decimals() throws(Failure) -> Int {
        guard let v = take("decimals") else { return 2 }
        guard let n = Int(v.text), (0...9).contains(n) else {
            throw Failure(
                line: v.line,
                column: v.column,
                message: "\(variable) decimals: expected 0 to 9, got \"\(v.text)\""
            )
        }
        return n
    }

    /// Every argument was used; the first one nobody asked for is named.
    func finish() throws(Failure) {
        guard let extra = given.first else { return }
        throw Failure(
            line: extra.line,
            column: extra.column - extra.key.count - 1,
            message: "\(variable): unknown argument \"\(extra.key)\""
        )
    }
}
