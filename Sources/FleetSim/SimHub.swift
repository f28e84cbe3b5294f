internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetMetrics
internal import NIOCore

/// The hub as FleetSim models it: the test hub's own rules (`HubCore`: the tier's throttles, the daily quota, every
/// fault's answer) plus what a hub process and its sockets add, from `scenario.simulation`: the listener's accept
/// capacity and backlog, and the hub's own answer times. What it knows of each device lives in that device's
/// `HubSide` (kept beside the device, so one device's state is one memory neighbourhood).
struct SimHub {
    enum Link: UInt8 {
        case none
        /// TCP is up, no CONNECT answered yet.
        case awaitingConnect
        case connected
    }

    /// What the hub answers to one packet.
    enum Answer: Equatable {
        case nothing
        /// Write this after `delay` (CONNACK, PUBACK, PINGRESP, SUBACK); `close` closes the connection after it.
        case reply(DevicePacket, delay: Duration, close: Bool)
        /// Close the connection now, with a TCP reset (`refuse: reset`) or a FIN.
        case close(reset: Bool)
    }

    let model: Scenario.Simulation
    let connackVersion: MQTTVersion
    let keepAlive: Duration
    /// Payload bytes of every message, for the daily quota's meter.
    let payloadBytes: Int
    /// New connections a CONNECT-less connection may stay before the hub closes it (HubConfiguration's default).
    let connectTimeout: Duration = .seconds(10)
    let idleFactor = 1.5
    /// The hub's rules and counters, as the test hub runs them.
    var core: HubCore
    private(set) var open = 0

    private var nextAccept: Int64 = 0

    /// This partition's share of the listener's capacity (1 / partitions); `core` splits the tier and faults alike.
    let share: Double

    init(scenario: Scenario, partitions: Int = 1) {
        share = 1 / Double(max(1, partitions))
        model = scenario.simulation
        core = HubCore(quotas: HubQuotas(scenario.quota), parts: partitions, bin: scenario.bin)
        connackVersion = scenario.mqtt.version
        keepAlive = scenario.mqtt.keepAlive
        payloadBytes = scenario.telemetry.payloadBytes
    }

    // MARK: - connections

    /// A SYN arrives: the instant the listener accepts the connection, or nil when its backlog is full (the SYN
    /// is dropped). With no accept limit the kernel completes every handshake at once.
    mutating func syn(_ side: inout HubSide, connection g: UInt32, now: Instant) -> Instant? {
        guard let start = acceptAt(now: now) else { return nil }
        side.acceptAt = start
        opened(&side, connection: g, now: now)
        return now
    }

    /// When the listener accepts a connection whose SYN arrives now; nil when its backlog is full.
    private mutating func acceptAt(now: Instant) -> Int64? {
        guard model.acceptRate > 0 else { return now.nanoseconds }
        let spacing = Int64(1e9 / (model.acceptRate * share))
        let start = max(nextAccept, now.nanoseconds)
        let waiting = (start - now.nanoseconds) / max(1, spacing)
        guard waiting < max(1, Int((Double(model.acceptBacklog) * share).rounded())) else { return nil }
        nextAccept = start + spacing
        return start
    }

    /// A pooled connection's SYN arrives: whether the listener takes it (the connection is not a device's).
    mutating func accept(now: Instant) -> Bool { acceptAt(now: now) != nil }

    /// A device's session on a pooled connection the listener already accepted: the hub's side opens at once.
    mutating func sessionOpened(_ side: inout HubSide, connection g: UInt32, now: Instant) {
        side.acceptAt = now.nanoseconds
        opened(&side, connection: g, now: now)
    }

    private mutating func opened(_ side: inout HubSide, connection g: UInt32, now: Instant) {
        if side.link != .none { closed(&side, now: now) }
        side.connection = g
        side.writesNotBefore = 0
        side.link = .awaitingConnect
        side.silenced = false
        side.lastHeard = Self.ms(now)
        open += 1
        core.recorder.connections(open, at: now)
    }

    /// The connection ended (either side).
    mutating func closed(_ side: inout HubSide, now: Instant) {
        guard side.link != .none else { return }
        side.link = .none
        side.silenced = false
        open -= 1
        core.recorder.connections(open, at: now)
    }

    /// True when the device's bytes vanish on the way (a blackhole in force for it, or its network switched away).
    func isSilent(_ side: HubSide, id: String) -> Bool {
        side.silenced || core.isBlackholed(deviceID: id, peer: { nil })
    }

    /// How long the hub waits without hearing from the connection before it closes it.
    func idleLimit(_ side: HubSide) -> Duration {
        side.link == .connected && keepAlive > .zero ? keepAlive * idleFactor : connectTimeout
    }

    // MARK: - packets

    mutating func received(_ packet: HubPacket, side: inout HubSide, id: String, now: Instant) -> Answer {
        side.lastHeard = max(side.lastHeard, Self.ms(now))
        switch packet {
        case .connect:
            guard side.link == .awaitingConnect else { return .close(reset: false) }
            return connect(&side, id: id, now: now)
        case .publish(let seq, let packetID, let qos):
            guard side.link == .connected else { return .close(reset: false) }
            return publish(&side, id: id, seq: seq, packetID: packetID, qos: qos, now: now)
        case .twin(let rid, let bytes, let update):
            guard side.link == .connected else { return .close(reset: false) }
            return twin(update: update, rid: rid, bytes: bytes, now: now)
        case .pingreq:
            return .reply(.pingresp, delay: .zero, close: false)
        case .subscribe(let packetID, let filters):
            return .reply(.suback(packetID: packetID, count: filters), delay: .zero, close: false)
        case .disconnect:
            closed(&side, now: now)
            return .nothing
        }
    }

