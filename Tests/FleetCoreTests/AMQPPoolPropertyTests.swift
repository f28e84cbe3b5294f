import FleetAMQP
import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

/// A pooled connection (`AMQPPoolConnection` with one pooled `AMQPDeviceBridge` per session) against the hub's bridge,
/// through real bytes, with a scripted MQTT session per hub session: what `DeviceAMQPPool` and `HubAMQPFront` do over
/// sockets, in memory. Devices join, publish, leave and are refused in random orders.
struct AMQPPoolHarness {
    var pool: AMQPPoolConnection
    var devices: [UInt16: AMQPDeviceBridge] = [:]
    /// Per device channel: our begin out, our end out (or the hub's in), CONNACKs and PUBACKs it got.
    var begun: Set<UInt16> = []
    var ended: Set<UInt16> = []
    var connacks: [UInt16: Int] = [:]
    var pubacks: [UInt16: Int] = [:]
    var hub: HubAMQPBridge
    var toHub = AMQPFrameDecoder()
    var toPool = AMQPFrameDecoder()
    /// Bytes on the wire each way, read by the other side only when `settle` runs (as a network would deliver them:
    /// never inside the writer's own actions).
    var wireToHub: [UInt8] = []
    var wireToPool: [UInt8] = []
    /// The hub's side: live sessions and the CONNECTs each got.
    var hubSessions: Set<UInt16> = []
    var hubConnects: [UInt16: Int] = [:]
    var refuseNext = false
    var opened = false
    var poolEnded = false
    /// The channels taken, kept apart from the pool's bitmap: taken by a device, freed by the hub's end.
    var model: Set<UInt16> = []
    var problems: [String] = []

    init(sessions: Int) {
        pool = AMQPPoolConnection(
            configuration: .init(
                hubHost: "hub.local",
                mechanism: "ANONYMOUS",
                idleTimeOut: .seconds(60),
                sessions: sessions,
                containerID: "pool-0"
            )
        )
        hub = HubAMQPBridge(configuration: .init(hostName: "hub.local"))
    }

    mutating func start() throws {
        var actions: [AMQPPoolConnection.Action] = []
        pool.start(into: &actions)
        try runPool(actions)
        try settle()
    }

    /// Delivers what is on the wire, both ways, until both sides are quiet.
    mutating func settle() throws {
        while !wireToHub.isEmpty || !wireToPool.isEmpty {
            if !wireToHub.isEmpty {
                var buffer = ByteBuffer(bytes: wireToHub)
                wireToHub.removeAll()
                while let item = try toHub.decode(buffer: &buffer) {
                    var actions: [HubAMQPBridge.Action] = []
                    hub.received(item, into: &actions)
                    try runHub(actions)
                }
            }
            if !wireToPool.isEmpty {
                var buffer = ByteBuffer(bytes: wireToPool)
                wireToPool.removeAll()
                while let item = try toPool.decode(buffer: &buffer) {
                    var actions: [AMQPPoolConnection.Action] = []
                    pool.received(item, into: &actions)
                    try runPool(actions)
                }
            }
        }
    }

    /// A device joins: the lowest free channel, then its CONNECT.
    mutating func join(_ id: String) throws {
        let expected = (0..<UInt16(pool.configuration.sessions)).first { !model.contains($0) }
        let channel = pool.takeChannel()
        if channel != expected {
            problems.append("took \(String(describing: channel)), model says \(String(describing: expected))")
        }
        guard let channel else { return }
        model.insert(channel)
        var bridge = AMQPDeviceBridge(
            configuration: {
                var c = AMQPDeviceBridge.Configuration(
                    hubHost: "hub.local",
                    cbs: true,
                    mechanism: "ANONYMOUS",
                    idleTimeOut: .seconds(60)
                )
                c.pooled = true
                return c
            }()
        )
        bridge.joinedPool(remoteMaxFrameSize: 4096)
        devices[channel] = bridge
        begun.remove(channel)
        ended.remove(channel)
        let token = "SharedAccessSignature sr=hub.local%2Fdevices%2F\(id)&sig=s"
        try deviceWrites(
            .connect(MQTTConnect(version: .v311, clientID: id, keepAliveSeconds: 30, password: Array(token.utf8))),
            channel
        )
        try settle()
    }

    mutating func deviceWrites(_ packet: MQTTPacket, _ channel: UInt16) throws {
        guard devices[channel] != nil else { return }
        var actions: [AMQPDeviceBridge.Action] = []
        devices[channel]!.deviceWrote(packet, now: .zero, into: &actions)
        try runDevice(actions, channel)
        try settle()
    }

    /// The device leaves (as `DeviceAMQPPool.leave`): its session is ended unless that already happened.
    mutating func leave(_ channel: UInt16) throws {
        guard devices.removeValue(forKey: channel) != nil else { return }
        if begun.contains(channel) && !ended.contains(channel) {
            ended.insert(channel)
            try hubReads(.performative(.end(nil), channel: channel))
        } else if !begun.contains(channel) {
            pool.release(unused: channel)
            model.remove(channel)
        }
        try settle()
    }

    private mutating func runDevice(_ actions: [AMQPDeviceBridge.Action], _ channel: UInt16) throws {
        for action in actions {
            switch action {
            case .send(var frame):
                frame.channel = channel
                if case .performative(.begin) = frame.body { begun.insert(channel) }
                if case .performative(.end) = frame.body { ended.insert(channel) }
                try hubReads(frame)
            case .deliver(.connack(let ack)) where ack.isAccepted: connacks[channel, default: 0] += 1
            case .deliver(.puback): pubacks[channel, default: 0] += 1
            case .refused, .protocolError, .close: try leave(channel)
            case .sendHeader: problems.append("a pooled session wrote a protocol header")
            case .deliver, .heartbeat: break
            }
        }
    }

