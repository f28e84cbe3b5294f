import FleetAMQP
import FleetCore
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

/// The round trips of an AMQP connect, counted on the two bridges in lock step (each round: everything the device
/// wrote reaches the hub, then everything the hub answered reaches the device), against the figure FleetSim uses.
@Suite("AMQP connect round trips")
struct AMQPHandshakeTests {
    @Test(
        "with CBS, without, and without SASL (X.509): the rounds before the hub's session sees the CONNECT and before the device's CONNACK",
        arguments: [(true, true), (false, true), (false, false)]
    )
    func roundTrips(cbs: Bool, sasl: Bool) throws {
        var configuration = AMQPDeviceBridge.Configuration(
            hubHost: "hub",
            cbs: cbs,
            mechanism: "ANONYMOUS",
            idleTimeOut: nil
        )
        configuration.sasl = sasl
        var device = AMQPDeviceBridge(configuration: configuration)
        var hub = HubAMQPBridge(configuration: .init(hostName: "hub"))
        // Without SASL the hub takes the AMQP header only from a client whose TLS handshake presented a certificate.
        if !sasl { hub.clientPresentedCertificate() }
        var toHub: [UInt8] = []
        var toDevice: [UInt8] = []
        var hubDecoder = AMQPFrameDecoder()
        var deviceDecoder = AMQPFrameDecoder()
        var connectRound: Int?
        var connackRound: Int?

        func bytes(_ header: AMQPProtocolHeader?, _ frame: AMQPFrame?) throws -> [UInt8] {
            if let header { return header.bytes }
            var b = ByteBuffer()
            try frame?.encode(into: &b)
            return Array(b.readableBytesView)
        }

        var actions: [AMQPDeviceBridge.Action] = []
        device.deviceWrote(
            .connect(MQTTConnect(version: .v311, clientID: "d", keepAliveSeconds: 30, password: [1])),
            now: .zero,
            into: &actions
        )
        for round in 1...10 {
            for a in actions {
                if case .sendHeader(let h) = a { toHub += try bytes(h, nil) }
                if case .send(let f) = a { toHub += try bytes(nil, f) }
            }
            actions.removeAll()
            // The hub reads all the device wrote, and answers (its session answering at once).
            var buffer = ByteBuffer(bytes: toHub)
            toHub.removeAll()
            var hubActions: [HubAMQPBridge.Action] = []
            while let item = try hubDecoder.decode(buffer: &buffer) { hub.received(item, into: &hubActions) }
            var i = 0
            while i < hubActions.count {
                switch hubActions[i] {
                case .sendHeader(let h): toDevice += try bytes(h, nil)
                case .send(let f): toDevice += try bytes(nil, f)
                case .toSession(let channel, .connect):
                    connectRound = connectRound ?? round
                    hub.sessionAnswered(
                        channel: channel,
                        .connack(MQTTConnAck(code: 0)),
                        dailyQuota: false,
                        into: &hubActions
                    )
                default: break
                }
                i += 1
            }
            // The device reads all the hub answered.
            var back = ByteBuffer(bytes: toDevice)
            toDevice.removeAll()
            while let item = try deviceDecoder.decode(buffer: &back) {
                device.received(item, now: .zero, into: &actions)
            }
            if actions.contains(.deliver(.connack(MQTTConnAck(code: 0)))) {
                connackRound = round
                break
            }
        }
        let expected = AMQPDeviceBridge.handshakeRoundTrips(cbs: cbs, sasl: sasl)
        #expect(
            connectRound == expected.beforeCredentials + 1,
            "the CONNECT goes out in round \(String(describing: connectRound)) (cbs \(cbs), sasl \(sasl))"
        )
        #expect(connackRound == expected.beforeCredentials + 1 + expected.afterAcceptance)
    }
}

@Suite("AMQP liveness: heartbeats stand for PINGRESPs")
struct AMQPLivenessTests {
    @Test("a hub heard within the ping interval answers a PINGREQ at once; a silent one never, until it is heard")
    func pingAnsweredOnlyWhileTheHubIsHeard() {
        var bridge = AMQPDeviceBridge(
            configuration: .init(hubHost: "hub", cbs: false, mechanism: "ANONYMOUS", idleTimeOut: .seconds(4))
        )
        var actions: [AMQPDeviceBridge.Action] = []
        let at = { (s: Int64) in Instant(nanoseconds: s * 1_000_000_000) }
        bridge.deviceWrote(
            .connect(MQTTConnect(version: .v311, clientID: "d", keepAliveSeconds: 4)),
            now: at(0),
            into: &actions
        )
        // Heartbeats every 2 s (half the idle timeout we announced): every PINGREQ is answered at once.
        for t in stride(from: Int64(2), through: 10, by: 2) {
            bridge.received(.frame(AMQPFrame(.empty)), now: at(t), into: &actions)
            actions.removeAll()
            bridge.deviceWrote(.pingreq, now: at(t) + .milliseconds(500), into: &actions)
            #expect(actions == [.deliver(.pingresp)], "PINGREQ at \(t).5 s")
        }
        // The hub goes silent after 10 s: a PINGREQ at 14.5 s is not answered (the machine's ping timeout ends it) ...
        actions.removeAll()
        bridge.deviceWrote(.pingreq, now: at(14) + .milliseconds(500), into: &actions)
        #expect(actions.isEmpty)
        // ... unless the hub speaks again before that: then the owed PINGRESP comes with it.
        bridge.received(.frame(AMQPFrame(.empty)), now: at(16), into: &actions)
        #expect(actions == [.deliver(.pingresp)])
    }
}

@Suite("AMQP without SASL")
struct AMQPWithoutSASLTests {
    @Test("the hub answers an AMQP header without SASL only when a TLS certificate identified the client")
    func headerNeedsCertificate() {
        for presented in [false, true] {
            var hub = HubAMQPBridge(configuration: .init(hostName: "hub"))
            if presented { hub.clientPresentedCertificate() }
            var actions: [HubAMQPBridge.Action] = []
            hub.received(.header(.amqp), into: &actions)
            #expect(actions == (presented ? [.sendHeader(.amqp)] : [.sendHeader(.sasl), .close]))
        }
    }
}
