import Foundation
internal import SwiftProtobuf

/// The plausibility check a report from outside passes before anything renders or merges it: every integer within
/// 2^53 (exact as a Double, and a thousand of them add up without overflow), every number finite (a tune metric may be infinite: never recovered). Larger values
/// cannot come from a run: a corrupted or crafted file is refused with the message and field that hold one. The
/// run's wall-clock start and seeds are the exceptions (any Unix time in nanoseconds up to 2^61, the year 2043 ... 73 years on; any seed).
struct ReportBounds: Visitor {
    static let limit: UInt64 = 1 << 53
    static let timeLimit: UInt64 = 1 << 61

    /// The message being visited, innermost last.
    private var path: [String]
    /// What is wrong, for the first value out of bounds.
    private(set) var problem: String?

    /// The first implausible value of `message`, or nil.
    static func check(_ message: some Message) -> String? {
        var visitor = ReportBounds(path: [type(of: message).protoMessageName])
        try? message.traverse(visitor: &visitor)
        return visitor.problem
    }

    private init(path: [String]) { self.path = path }

    /// Ends the traversal at the first implausible value (`problem` says which).
    private struct Found: Error {}

    private var messageName: String { path.last.map { String($0.split(separator: ".").last ?? "") } ?? "" }

    private mutating func check(_ magnitude: UInt64, shown: String, fieldNumber: Int) throws {
        let name = messageName
        if name == "RunInfo" && fieldNumber == 2 || name == "TunePoint" && fieldNumber == 6 { return }  // seeds
        let limit = name == "RunInfo" && fieldNumber == 4 ? Self.timeLimit : Self.limit  // started_unix_ns
        guard magnitude > limit else { return }
        problem =
            "\(name) field \(fieldNumber) holds \(shown), beyond any real run (damaged or not written by FleetStorm)"
        throw Found()
    }

    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {
        // A tune metric is infinite for a setting that never recovered ("never"); nothing else is.
        guard !value.isFinite, value.isNaN || messageName != "TuneMetric" else { return }
        problem = "\(messageName) field \(fieldNumber) holds \(value), not a number a run writes"
        throw Found()
    }

    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {
        try check(value.magnitude, shown: String(value), fieldNumber: fieldNumber)
    }

    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {
        try check(value, shown: String(value), fieldNumber: fieldNumber)
    }

    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {}
    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {}
    mutating func visitSingularEnumField<E: Enum>(value: E, fieldNumber: Int) throws {}

    mutating func visitSingularMessageField<M: Message>(value: M, fieldNumber: Int) throws {
        path.append(M.protoMessageName)
        try value.traverse(visitor: &self)
        path.removeLast()
    }

    mutating func visitSingularGroupField<G: Message>(value: G, fieldNumber: Int) throws {
        try visitSingularMessageField(value: value, fieldNumber: fieldNumber)
    }

    mutating func visitMapField<KeyType, ValueType: MapValueType>(
        fieldType: _ProtobufMap<KeyType, ValueType>.Type,
        value: _ProtobufMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws {
        for v in value.values {
            if let n = v as? UInt64 { try check(n, shown: String(n), fieldNumber: fieldNumber) }
            if let n = v as? Int64 { try check(n.magnitude, shown: String(n), fieldNumber: fieldNumber) }
        }
    }

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type,
        value: _ProtobufEnumMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws {}

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type,
        value: _ProtobufMessageMap<KeyType, ValueType>.BaseType,
        fieldNumber: Int
    ) throws {
        for v in value.values { try visitSingularMessageField(value: v, fieldNumber: fieldNumber) }
    }

    mutating func visitUnknown(bytes: Data) throws {}
}