    private mutating func runPool(_ actions: [AMQPPoolConnection.Action]) throws {
        for action in actions {
            switch action {
            case .sendHeader(let h): try hubReadsBytes(h.bytes)
            case .send(let frame): try hubReads(frame)
            case .opened: opened = true
            case .toSession(let channel, let item):
                if case .frame(let f) = item, case .performative(.end) = f.body {
                    ended.insert(channel)
                    model.remove(channel)
                }
                guard devices[channel] != nil else { continue }
                var out: [AMQPDeviceBridge.Action] = []
                devices[channel]!.received(item, now: .zero, into: &out)
                try runDevice(out, channel)
            case .heartbeat: break
            case .refused, .protocolError, .close: poolEnded = true
            }
        }
    }

    private mutating func hubReads(_ frame: AMQPFrame) throws {
        var b = ByteBuffer()
        try frame.encode(into: &b)
        try hubReadsBytes(Array(b.readableBytesView))
    }

    private mutating func hubReadsBytes(_ bytes: [UInt8]) throws {
        wireToHub += bytes
    }

    mutating func runHub(_ actions: [HubAMQPBridge.Action]) throws {
        for action in actions {
            switch action {
            case .sendHeader(let h): try poolReads(h.bytes)
            case .send(let frame):
                var b = ByteBuffer()
                try frame.encode(into: &b)
                try poolReads(Array(b.readableBytesView))
            case .sessionBegan(let c):
                if !hubSessions.insert(c).inserted { problems.append("hub session \(c) began twice") }
            case .sessionEnded(let c):
                hubSessions.remove(c)
                hubConnects[c] = nil
            case .toSession(let c, .connect):
                hubConnects[c, default: 0] += 1
                if hubConnects[c]! > 1 { problems.append("a second CONNECT on hub session \(c)") }
                let refuse = refuseNext
                refuseNext = false
                var more: [HubAMQPBridge.Action] = []
                hub.sessionAnswered(
                    channel: c,
                    .connack(MQTTConnAck(code: refuse ? 0x87 : 0)),
                    dailyQuota: false,
                    into: &more
                )
                if refuse { hub.sessionClosed(channel: c, into: &more) }
                try runHub(more)
            case .toSession(let c, .publish(let p)):
                guard let id = p.packetID else { continue }
                var more: [HubAMQPBridge.Action] = []
                hub.sessionAnswered(channel: c, .puback(MQTTAck(packetID: id)), dailyQuota: false, into: &more)
                try runHub(more)
            case .close: poolEnded = true
            case .toSession, .authenticate, .heartbeat: break
            }
        }
    }

    private mutating func poolReads(_ bytes: [UInt8]) throws {
        wireToPool += bytes
    }
}

@Suite("AMQP: pooled connections, pure")
struct AMQPPoolPropertyTests {
    @Test("three devices on one connection: each its own session, CBS put-token, CONNACK and PUBACKs")
    func threeDevices() throws {
        var h = AMQPPoolHarness(sessions: 995)
        try h.start()
        #expect(h.opened)
        for i in 0..<3 { try h.join("dev-\(i)") }
        #expect(h.connacks == [0: 1, 1: 1, 2: 1])
        #expect(h.hubSessions == [0, 1, 2])
        for c in UInt16(0)..<3 {
            for id in UInt16(1)...5 {
                try h.deviceWrites(
                    .publish(
                        MQTTPublish(
                            topic: "devices/dev-\(c)/messages/events/",
                            payload: ByteBuffer(),
                            qos: .atLeastOnce,
                            packetID: id
                        )
                    ),
                    c
                )
            }
        }
        #expect(h.pubacks == [0: 5, 1: 5, 2: 5])
        #expect(h.problems.isEmpty, "\(h.problems)")
    }

    @Test(
        "random joins, sends, leaves and refusals: channels match a model, one CONNECT per hub session, every connected device acknowledged",
        arguments: 0..<40
    )
    func randomOrders(seed: UInt64) throws {
        var rng = SplitMix64(seed: 0x9001_0000 + seed)
        let sessions = Int.random(in: 1...6, using: &rng)
        var h = AMQPPoolHarness(sessions: sessions)
        try h.start()
        var next = 0
        var sent: [UInt16: Int] = [:]
        for _ in 0..<500 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0, 1, 2:
                h.refuseNext = Int.random(in: 0..<5, using: &rng) == 0
                next += 1
                try h.join("dev-\(next)")
            case 3, 4:
                guard let c = h.devices.keys.randomElement(using: &rng) else { continue }
                try h.leave(c)
                sent[c] = nil
                h.pubacks[c] = nil
                h.connacks[c] = nil
            default:
                guard let c = h.devices.keys.randomElement(using: &rng), h.connacks[c] == 1 else { continue }
                sent[c, default: 0] += 1
                try h.deviceWrites(
                    .publish(
                        MQTTPublish(
                            topic: "devices/d/messages/events/",
                            payload: ByteBuffer(),
                            qos: .atLeastOnce,
                            packetID: UInt16(sent[c]!)
                        )
                    ),
                    c
                )
            }
            #expect(h.pool.channelsTaken == h.model.count, "seed \(seed): the pool's bitmap and the model disagree")
            #expect(!h.poolEnded, "seed \(seed): the connection ended")
        }
        for (c, n) in sent { #expect(h.pubacks[c, default: 0] == n, "seed \(seed): channel \(c) sent \(n)") }
        #expect(h.problems.isEmpty, "seed \(seed): \(h.problems)")
    }
}
