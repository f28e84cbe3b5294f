import FleetAMQP
import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

/// A device's AMQP bridge and the hub's, wired to each other through real bytes (each side's frames encoded, then
/// decoded by the other side's decoder), with a scripted MQTT session behind the hub's bridge. Checks the two
/// translations against each other: what a device publishes arrives at the session as the same PUBLISH, the session's
/// answers come back to the device as the MQTT packets they stand for.
struct AMQPPair {
    var device: AMQPDeviceBridge
    var hub: HubAMQPBridge
    var toHub = AMQPFrameDecoder()
    var toDevice = AMQPFrameDecoder()
    /// What reached the device's machine, and what reached the hub's session.
    var delivered: [MQTTPacket] = []
    var sessionGot: [MQTTPacket] = []
    var deviceEnded: AMQPDeviceBridge.Action?
    var hubClosed = false
    /// How the scripted session answers.
    var refuseConnect: UInt8?
    var throttleAfter = Int.max
    var acceptRenewals = true
    var renewals: [MQTTConnect] = []
    var publishes = 0
    /// Twin requests the session got, and whether it answers them (GET 200 with a document, PATCH 204 with a version).
    var twinRequests: [MQTTPublish] = []
    var answerTwin = true
    /// Every byte the hub's bridge wrote to the device, in order (fuzz corpus inputs are cut from it).
    var hubWrote: [UInt8] = []
    var now = Instant.zero

    init(cbs: Bool = true, hubFrameSize: UInt32 = 4096) {
        device = AMQPDeviceBridge(
            configuration: .init(hubHost: "hub.local", cbs: cbs, mechanism: "MSSBCBS", idleTimeOut: .seconds(60))
        )
        var settings = HubAMQPBridge.Configuration(hostName: "hub.local")
        settings.maxFrameSize = hubFrameSize
        settings.telemetryCredit = 10
        hub = HubAMQPBridge(configuration: settings)
        toHub.maxFrameSize = Int(hubFrameSize)
    }

    mutating func deviceWrites(_ packet: MQTTPacket) throws {
        var actions: [AMQPDeviceBridge.Action] = []
        device.deviceWrote(packet, now: now, into: &actions)
        try runDevice(actions)
    }

    mutating func sessionSends(_ packet: MQTTPacket) throws {
        var actions: [HubAMQPBridge.Action] = []
        hub.sessionAnswered(channel: 0, packet, dailyQuota: false, into: &actions)
        try runHub(actions)
    }

    private mutating func runDevice(_ actions: [AMQPDeviceBridge.Action]) throws {
        for action in actions {
            switch action {
            case .sendHeader(let h): try hubReads(h.bytes)
            case .send(let frame):
                var b = ByteBuffer()
                try frame.encode(into: &b)
                try hubReads(Array(b.readableBytesView))
            case .deliver(let packet): delivered.append(packet)
            case .refused, .protocolError, .close: deviceEnded = action
            case .heartbeat: break
            }
        }
    }

    private mutating func runHub(_ actions: [HubAMQPBridge.Action]) throws {
        for action in actions {
            switch action {
            case .sendHeader(let h): try deviceReads(h.bytes)
            case .send(let frame):
                var b = ByteBuffer()
                try frame.encode(into: &b)
                try deviceReads(Array(b.readableBytesView))
            case .toSession(_, let packet):
                sessionGot.append(packet)
                try answer(packet)
            case .authenticate(let channel, let connect):
                renewals.append(connect)
                var more: [HubAMQPBridge.Action] = []
                hub.authenticated(channel: channel, accepted: acceptRenewals, into: &more)
                try runHub(more)
            case .close: hubClosed = true
            case .heartbeat, .sessionBegan, .sessionEnded: break
            }
        }
    }

