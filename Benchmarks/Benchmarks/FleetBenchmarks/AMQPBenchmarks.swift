import Benchmark
import FleetAMQP
import FleetCore
import FleetMQTT
import NIOCore

/// What one telemetry message costs over AMQP: the codec alone, and the device's bridge (PUBLISH → transfer frame,
/// disposition → PUBACK). Reported for README's transports section; allocations are gated like the others.
func amqpBenchmarks() {
    let topic = "devices/device-00042/messages/events/%24.mid=7&site=plant-7"
    let payload = ByteBuffer(repeating: 0x61, count: 64)
    let message = AMQPMessages.encoded(AMQPMessages.message(topic: topic, payload: payload, deviceID: "device-00042"))
    let transfer = AMQPFrame.performative(
        .transfer(.init(handle: 2, deliveryID: 7, deliveryTag: [0, 0, 0, 7], settled: false, payload: message))
    )

    Benchmark("amqp: encode a telemetry transfer frame (properties, 64 B) into a reused buffer") { benchmark in
        var buffer = ByteBuffer()
        buffer.reserveCapacity(512)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            try transfer.encode(into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    Benchmark("amqp: decode an accepted disposition frame") { benchmark in
        var bytes = ByteBuffer()
        try AMQPFrame.performative(.disposition(.init(role: .receiver, first: 7, settled: true, state: .accepted)))
            .encode(into: &bytes)
        var decoder = AMQPFrameDecoder()
        decoder.expectsHeader = false
        for _ in benchmark.scaledIterations {
            var b = bytes
            blackHole(try decoder.decode(buffer: &b))
        }
    }

    // The device's bridge in its steady state: a QoS 1 PUBLISH from the device's machine becomes the message and its
    // transfer; the hub's accepted disposition becomes the PUBACK. No sockets, no encoding of the frames.
    Benchmark("amqp: device bridge, QoS 1 PUBLISH → transfer, disposition → PUBACK (machine only)") { benchmark in
        var bridge = AMQPDeviceBridge(
            configuration: .init(
                hubHost: "hub",
                cbs: false,
                mechanism: "ANONYMOUS",
                idleTimeOut: nil
            )
        )
        var actions: [AMQPDeviceBridge.Action] = []
        actions.reserveCapacity(8)
        let now = Instant(nanoseconds: 1_000_000)
        bridge.deviceWrote(
            .connect(MQTTConnect(version: .v311, clientID: "device-00042", keepAliveSeconds: 60)),
            now: now,
            into: &actions
        )
        for item: AMQPInbound in [
            .header(.sasl), .frame(AMQPFrame(.sasl(.mechanisms(["ANONYMOUS"])))),
            .frame(AMQPFrame(.sasl(.outcome(.ok, additionalData: nil)))), .header(.amqp),
            .frame(.performative(.open(.init(containerID: "hub")))),
            .frame(
                .performative(
                    .begin(
                        .init(
                            remoteChannel: 0,
                            nextOutgoingID: 0,
                            incomingWindow: .max,
                            outgoingWindow: 100
                        )
                    )
                )
            ),
            .frame(
                .performative(
                    .attach(
                        .init(
                            name: "telemetry",
                            handle: 0,
                            role: .receiver,
                            source: AMQPTerminus(address: "t"),
                            target: AMQPTerminus(address: "t")
                        )
                    )
                )
            ),
            .frame(
                .performative(
                    .flow(
                        .init(
                            nextIncomingID: 0,
                            incomingWindow: .max,
                            nextOutgoingID: 0,
                            outgoingWindow: 100,
                            handle: 0,
                            deliveryCount: 0,
                            linkCredit: .max
                        )
                    )
                )
            ),
        ] {
            bridge.received(item, now: now, into: &actions)
        }
        var id: UInt16 = 0
        var delivery: UInt32 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            id = id == .max ? 1 : id + 1
            actions.removeAll(keepingCapacity: true)
            bridge.deviceWrote(
                .publish(MQTTPublish(topic: topic, payload: payload, qos: .atLeastOnce, packetID: id)),
                now: now,
                into: &actions
            )
            bridge.received(
                .frame(
                    .performative(
                        .disposition(
                            .init(
                                role: .receiver,
                                first: delivery,
                                settled: true,
                                state: .accepted
                            )
                        )
                    )
                ),
                now: now,
                into: &actions
            )
            delivery &+= 1
            blackHole(actions.count)
        }
    }
}
