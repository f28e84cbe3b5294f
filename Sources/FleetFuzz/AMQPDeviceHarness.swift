import FleetAMQP
import FleetCore
import FleetMQTT
import NIOCore

/// A device's AMQP bridge (`AMQPDeviceBridge`) after its CONNECT: the input's first byte picks how the device's own
/// writes (QoS 1 publishes, a C2D and twin subscribe, twin GETs, PINGREQs, PUBACKs) interleave with the rest, which arrives as the hub's
/// bytes. The bridge must never trap, and must never hand the device a PUBACK for a packet it did not publish (or
/// twice), nor a second CONNACK.
enum AMQPDeviceHarness {
    static func run(_ input: [UInt8]) -> String? {
        guard let first = input.first else { return nil }
        let config = AMQPDeviceBridge.Configuration(
            hubHost: "fuzz.local",
            cbs: first & 1 == 0,
            mechanism: "MSSBCBS",
            idleTimeOut: .seconds(10)
        )
        var bridge = AMQPDeviceBridge(configuration: config)
        var actions: [AMQPDeviceBridge.Action] = []
        var now = Instant.zero
        bridge.deviceWrote(
            .connect(
                MQTTConnect(
                    version: .v311,
                    clientID: "dev-1",
                    keepAliveSeconds: 5,
                    username: "u",
                    password: Array("tok".utf8)
                )
            ),
            now: now,
            into: &actions
        )
        var decoder = AMQPFrameDecoder(maxFrameSize: 1 << 16)
        var buffer = ByteBuffer(bytes: input.dropFirst())
        var unacked: Set<UInt16> = []
        var nextID: UInt16 = 0
        var connacks = 0
        var step = 0
        while true {
            step += 1
            now = now + .milliseconds(50)
            if step % Int(1 + (first >> 1) % 7) == 0 {
                nextID &+= 1
                if nextID == 0 { nextID = 1 }
                unacked.insert(nextID)
                let publish = MQTTPublish(
                    topic: "devices/dev-1/messages/events/%24.mid=\(nextID)",
                    payload: ByteBuffer(bytes: [1, 2, 3]),
                    qos: .atLeastOnce,
                    packetID: nextID
                )
                let device: [MQTTPacket] = [
                    .publish(publish), .pingreq,
                    .subscribe(
                        MQTTSubscribe(
                            packetID: 9,
                            subscriptions: [
                                MQTTSubscription(
                                    topicFilter: "devices/dev-1/messages/devicebound/#",
                                    qos: .atLeastOnce
                                ),
                                MQTTSubscription(topicFilter: "$iothub/twin/res/#", qos: .atMostOnce),
                            ]
                        )
                    ),
                    .puback(MQTTAck(packetID: UInt16(step % 5))),
                    .publish(MQTTPublish(topic: "$iothub/twin/GET/?$rid=\(step)", payload: ByteBuffer())),
                ]
                for packet in device.prefix(1 + step % 5) { bridge.deviceWrote(packet, now: now, into: &actions) }
            }
            guard let item = try? decoder.decode(buffer: &buffer) else { break }
            bridge.received(item, now: now, into: &actions)
            for action in actions {
                switch action {
                case .deliver(.puback(let ack)):
                    guard unacked.remove(ack.packetID) != nil else {
                        return "PUBACK \(ack.packetID) for a packet the device did not publish or had acked"
                    }
                case .deliver(.connack):
                    connacks += 1
                    if connacks > 1 { return "a second CONNACK" }
                default:
                    break
                }
            }
            actions.removeAll()
        }
        return nil
    }
}
