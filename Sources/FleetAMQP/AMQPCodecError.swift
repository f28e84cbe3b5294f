/// A malformed or unacceptable AMQP frame or value. Carries what was being read when it is known (a performative,
/// a field) so a peer's mistake can be named in one line.
public struct AMQPCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case truncated = "value ends before its announced size"
            case unknownConstructor = "unknown type constructor"
            case frameTooLarge = "frame larger than the negotiated maximum frame size"
            case frameTooSmall = "frame size or data offset below the minimum"
            case unknownFrameType = "unknown frame type"
            case invalidUTF8 = "string is not well-formed UTF-8"
            case invalidSymbol = "symbol is not ASCII"
            case invalidChar = "char is not a Unicode scalar value"
            case countExceedsSize = "element count larger than the bytes that hold the elements"
            case sizeMismatch = "compound value's size does not match its elements"
            case nestingTooDeep = "values nested deeper than the decoder allows"
            case oddMap = "map with an odd number of elements"
            case unknownPerformative = "unknown performative or SASL frame"
            case missingField = "a mandatory field is missing"
            case wrongFieldType = "a field has the wrong type"
            case trailingBytes = "bytes left over after the frame's body"
            case notDescribed = "frame body is not a described list"
            case mixedArray = "array elements of different types"
            case invalidProtocolHeader = "not an AMQP 1.0 protocol header"
            case unknownSection = "unknown message section"
            case valueTooLarge = "value too large to encode"
        }
        fileprivate let base: Base

        public static let truncated = Code(base: .truncated)
        public static let unknownConstructor = Code(base: .unknownConstructor)
        public static let frameTooLarge = Code(base: .frameTooLarge)
        public static let frameTooSmall = Code(base: .frameTooSmall)
        public static let unknownFrameType = Code(base: .unknownFrameType)
        public static let invalidUTF8 = Code(base: .invalidUTF8)
        public static let invalidSymbol = Code(base: .invalidSymbol)
        public static let invalidChar = Code(base: .invalidChar)
        public static let countExceedsSize = Code(base: .countExceedsSize)
        public static let sizeMismatch = Code(base: .sizeMismatch)
        public static let nestingTooDeep = Code(base: .nestingTooDeep)
        public static let oddMap = Code(base: .oddMap)
        public static let unknownPerformative = Code(base: .unknownPerformative)
        public static let missingField = Code(base: .missingField)
        public static let wrongFieldType = Code(base: .wrongFieldType)
        public static let trailingBytes = Code(base: .trailingBytes)
        public static let notDescribed = Code(base: .notDescribed)
        public static let mixedArray = Code(base: .mixedArray)
        public static let invalidProtocolHeader = Code(base: .invalidProtocolHeader)
        public static let unknownSection = Code(base: .unknownSection)
        public static let valueTooLarge = Code(base: .valueTooLarge)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// What was being decoded: a performative's name and field ("attach.handle"), a section, a frame.
    public var context: String?
    public var detail: String?

    public init(_ code: Code, context: String? = nil, detail: String? = nil) {
        self.code = code
        self.context = context
        self.detail = detail
    }

    public var description: String {
        var s = "malformed AMQP frame"
        if let context { s += " (\(context))" }
        s += ": \(code)"
        if let detail { s += " (\(detail))" }
        return s
    }
}
