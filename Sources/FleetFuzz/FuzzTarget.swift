/// Every decoder of outside bytes, as one fuzz harness each. A harness takes any bytes, runs them through the same
/// code the commands and the hub run, and answers with a broken invariant's description (nil when none). Traps are
/// what a fuzzer looks for; a non-nil answer is one too. The libFuzzer driver (`Fuzz/`) and the corpus replay in
/// `swift test` both call `run`.
public enum FuzzTarget: String, Sendable, CaseIterable {
    /// A report file: protobuf and HdrHistogram V2, then text, HTML, JSON, compare and merge.
    case report
    /// SAS tokens, device registries, the hub's authentication, and a token signed with any expiry.
    case credentials
    /// A profile (YAML), loaded and, when valid, run in FleetSim for a few virtual seconds.
    case profile
    /// The MQTT decoder, 3.1.1 and 5, packets of either direction; whatever decodes must encode and decode again.
    case mqtt
    /// The AMQP 1.0 codec: protocol headers, SASL and AMQP frames, message sections, lone values; round trips.
    case amqp
    /// The hub's MQTT front (decoder, session, handler) on an embedded channel.
    case hubMQTT = "hub-mqtt"
    /// The hub's WebSocket front: HTTP upgrade, frames, MQTT.
    case hubWebSocket = "hub-websocket"
    /// The hub's HTTPS device API.
    case hubHTTPS = "hub-https"
    /// The hub's AMQP front: SASL, CBS, links and transfers, into the hub's MQTT session.
    case hubAMQP = "hub-amqp"
    /// The embedded hub's one port for runs mixing MQTT and AMQP cohorts: the first byte picks the front.
    case hubMixed = "hub-mixed"
    /// A device's AMQP bridge fed a hub's bytes after its CONNECT, with the device's writes interleaved.
    case amqpDevice = "amqp-device"
    /// A pooled AMQP connection fed a hub's bytes, with device sessions joining once it is open.
    case amqpPool = "amqp-pool"
    /// The hub's session state machine fed an event stream: packets, protocol errors and throttles in any order.
    case hubSession = "hub-session"
    /// A device's TLS (OpenSSL) fed a server's bytes, with the device's writes interleaved.
    case tlsClient = "tls-client"
    case tlsServer = "tls-server"
    /// TLS 1.3 records after a real handshake, opened by the device's own record layer: tampered, cut, re-keyed.
    case tlsRecords = "tls-records"
    /// A payload template (`telemetry.template`): parsed, then expanded within its size bound, the same bytes twice.
    case template

    public func run(_ input: [UInt8]) -> String? {
        switch self {
        case .report: ReportHarness.run(input)
        case .credentials: CredentialsHarness.run(input)
        case .profile: ProfileHarness.run(input)
        case .mqtt: MQTTHarness.run(input)
        case .amqp: AMQPHarness.run(input)
        case .hubMQTT: HubFrontHarness.run(input, front: .mqtt)
        case .hubWebSocket: HubFrontHarness.run(input, front: .webSocket)
        case .hubHTTPS: HubFrontHarness.run(input, front: .https)
        case .hubAMQP: HubFrontHarness.run(input, front: .amqp)
        case .hubMixed: HubFrontHarness.run(input, front: .mqttOrAMQP)
        case .amqpDevice: AMQPDeviceHarness.run(input)
        case .amqpPool: AMQPPoolHarness.run(input)
        case .hubSession: HubSessionHarness.run(input)
        case .tlsClient: TLSHarness.run(input, server: false)
        case .tlsServer: TLSHarness.run(input, server: true)
        case .tlsRecords: TLSRecordsHarness.run(input)
        case .template: TemplateHarness.run(input)
        }
    }
}

/// Reads an input as a sequence of choices: the harnesses that build structured events from bytes.
struct FuzzBytes {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isEmpty: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint64() -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, _ in (value << 8) | UInt64(byte()) }
    }

    /// Up to `limit` bytes, as many as the next byte says.
    mutating func chunk(limit: Int = 255) -> [UInt8] {
        let n = min(Int(byte()), limit, bytes.count - offset)
        guard n > 0 else { return [] }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// The rest of the input.
    mutating func rest() -> [UInt8] {
        guard offset < bytes.count else { return [] }
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}