    private mutating func connect(_ side: inout HubSide, id: String, now: Instant) -> Answer {
        switch core.admitConnect(deviceID: id, peer: { nil }, now: now) {
        case .reset:
            closed(&side, now: now)
            return .close(reset: true)
        case .answer(let override?, let delay):
            let (code, reason) = HubSession.refusal(override, version: connackVersion)
            core.recorder.record(.refused(code: code, reason: reason), peer: nil, at: now)
            closed(&side, now: now)
            return .reply(.connack(code: code), delay: model.connackDelay + (delay ?? .zero), close: true)
        case .answer(nil, let delay):
            side.link = .connected
            core.recorder.record(.accepted(clientID: id, tokenExpiry: nil), peer: nil, at: now)
            return .reply(.connack(code: 0), delay: model.connackDelay + (delay ?? .zero), close: false)
        }
    }

    private mutating func publish(
        _ side: inout HubSide,
        id: String,
        seq: UInt32,
        packetID: UInt16,
        qos: MQTTQoS,
        now: Instant
    ) -> Answer {
        let admission = core.admitSend(
            deviceID: id,
            peer: { nil },
            payloadBytes: payloadBytes,
            acknowledged: qos == .atLeastOnce,
            now: now,
            unixSeconds: now.nanoseconds / 1_000_000_000
        )
        switch admission {
        case .refused:
            // MQTT 5 answers PUBACK 0x97 (quota exceeded); 3.1.1 has no way to say it and closes the connection.
            guard connackVersion == .v5, qos == .atLeastOnce else {
                closed(&side, now: now)
                return .close(reset: false)
            }
            return .reply(.puback(packetID: packetID, code: 0x97), delay: model.pubackDelay, close: false)
        case .answer(let delay):
            core.recorder.countMessage(duplicate: seq <= side.lastSeq, firstFromDevice: side.lastSeq == 0, at: now)
            side.lastSeq = max(side.lastSeq, seq)
            guard qos == .atLeastOnce else { return .nothing }
            return .reply(
                .puback(packetID: packetID, code: 0),
                delay: model.pubackDelay + (delay ?? .zero),
                close: false
            )
        }
    }

    /// A twin request, as the test hub answers it: its twin throttle and the daily quota decide (`HubCore.admitTwin`);
    /// refused: 429 (403 over the quota), else 200 for a GET and 204 for a PATCH after the shaping delay.
    private mutating func twin(update: Bool, rid: UInt32, bytes: UInt16, now: Instant) -> Answer {
        let admission = core.admitTwin(
            update: update,
            payloadBytes: Int(bytes),
            now: now,
            unixSeconds: now.nanoseconds / 1_000_000_000
        )
        switch admission {
        case .refused(let daily):
            return .reply(.twinAnswer(rid: rid, status: daily ? 403 : 429), delay: model.pubackDelay, close: false)
        case .answer(let delay):
            core.recorder.countTwin(get: !update)
            return .reply(
                .twinAnswer(rid: rid, status: update ? 204 : 200),
                delay: model.pubackDelay + (delay ?? .zero),
                close: false
            )
        }
    }

    static func ms(_ t: Instant) -> Int32 { Int32(clamping: t.nanoseconds / 1_000_000) }
}

/// What the hub knows of one device: its connection (by the device's connection generation), whether a
/// network-switch fault silenced it, an idle check pending, the highest message id seen, the last time it heard from
/// the device (ms of simulated time), when the listener accepts the current connection, and the earliest instant the
/// next answer may leave.
struct HubSide {
    var link: SimHub.Link = .none
    var silenced = false
    var idleCheck = false
    var connection: UInt32 = 0
    var lastSeq: UInt32 = 0
    var lastHeard: Int32 = 0
    var acceptAt: Int64 = 0
    /// As the test hub: answers to one connection leave in order, a delayed one holding back those after it.
    var writesNotBefore: Int64 = 0

    /// True when the hub holds connection `g` of this device open.
    func holds(_ g: UInt32) -> Bool { link != .none && connection == g }
}

/// A packet on its way to the hub, as small as the model needs (the wheel holds one per packet in flight).
enum HubPacket: Equatable {
    case connect
    /// Message id (`$.mid`, truncated to 32 bits), packet id (0 for QoS 0) and QoS.
    case publish(seq: UInt32, packetID: UInt16, qos: MQTTQoS)
    case pingreq
    case subscribe(packetID: UInt16, filters: UInt8)
    case disconnect
    /// A twin GET or reported PATCH (`update`), its request id and body size (for the daily quota). Widest field
    /// first, as in every case here: the packet stays 7 bytes, so an event on the wire stays 24 (a test checks).
    case twin(rid: UInt32, bytes: UInt16, update: Bool)
}

/// A packet on its way to a device.
enum DevicePacket: Equatable {
    case connack(code: UInt8)
    case puback(packetID: UInt16, code: UInt8)
    case pingresp
    case suback(packetID: UInt16, count: UInt8)
    /// The answer to twin request `rid` (widest field first: see `HubPacket.twin`).
    case twinAnswer(rid: UInt32, status: UInt16)

    /// The packet the device's state machine receives.
    func packet(qos: MQTTQoS) -> MQTTPacket {
        switch self {
        case .connack(let code): .connack(MQTTConnAck(code: code))
        case .puback(let id, let code): .puback(MQTTAck(packetID: id, reasonCode: code))
        case .pingresp: .pingresp
        case .suback(let id, let count):
            .suback(MQTTSubAck(packetID: id, codes: Array(repeating: qos.rawValue, count: Int(count))))
        case .twinAnswer(let rid, let status):
            .publish(MQTTPublish(topic: TwinTopic.answer(status: Int(status), rid: String(rid)), payload: ByteBuffer()))
        }
    }
}
