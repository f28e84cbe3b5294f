import Benchmark
import FleetCore
import FleetHubCore
import FleetMQTT
import FleetMetrics
import FleetSim
import Foundation
import NIOCore

/// Per-device hot paths: what one telemetry message, one timer and one latency sample cost.
/// Allocation counts are the gate (zero tolerance on mallocCountTotal in `baseline check`); wall time is
/// reported for the README table only.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000,
        // The gate: allocations per operation must not grow against a saved baseline
        // (`swift package benchmark baseline update main`, later `swift package benchmark baseline check main`).
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])]
    )

    let publish = MQTTPacket.publish(
        MQTTPublish(
            topic: "devices/device-00042/messages/events/",
            payload: ByteBuffer(repeating: 0x61, count: 64),
            qos: .atLeastOnce,
            packetID: 42
        )
    )

    Benchmark("codec: encode QoS 1 PUBLISH (64 B) into a reused buffer") { benchmark in
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256)
        let encoder = MQTTEncoder(version: .v311)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            try encoder.encode(publish, into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    Benchmark("codec: decode PUBACK") { benchmark in
        let bytes = ByteBuffer(bytes: [0x40, 0x02, 0x00, 0x2A])
        var decoder = MQTTDecoder()
        for _ in benchmark.scaledIterations {
            var b = bytes
            blackHole(try decoder.decode(buffer: &b)?.type)
        }
    }

    Benchmark("codec: decode QoS 1 PUBLISH (64 B)") { benchmark in
        let bytes = try MQTTEncoder(version: .v311).encode(publish)
        var decoder = MQTTDecoder()
        for _ in benchmark.scaledIterations {
            var b = bytes
            blackHole(try decoder.decode(buffer: &b)?.type)
        }
    }

    Benchmark("wheel: schedule + cancel with 100k pending") { benchmark in
        var wheel = TimerWheel<UInt32>()
        wheel.reserveCapacity(100_001)
        for i in 0..<100_000 { wheel.schedule(at: Instant(nanoseconds: Int64(i % 60_000) * 1_000_000), UInt32(i)) }
        var t: Int64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            t += 1
            let h = wheel.schedule(at: Instant(nanoseconds: (t % 30_000) * 1_000_000 + 1_000_000), 1)
            blackHole(wheel.cancel(h))
        }
    }

    Benchmark("wheel: schedule, advance and fire (steady state)") { benchmark in
        var wheel = TimerWheel<UInt32>()
        var now: Int64 = 0
        for _ in benchmark.scaledIterations {
            wheel.schedule(at: Instant(nanoseconds: now + 5_000_000), 1)
            now += 1_000_000
            wheel.advance(to: Instant(nanoseconds: now))
            while let f = wheel.popReady() { blackHole(f.payload) }
        }
    }

    Benchmark("recorder: publish_ack latency sample") { benchmark in
        let recorder = Recorder()
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            recorder.record(
                .acked(latency: .microseconds(Int64(500 + i % 5000))),
                at: Instant(nanoseconds: Int64(i) * 1000)
            )
        }
        blackHole(recorder.publishAckP99)
    }

    Benchmark("device: encode a telemetry PUBLISH (topic with its message id) into a reused buffer") { benchmark in
        let machine = DeviceStateMachine(deviceID: "device-00042", config: DeviceConfig(scenario: Scenario()))
        let encoder = MQTTEncoder(version: .v311)
        let payload = machine.config.payload
        var buffer = ByteBuffer()
        buffer.reserveCapacity(512)
        var seq: UInt64 = 1_000_000
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            buffer.clear()
            seq += 1
            try? encoder.encodePublish(qos: .atLeastOnce, packetID: 7, dup: false, payload: payload, into: &buffer) {
                machine.writeTopic(seq: seq, into: &$0)
            }
            blackHole(buffer.readableBytes)
        }
    }

    // The same with a JSON body written from a template per message (profiles/thermostat-fleet.yaml's reading):
    // the body goes straight into the packet's buffer, so the allocations stay those of the filler case.
    Benchmark("device: encode a telemetry PUBLISH with a JSON template body into a reused buffer") { benchmark in
        var scenario = Scenario()
        scenario.telemetry.messages = 1_000_000
        scenario.telemetry.template = try? PayloadTemplate(thermostatReading)
        let machine = DeviceStateMachine(deviceID: "device-00042", config: DeviceConfig(scenario: scenario), seed: 7)
        let encoder = MQTTEncoder(version: .v311)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(512)
        var seq: UInt64 = 1
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            buffer.clear()
            seq = seq == 1_000_000 ? 1 : seq + 1
            let message = TelemetryPublish(
                seq: seq,
                packetID: 7,
                intended: Instant(nanoseconds: Int64(seq) * 1_000_000)
            )
            try? encoder.encodePublish(
                qos: .atLeastOnce,
                packetID: 7,
                dup: false,
                into: &buffer,
                topic: { machine.writeTopic(seq: seq, into: &$0) },
                payload: { machine.writeBody(for: message, into: &$0) }
            )
            blackHole(buffer.readableBytes)
        }
    }

    Benchmark("device: telemetry timer → PUBLISH → PUBACK (state machine only)") { benchmark in
        var scenario = Scenario()
        scenario.telemetry.messages = Int.max
        var machine = DeviceStateMachine(deviceID: "device-00042", config: DeviceConfig(scenario: scenario))
        var actions: [DeviceAction] = []
        actions.reserveCapacity(16)
        machine.start(now: .zero, into: &actions)
        machine.connectSucceeded(now: .zero, into: &actions)
        machine.packetReceived(.connack(MQTTConnAck()), now: .zero, into: &actions)
        var t: Int64 = 0
        var id: UInt16 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            actions.removeAll(keepingCapacity: true)
            t += 1_000_000
            machine.timerFired(
                .telemetry,
                deadline: Instant(nanoseconds: t),
                now: Instant(nanoseconds: t),
                into: &actions
            )
            id = id == UInt16.max ? 1 : id + 1
            machine.packetReceived(
                .puback(MQTTAck(packetID: id)),
                now: Instant(nanoseconds: t + 500_000),
                into: &actions
            )
            blackHole(actions.count)
        }
    }

    // The hub's side of one QoS 1 message, as HubConnectionHandler runs it: decode the PUBLISH from the read bytes,
    // ask the hub's rules (`HubCore.admitSend`), feed the session, count the message by device and message id, encode
    // the PUBACK into a reused buffer. The allocation left is the decoded topic string.
    Benchmark("hub: QoS 1 PUBLISH → PUBACK (decode, rules, session, count, encode)") { benchmark in
        var session = HubSession()
        var core = HubCore(quotas: nil)
        var actions: [HubAction] = []
        actions.reserveCapacity(16)
        session.packetReceived(.connect(MQTTConnect(version: .v311, clientID: "device-00042")), into: &actions)
        let topic = "devices/device-00042/messages/events/%24.mid=7&%24.ct=application%2Fjson"
        let bytes = try MQTTEncoder(version: .v311).encode(
            .publish(
                MQTTPublish(
                    topic: topic,
                    payload: ByteBuffer(repeating: 0x61, count: 256),
                    qos: .atLeastOnce,
                    packetID: 7
                )
            )
        )
        var decoder = MQTTDecoder()
        let encoder = MQTTEncoder(version: .v311)
        var out = ByteBuffer()
        out.reserveCapacity(64)
        let now = Instant(nanoseconds: 1_000_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var b = bytes
            guard let packet = try decoder.decode(buffer: &b), case .publish(let p) = packet else { continue }
            actions.removeAll(keepingCapacity: true)
            let admission = core.admitSend(
                deviceID: "device-00042",
                peer: { nil },
                payloadBytes: p.payload.readableBytes,
                acknowledged: true,
                now: now,
                unixSeconds: 0
            )
            guard admission == .answer(delay: nil) else { continue }
            session.packetReceived(packet, now: now, into: &actions)
            for action in actions {
                switch action {
                case .write(let answer):
                    out.clear()
                    try encoder.encode(answer, into: &out)
                case .record(let event):
                    core.recorder.record(event, peer: nil, at: now)
                default:
                    break
                }
            }
            blackHole(out.readableBytes)
        }
    }

    // A whole simulation: wall time and peak memory of FleetSim through profiles/hub-outage.yaml (drop-all, 15 s
    // outage, recovery), every device at once. Reported for the README; no allocation gate (it allocates per
    // device by design).
    Benchmark(
        "FleetSim: hub-outage.yaml, 100,000 devices",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident],
            scalingFactor: .one,
            maxDuration: .seconds(60),
            maxIterations: 3,
            thresholds: [:]
        )
    ) { benchmark in
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let loader = ScenarioLoader(readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })
        let scenario = try loader.load(
            path: root.appendingPathComponent("profiles/hub-outage.yaml").path,
            overrides: ["fleet.devices=100000", "fleet.ramp_rate=0"]
        )
        benchmark.startMeasurement()
        let result = FleetSimulation(scenario: scenario).run()
        benchmark.stopMeasurement()
        blackHole(result.events)
    }

    amqpBenchmarks()
}

/// profiles/thermostat-fleet.yaml's reading (device id, sequence, time, a walk, two choices, an integer).
let thermostatReading =
    #"{"deviceId": "{{device_id}}", "seq": {{seq}}, "ts": "{{time}}", "temperature": {{walk min=16 max=28 start=21.5 step=0.15 decimals=1}}, "setpoint": {{choice values=20|21|22}}, "humidity": {{int min=30 max=60}}, "mode": "{{choice values=heat|cool|auto}}"}"#
