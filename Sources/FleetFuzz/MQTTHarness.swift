import FleetMQTT
import NIOCore

/// The MQTT codec on bytes from a peer, both protocol versions; packets of both directions share the decoder. What
/// decodes must encode, and the encoding must decode to the same packet.
enum MQTTHarness {
    static func run(_ input: [UInt8]) -> String? {
        for version in [MQTTVersion.v311, .v5] {
            var decoder = MQTTDecoder(version: version, maxPacketSize: 1 << 16)
            var buffer = ByteBuffer(bytes: input)
            while let packet = try? decoder.decode(buffer: &buffer) {
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
}
