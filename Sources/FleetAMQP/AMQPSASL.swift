/// The SASL layer's frames (part 5.3), exchanged before the AMQP protocol header when a peer asks for SASL.
public enum AMQPSASLFrame: Sendable, Hashable {
    /// The server's offer (`sasl-server-mechanisms`).
    case mechanisms([String])
    case initial(mechanism: String, initialResponse: [UInt8]?, hostname: String?)
    case challenge([UInt8])
    case response([UInt8])
    case outcome(Outcome, additionalData: [UInt8]?)

    /// `sasl-code`: 0 ok, 1 auth (wrong credentials), 2 sys (permanent), 3 sys-perm, 4 sys-temp.
    public struct Outcome: Sendable, Hashable, CustomStringConvertible {
        public var code: UInt8
        public init(code: UInt8) { self.code = code }

        public static let ok = Outcome(code: 0)
        public static let auth = Outcome(code: 1)
        public static let sys = Outcome(code: 2)
        public static let sysPerm = Outcome(code: 3)
        public static let sysTemp = Outcome(code: 4)

        public var description: String {
            switch code {
            case 0: "ok"
            case 1: "auth"
            case 2: "sys"
            case 3: "sys-perm"
            case 4: "sys-temp"
            default: "code \(code)"
            }
        }
    }

    public var name: String {
        switch self {
        case .mechanisms: "sasl-mechanisms"
        case .initial: "sasl-init"
        case .challenge: "sasl-challenge"
        case .response: "sasl-response"
        case .outcome: "sasl-outcome"
        }
    }

    public var value: AMQPValue {
        var w = AMQPFieldWriter()
        switch self {
        case .mechanisms(let mechanisms):
            // sasl-server-mechanisms is mandatory: an empty offer is an empty array, not an absent field.
            w.add(.array(mechanisms.map { .symbol($0) }))
            return w.described(0x40)
        case .initial(let mechanism, let response, let hostname):
            w.add(symbol: mechanism)
            w.add(binary: response)
            w.add(string: hostname)
            return w.described(0x41)
        case .challenge(let bytes):
            w.add(binary: bytes)
            return w.described(0x42)
        case .response(let bytes):
            w.add(binary: bytes)
            return w.described(0x43)
        case .outcome(let outcome, let data):
            w.add(ubyte: outcome.code)
            w.add(binary: data)
            return w.described(0x44)
        }
    }

    private static let names: [String: UInt64] = [
        "amqp:sasl-mechanisms:list": 0x40, "amqp:sasl-init:list": 0x41, "amqp:sasl-challenge:list": 0x42,
        "amqp:sasl-response:list": 0x43, "amqp:sasl-outcome:list": 0x44,
    ]

    public static func decode(value: AMQPValue) throws(AMQPCodecError) -> AMQPSASLFrame {
        guard case .described(let descriptor, let inner) = value, case .list(let fields) = inner else {
            throw AMQPCodecError(.notDescribed, context: "sasl", detail: value.typeName)
        }
        let code = try descriptor.code(in: names, unknown: .unknownPerformative)
        switch code {
        case 0x40:
            let r = AMQPFieldReader(fields, composite: "sasl-mechanisms")
            guard r.any(0) != nil else {
                throw AMQPCodecError(.missingField, context: "sasl-mechanisms.sasl-server-mechanisms")
            }
            return .mechanisms(try r.symbols(0, "sasl-server-mechanisms"))
        case 0x41:
            let r = AMQPFieldReader(fields, composite: "sasl-init")
            return .initial(
                mechanism: try r.required(0, "mechanism", r.symbol),
                initialResponse: try r.binary(1, "initial-response"),
                hostname: try r.string(2, "hostname")
            )
        case 0x42:
            let r = AMQPFieldReader(fields, composite: "sasl-challenge")
            return .challenge(try r.required(0, "challenge", r.binary))
        case 0x43:
            let r = AMQPFieldReader(fields, composite: "sasl-response")
            return .response(try r.required(0, "response", r.binary))
        case 0x44:
            let r = AMQPFieldReader(fields, composite: "sasl-outcome")
            return .outcome(
                Outcome(code: try r.required(0, "code", r.ubyte)),
                additionalData: try r.binary(1, "additional-data")
            )
        default:
            throw AMQPCodecError(.unknownPerformative, context: "sasl", detail: "0x" + String(code, radix: 16))
        }
    }
}
