import FleetAMQP
import NIOCore

/// The AMQP codec on bytes from a peer: a connection's stream (protocol headers, SASL and AMQP frames, both
/// directions share the decoder), each transfer's message sections, and a lone value. Whatever decodes must encode,
/// and the encoding must decode to the same frame, message or value.
enum AMQPHarness {
    static func run(_ input: [UInt8]) -> String? {
        for startsWithHeader in [true, false] {
            var decoder = AMQPFrameDecoder(maxFrameSize: 1 << 16)
            decoder.expectsHeader = startsWithHeader
            var buffer = ByteBuffer(bytes: input)
            while let item = try? decoder.decode(buffer: &buffer) {
                guard case .frame(let frame) = item else { continue }
                if let broken = roundTrip(frame) { return broken }
                if case .performative(.transfer(let transfer)) = frame.body, let broken = message(transfer.payload) {
                    return broken
                }
            }
        }
        var lone = ByteBuffer(bytes: input)
        if let value = try? AMQPValue.decode(from: &lone) {
            var encoded = ByteBuffer()
            // A decoded value always encodes: the decoder refuses what the encoder cannot write.
            guard (try? value.encode(into: &encoded)) != nil else { return "a decoded value does not encode: \(value)" }
            guard let back = try? AMQPValue.decode(from: &encoded), back == value else {
                return "value round trip changed \(value)"
            }
        }
        return nil
    }

    private static func roundTrip(_ frame: AMQPFrame) -> String? {
        var encoded = ByteBuffer()
        guard (try? frame.encode(into: &encoded)) != nil else { return "a decoded frame does not encode: \(frame)" }
        var again = AMQPFrameDecoder(maxFrameSize: 1 << 20)
        again.expectsHeader = false
        guard let back = try? again.decode(buffer: &encoded) else {
            return "a decoded frame re-encodes to bytes that do not decode: \(frame)"
        }
        return back == .frame(frame) ? nil : "frame round trip changed \(frame) into \(back)"
    }

    private static func message(_ payload: ByteBuffer) -> String? {
        var payload = payload
        guard let message = try? AMQPMessage.decode(from: &payload) else { return nil }
        var encoded = ByteBuffer()
        guard (try? message.encode(into: &encoded)) != nil else { return "a decoded message does not encode" }
        guard let back = try? AMQPMessage.decode(from: &encoded), back == message else {
            return "message round trip changed \(message)"
        }
        return nil
    }
}
