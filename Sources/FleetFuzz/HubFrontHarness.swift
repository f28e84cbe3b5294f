import FleetAMQP
import FleetCore
public import FleetHub
internal import FleetHubCore
import FleetMQTT
import Foundation
import NIOCore
import NIOEmbedded

/// One of the hub's fronts on an embedded channel, as a listener would build it, with an anonymous hub: the input
/// arrives in chunks (the first byte picks the chunk size) with time moving 10 ms per chunk, then five minutes pass
/// so every timeout fires. For the MQTT front, everything the hub wrote must decode as MQTT.
public enum HubFrontHarness {
    static func run(_ input: [UInt8], front: HubFront) -> String? {
        guard let first = input.first else { return nil }
        var configuration = HubConfiguration()
        configuration.auth = HubAuthenticator(keys: .anonymous, hostName: "fuzz.local")
        configuration.connectTimeout = .seconds(1)
        configuration.quotas = HubQuotas(tier: .s1, units: 1)
        let hub = HubAttachment(configuration: configuration)
        let outcome = drive(Array(input.dropFirst()), chunk: 1 + Int(first), front: front, hub: hub)
        if let problem = outcome.problem { return problem }
        switch front {
        case .mqtt: return decodesAsMQTT(outcome.written, input: input)
        case .amqp: return decodesAsAMQP(outcome.written)
        case .mqttOrAMQP:
            // Whichever front the first byte chose must have answered in its own protocol.
            let rest = input.dropFirst()
            return rest.first == UInt8(ascii: "A")
                ? decodesAsAMQP(outcome.written) : decodesAsMQTT(outcome.written, input: input)
        case .webSocket, .https: return nil
        }
    }

    /// The hub's answer must be whole AMQP headers and frames.
    static func decodesAsAMQP(_ written: [UInt8]) -> String? {
        var decoder = AMQPFrameDecoder(maxFrameSize: 1 << 20)
        var buffer = ByteBuffer(bytes: written)
        do {
            while try decoder.decode(buffer: &buffer) != nil {}
        } catch {
            return "the hub wrote AMQP bytes that do not decode: \(error)"
        }
        return buffer.readableBytes == 0 ? nil : "the hub wrote a partial AMQP frame"
    }

    /// The hub's answer must be whole MQTT packets of the version the client spoke.
    static func decodesAsMQTT(_ written: [UInt8], input: [UInt8]) -> String? {
        var probe = MQTTDecoder(version: .v311, maxPacketSize: 1 << 20)
        var copy = ByteBuffer(bytes: input.dropFirst())
        var version = MQTTVersion.v311
        if case .connect(let c)? = try? probe.decode(buffer: &copy) { version = c.version }
        var decoder = MQTTDecoder(version: version, maxPacketSize: 1 << 20)
        var buffer = ByteBuffer(bytes: written)
        do {
            while try decoder.decode(buffer: &buffer) != nil {}
        } catch {
            return "the hub wrote bytes that do not decode: \(error)"
        }
        return buffer.readableBytes == 0 ? nil : "the hub wrote a partial packet"
    }

    /// Feeds `input` to a new connection of `hub` through `front`; returns what the hub wrote, or the first broken
    /// rule: a write after the connection closed. (The hub's tests drive their fronts through this too.)
    public static func drive(
        _ input: [UInt8],
        chunk: Int,
        front: HubFront,
        hub: HubAttachment
    ) -> (problem: String?, written: [UInt8]) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        do {
            try hub.attach(front, to: channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        } catch { return ("setup failed: \(error)", []) }
        var written: [UInt8] = []
        var closed = false
        func drain() -> Bool {
            var wrote = false
            while true {
                if let d = try? channel.readOutbound(as: IOData.self) {
                    if case .byteBuffer(let b) = d { written += Array(b.readableBytesView) }
                } else if let b = try? channel.readOutbound(as: ByteBuffer.self) {
                    written += Array(b.readableBytesView)
                } else {
                    break
                }
                wrote = true
            }
            return wrote
        }
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + max(1, chunk))
            if channel.isActive { _ = try? channel.writeInbound(ByteBuffer(bytes: input[offset..<end])) }
            offset = end
            loop.advanceTime(by: .milliseconds(10))
            if drain() && closed { return ("the hub wrote after it closed the connection", written) }
            if !channel.isActive { closed = true }
        }
        loop.advanceTime(by: .seconds(300))
        _ = drain()
        _ = try? channel.finish()
        return (nil, written)
    }

    /// The wall clock's Unix seconds (the hub checks token expiry against it).
    static func wallClockUnix() -> Int64 { Int64(Date().timeIntervalSince1970) }
}