    /// The scripted session: CONNACK (accepted unless told), PUBACK (refused past `throttleAfter`), SUBACK.
    private mutating func answer(_ packet: MQTTPacket) throws {
        switch packet {
        case .connect: try sessionSends(.connack(MQTTConnAck(code: refuseConnect ?? 0)))
        case .publish(let p) where p.topic.hasPrefix("$iothub/twin/"):
            twinRequests.append(p)
            guard answerTwin, let rid = TwinTopic.parameter("$rid", of: p.topic) else { return }
            let patch = p.topic.contains("/PATCH/")
            let topic = TwinTopic.answer(status: patch ? 204 : 200, rid: rid, version: patch ? twinRequests.count : nil)
            try sessionSends(
                .publish(MQTTPublish(topic: topic, payload: ByteBuffer(string: patch ? "" : "{\"desired\":{}}")))
            )
        case .publish(let p):
            publishes += 1
            if let id = p.packetID {
                var ack = MQTTAck(packetID: id)
                if publishes > throttleAfter { ack.reasonCode = 0x97 }
                try sessionSends(.puback(ack))
            }
        case .subscribe(let s): try sessionSends(.suback(MQTTSubAck(packetID: s.packetID, codes: [1])))
        default: break
        }
    }

    private mutating func hubReads(_ bytes: [UInt8]) throws {
        guard !hubClosed else { return }
        var buffer = ByteBuffer(bytes: bytes)
        while let item = try toHub.decode(buffer: &buffer) {
            var actions: [HubAMQPBridge.Action] = []
            hub.received(item, into: &actions)
            try runHub(actions)
        }
    }

    private mutating func deviceReads(_ bytes: [UInt8]) throws {
        hubWrote += bytes
        var buffer = ByteBuffer(bytes: bytes)
        while let item = try toDevice.decode(buffer: &buffer) {
            var actions: [AMQPDeviceBridge.Action] = []
            device.received(item, now: now, into: &actions)
            try runDevice(actions)
        }
    }

    static func connect(_ id: String = "dev-1", token: String = "SharedAccessSignature sr=x") -> MQTTPacket {
        .connect(
            MQTTConnect(version: .v311, clientID: id, keepAliveSeconds: 30, username: "u", password: Array(token.utf8))
        )
    }

    static func publish(_ id: UInt16, bytes: Int = 16, qos: MQTTQoS = .atLeastOnce) -> MQTTPacket {
        .publish(
            MQTTPublish(
                topic: "devices/dev-1/messages/events/%24.mid=\(id)&site=plant-7",
                payload: ByteBuffer(bytes: (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(id)) }),
                qos: qos,
                packetID: qos == .atLeastOnce ? id : nil
            )
        )
    }
}

