import FleetCore
import FleetMQTT
import NIOCore

/// The MQTT codec on bytes from a peer, both protocol versions; packets of both directions share the decoder. What
/// decodes must encode, and the encoding must decode to the same packet. Every packet also goes to a connected
/// device with twin operations on (what a hub's answers reach): its twin requests must stay answered, unanswered or
/// waiting, and a twin answer's topic that parses must print back to the same status and request id.
enum MQTTHarness {
    static func run(_ input: [UInt8]) -> String? {
        var device = connectedTwinDevice()
        var requests = device.pendingTwinRequests  // the GET it wrote on connecting
        var ended = 0
        for version in [MQTTVersion.v311, .v5] {
            var decoder = MQTTDecoder(version: version, maxPacketSize: 1 << 16)
            var buffer = ByteBuffer(bytes: input)
            while let packet = try? decoder.decode(buffer: &buffer) {
                if case .publish(let p) = packet, let (status, rid) = TwinTopic.answer(p.topic) {
                    let again = TwinTopic.answer(TwinTopic.answer(status: status, rid: String(rid)))
                    guard again?.status == status, again?.rid == rid else {
                        return "twin answer \(p.topic) prints back as \(String(describing: again))"
                    }
                }
                var actions: [DeviceAction] = []
                device.packetReceived(packet, now: Instant(nanoseconds: 1_000_000), into: &actions)
                for case .record(let event) in actions {
                    switch event {
                    case .twinRequest: requests += 1
                    case .twinAnswer, .twinUnanswered: ended += 1
                    default: break
                    }
                }
                guard requests == ended + device.pendingTwinRequests else {
                    return
                        "twin requests \(requests) ≠ ended \(ended) + waiting \(device.pendingTwinRequests) after \(packet)"
                }
                // A decoder learns the version from a CONNECT; the packets after it are of that version.
                let encoder = MQTTEncoder(version: decoder.version)
                var encoded = ByteBuffer()
                guard (try? encoder.encode(packet, into: &encoded)) != nil else { continue }
                var again = MQTTDecoder(version: decoder.version, maxPacketSize: 1 << 20)
                guard let back = try? again.decode(buffer: &encoded) else {
                    return "\(decoder.version): a decoded packet re-encodes to bytes that do not decode: \(packet)"
                }
                guard back == packet else { return "\(decoder.version): round trip changed \(packet) into \(back)" }
            }
        }
        return nil
    }

    /// A device connected and subscribed, its GET (request id 1) waiting for its answer.
    static func connectedTwinDevice() -> DeviceStateMachine {
        var scenario = Scenario()
        scenario.twin.getOnConnect = true
        scenario.twin.reportInterval = .seconds(1)
        var device = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: scenario), seed: 1)
        var actions: [DeviceAction] = []
        device.start(now: .zero, into: &actions)
        device.connectSucceeded(now: .zero, into: &actions)
        device.packetReceived(.connack(MQTTConnAck(code: 0)), now: .zero, into: &actions)
        device.packetReceived(.suback(MQTTSubAck(packetID: 1, codes: [0])), now: .zero, into: &actions)
        return device
    }
}
