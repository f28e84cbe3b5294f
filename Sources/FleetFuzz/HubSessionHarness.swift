import FleetCore
import FleetHub
import FleetHubCore
import FleetMQTT
import NIOCore

/// The hub's session machine fed a stream of events built from the input: packets (decoded from the input's bytes,
/// or a CONNECT signed for any expiry), bytes that do not decode, throttled publishes and fault overrides, with time
/// moving between them. Checked from the actions alone: once closed, it writes nothing and closes nothing again; it
/// answers a CONNECT with exactly one CONNACK; it never accepts twice.
enum HubSessionHarness {
    static func run(_ input: [UInt8]) -> String? {
        var bytes = FuzzBytes(input)
        var session = HubSession(
            authenticator: HubAuthenticator(keys: .groupKey(SignedDevice.groupKey), hostName: SignedDevice.host)
        )
        let overrides: [HubSession.ConnectOverride?] = [
            nil, nil, nil, nil, .serverUnavailable, .notAuthorized, .connectionRateExceeded, .disabled,
        ]
        var actions: [HubAction] = []
        var now = Instant.zero
        var accepted = 0
        while !bytes.isEmpty {
            let choice = bytes.byte()
            now = now + .milliseconds(Int64(bytes.byte()))
            let wasClosed = session.isClosed
            var connects = 0
            actions.removeAll(keepingCapacity: true)
            switch choice % 5 {
            case 0, 1:
                var decoder = MQTTDecoder(version: choice & 0x80 != 0 ? .v5 : .v311, maxPacketSize: 1 << 16)
                var buffer = ByteBuffer(bytes: bytes.chunk())
                guard let packet = try? decoder.decode(buffer: &buffer) else {
                    session.protocolError(into: &actions)
                    break
                }
                if case .connect = packet { connects = 1 }
                session.packetReceived(
                    packet,
                    now: now,
                    nowUnix: CredentialsHarness.nowUnix,
                    override: overrides[Int(choice >> 5) % overrides.count],
                    into: &actions
                )
            case 2:
                session.protocolError(into: &actions)
            case 3:
                let publish = MQTTPublish(
                    topic: "devices/dev-1/messages/events/",
                    payload: ByteBuffer(),
                    qos: .atLeastOnce,
                    packetID: UInt16(truncatingIfNeeded: choice)
                )
                session.publishThrottled(publish, into: &actions)
            default:
                let expiry = Int64(bitPattern: bytes.uint64())
                guard
                    let connect = SignedDevice.connect(
                        id: "dev-1",
                        expiry: expiry,
                        version: choice & 0x80 != 0 ? .v5 : .v311
                    )
                else {
                    return "could not sign a token"
                }
                connects = 1
                session.packetReceived(
                    .connect(connect),
                    now: now,
                    nowUnix: CredentialsHarness.nowUnix,
                    into: &actions
                )
            }
            if wasClosed, let action = actions.first(where: { if case .record = $0 { false } else { true } }) {
                return "acted after it closed: \(action)"
            }
            if actions.filter({ if case .close = $0 { true } else { false } }).count > 1 { return "closed twice" }
            let connacks = actions.filter { if case .write(.connack) = $0 { true } else { false } }.count
            if connacks > connects { return "\(connacks) CONNACKs for \(connects) CONNECT" }
            accepted += actions.filter { if case .record(.accepted) = $0 { true } else { false } }.count
            if accepted > 1 { return "one connection accepted twice" }
        }
        return nil
    }
}
