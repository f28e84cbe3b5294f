import FleetAMQP
import FleetCore
import FleetMQTT
import NIOCore

/// A pooled AMQP connection (`AMQPPoolConnection`) fed a hub's bytes, with up to four device sessions (pooled
/// `AMQPDeviceBridge`s) joining once it is open and publishing as the input's first byte says. Nothing may trap; a
/// frame may reach only a session whose channel is taken; the pool never takes more channels than it carries; no
/// device gets a second CONNACK, or a PUBACK for a packet it did not publish.
enum AMQPPoolHarness {
    static func run(_ input: [UInt8]) -> String? {
        guard let first = input.first else { return nil }
        let sessions = 1 + Int(first % 4)
        var pool = AMQPPoolConnection(
            configuration: .init(
                hubHost: "fuzz.local",
                mechanism: "MSSBCBS",
                idleTimeOut: .seconds(10),
                sessions: sessions,
                containerID: "fuzz-pool"
            )
        )
        var config = AMQPDeviceBridge.Configuration(
            hubHost: "fuzz.local",
            cbs: first & 16 == 0,
            mechanism: "MSSBCBS",
            idleTimeOut: .seconds(10)
        )
        config.pooled = true
        var devices: [UInt16: AMQPDeviceBridge] = [:]
        var connacks: [UInt16: Int] = [:]
        var unacked: [UInt16: Set<UInt16>] = [:]
        var poolActions: [AMQPPoolConnection.Action] = []
        pool.start(into: &poolActions)
        var decoder = AMQPFrameDecoder(maxFrameSize: 1 << 16)
        var buffer = ByteBuffer(bytes: input.dropFirst())
        var step = 0
        while let item = try? decoder.decode(buffer: &buffer) {
            step += 1
            poolActions.removeAll()
            pool.received(item, into: &poolActions)
            for action in poolActions {
                switch action {
                case .opened(let size):
                    // Devices join: as many as the pool takes channels for.
                    while let channel = pool.takeChannel() {
                        if Int(channel) >= sessions { return "channel \(channel) past the pool's \(sessions) sessions" }
                        var bridge = AMQPDeviceBridge(configuration: config)
                        bridge.joinedPool(remoteMaxFrameSize: size)
                        var out: [AMQPDeviceBridge.Action] = []
                        bridge.deviceWrote(
                            .connect(MQTTConnect(version: .v311, clientID: "dev-\(channel)", keepAliveSeconds: 5)),
                            now: .zero,
                            into: &out
                        )
                        devices[channel] = bridge
                    }
                    if pool.channelsTaken > sessions {
                        return "\(pool.channelsTaken) channels for \(sessions) sessions"
                    }
                case .toSession(let channel, let inbound):
                    guard devices[channel] != nil else {
                        return "a frame for channel \(channel), which no device holds"
                    }
                    var out: [AMQPDeviceBridge.Action] = []
                    if step % Int(1 + (first >> 2) % 5) == 0 {
                        let id = UInt16(truncatingIfNeeded: step)
                        unacked[channel, default: []].insert(id)
                        let publish = MQTTPublish(
                            topic: "devices/dev-\(channel)/messages/events/",
                            payload: ByteBuffer(bytes: [7]),
                            qos: .atLeastOnce,
                            packetID: id
                        )
                        devices[channel]!.deviceWrote(.publish(publish), now: .zero, into: &out)
                    }
                    devices[channel]!.received(inbound, now: .zero, into: &out)
                    for a in out {
                        switch a {
                        case .deliver(.connack):
                            connacks[channel, default: 0] += 1
                            if connacks[channel]! > 1 { return "a second CONNACK on channel \(channel)" }
                        case .deliver(.puback(let ack)):
                            guard unacked[channel]?.remove(ack.packetID) != nil else {
                                return "PUBACK \(ack.packetID) on channel \(channel) for no publish in flight"
                            }
                        default:
                            break
                        }
                    }
                default:
                    break
                }
            }
        }
        return nil
    }
}