@Suite("AMQP: the device's bridge against the hub's, through bytes")
struct AMQPBridgePairTests {
    @Test("CBS put-token connects: the session sees the device's CONNECT with its token, the device its CONNACK")
    func cbsConnect() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect(token: "SharedAccessSignature sr=hub.local%2Fdevices%2Fdev-1&sig=s"))
        guard case .connect(let c)? = pair.sessionGot.first else {
            Issue.record("no CONNECT reached the session: \(pair.sessionGot)")
            return
        }
        #expect(c.clientID == "dev-1")
        #expect(c.password == Array("SharedAccessSignature sr=hub.local%2Fdevices%2Fdev-1&sig=s".utf8))
        #expect(c.username?.hasPrefix("hub.local/dev-1/?api-version=") == true)
        #expect(pair.delivered == [.connack(MQTTConnAck(code: 0))])
        #expect(pair.deviceEnded == nil)
    }

    @Test("a refused CONNECT is the IoT Hub code its SDK reports: 5 → 401003, 0x88 → 503001, 0x9F → 429001")
    func refusals() throws {
        for (code, expected) in [(UInt8(0x87), 401_003), (0x88, 503_001), (0x9F, 429_001), (0x8A, 403_012)] {
            var pair = AMQPPair()
            pair.refuseConnect = code
            try pair.deviceWrites(AMQPPair.connect())
            #expect(pair.deviceEnded == .refused(code: expected), "CONNACK 0x\(String(code, radix: 16))")
            #expect(pair.delivered.isEmpty)
        }
    }

    @Test("300 QoS 1 messages larger than the hub's frames: each arrives whole, in order, and is acknowledged once")
    func multiFrameTelemetry() throws {
        var pair = AMQPPair(hubFrameSize: 1024)
        try pair.deviceWrites(AMQPPair.connect())
        for id in UInt16(1)...300 { try pair.deviceWrites(AMQPPair.publish(id, bytes: 2500)) }
        let published = pair.sessionGot.compactMap { p -> MQTTPublish? in if case .publish(let x) = p { x } else { nil }
        }
        #expect(published.count == 300, "credit of 10 is granted again and again")
        for (i, p) in published.enumerated() {
            guard case .publish(let sent) = AMQPPair.publish(UInt16(i + 1), bytes: 2500) else { continue }
            #expect(p.payload == sent.payload)
            #expect(p.topic.hasPrefix("devices/dev-1/messages/events/"))
            #expect(p.topic.contains("site=plant-7") && p.topic.contains("%24.mid=\(i + 1)"))
        }
        let acks = pair.delivered.compactMap { p -> UInt16? in if case .puback(let a) = p { a.packetID } else { nil } }
        #expect(acks == Array(1...300))
    }

    @Test("QoS 0 goes settled and is not acknowledged; a throttled PUBACK ends the device with 429001")
    func settledAndThrottled() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        try pair.deviceWrites(AMQPPair.publish(1, qos: .atMostOnce))
        #expect(
            pair.sessionGot.last.map { if case .publish(let p) = $0 { p.qos == .atMostOnce } else { false } } == true
        )
        pair.throttleAfter = 1
        try pair.deviceWrites(AMQPPair.publish(2))
        #expect(pair.deviceEnded == .refused(code: 429_001))
    }

    @Test("C2D: subscribe attaches the link; a message reaches the device with its properties; its PUBACK settles it")
    func cloudToDevice() throws {
        var pair = AMQPPair()
        try pair.deviceWrites(AMQPPair.connect())
        let filter = MQTTSubscription(topicFilter: "devices/dev-1/messages/devicebound/#", qos: .atLeastOnce)
        try pair.deviceWrites(.subscribe(MQTTSubscribe(packetID: 7, subscriptions: [filter])))
        #expect(pair.delivered.last == .suback(MQTTSubAck(packetID: 7, codes: [1])))
        try pair.sessionSends(
            .publish(
                MQTTPublish(
                    topic: "devices/dev-1/messages/devicebound/%24.mid=c2d-1&color=red",
                    payload: ByteBuffer(string: "hi"),
                    qos: .atLeastOnce,
                    packetID: 41
                )
            )
        )
        guard case .publish(let got)? = pair.delivered.last else {
            Issue.record("no C2D PUBLISH reached the device: \(pair.delivered)")
            return
        }
        #expect(got.payload == ByteBuffer(string: "hi"))
        #expect(got.topic.contains("color=red") && got.topic.contains("%24.mid=c2d-1"))
        let before = pair.sessionGot.count
        try pair.deviceWrites(.puback(MQTTAck(packetID: try #require(got.packetID))))
        #expect(pair.sessionGot.dropFirst(before).first == .puback(MQTTAck(packetID: 41)))
    }

    @Test("without CBS (a plain AMQP client) the telemetry link's address names the device")
    func anonymousDevice() throws {
        var pair = AMQPPair(cbs: false)
        try pair.deviceWrites(AMQPPair.connect())
        guard case .connect(let c)? = pair.sessionGot.first else {
            Issue.record("no CONNECT: \(pair.sessionGot)")
            return
        }
        #expect(c.clientID == "dev-1")
        #expect(pair.delivered == [.connack(MQTTConnAck(code: 0))])
    }

    @Test("a renewed token (the machine's AUTH) is a new put-token on the same links: accepted, the device stays")
    func renewal() throws {
        for accepted in [true, false] {
            var pair = AMQPPair()
            pair.acceptRenewals = accepted
            try pair.deviceWrites(AMQPPair.connect())
            let fresh = Array("SharedAccessSignature sr=hub.local%2Fdevices%2Fdev-1&sig=new&se=9".utf8)
            try pair.deviceWrites(
                .auth(
                    MQTTReasonPacket(
                        reasonCode: 0x19,
                        properties: [
                            .init(.authenticationMethod, .string("SAS")), .init(.authenticationData, .binary(fresh)),
                        ]
                    )
                )
            )
            #expect(pair.renewals.map(\.password) == [fresh])
            #expect(pair.renewals.first?.clientID == "dev-1")
            #expect(pair.deviceEnded == (accepted ? nil : .refused(code: 401_003)))
            #expect(pair.delivered == [.connack(MQTTConnAck(code: 0))], "nothing more reaches the device's machine")
            if accepted {
                try pair.deviceWrites(AMQPPair.publish(1))
                #expect(pair.delivered.last == .puback(MQTTAck(packetID: 1)), "the connection goes on")
            }
        }
    }
}
