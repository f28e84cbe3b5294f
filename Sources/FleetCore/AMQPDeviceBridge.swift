public import FleetAMQP
public import FleetMQTT
internal import NIOCore

/// A device over AMQP 1.0 (reference §11) with the same state machine as over MQTT: the bridge sits between the
/// device's machine (MQTT packets) and one AMQP connection, and turns what the machine writes into AMQP and what the
/// hub answers back into MQTT packets. Pure: it takes `now:` and returns actions; `DeviceAMQPBridge` runs them.
///
/// - CONNECT starts the connection: SASL (the SDK's mechanism when the hub offers it, else ANONYMOUS, or PLAIN with
///   the profile's username and password), then open and one session. With SAS authentication the CONNECT's password
///   (the SAS token) goes to the hub by CBS put-token on `$cbs` (status 200 accepts it); then the telemetry sender link
///   `/devices/{id}/messages/events` is attached, and its attach answer is the CONNACK. A refusal anywhere (SASL
///   outcome, CBS status, a link's or the connection's error) reaches the device as the IoT Hub error code its SDK
///   reports (`AMQPConditions`), so storms, outages and bad credentials are measured as over MQTT.
/// - A telemetry PUBLISH is a transfer on the sender link with the property bag as message properties (`$.mid`,
///   `$.cid`, `$.ct`, `$.ce`) and application properties; QoS 1 is unsettled and the hub's `accepted` disposition is
///   its PUBACK, QoS 0 is sent settled. Transfers wait for link credit and the session window; a message larger than
///   the hub's frame size goes in several frames.
/// - SUBSCRIBE to the C2D topic attaches the receiver link `/devices/{id}/messages/devicebound` and grants credit; a
///   message becomes a QoS 1 PUBLISH and the device's PUBACK settles it `accepted`. SUBSCRIBE to `$iothub/twin/res/#`
///   attaches the twin sender and receiver on `/devices/{id}/twin`; a twin GET or reported PATCH becomes a request
///   on the sender (annotations `operation`, `resource`, the request id as correlation-id) and its answer (annotation
///   `status`, `version`) the MQTT answer topic. The SUBACK comes when every link it asked for has been answered.
/// - PINGREQ is answered at once when the hub was heard within the device's ping interval (which we announce as our
///   idle timeout, so a live hub sends something at least twice per interval), else when it is next heard; the
///   connection's own keep-alive is the empty frames the handler sends every half of the hub's idle timeout.
public struct AMQPDeviceBridge: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// `{host}` of the link addresses and the CBS audience.
        public var hubHost: String
        /// Authenticate by CBS put-token with the CONNECT's password (IoT Hub with SAS tokens); false: SASL only.
        public var cbs: Bool
        /// The SASL mechanism the device's SDK asks for when offered (C: MSSBCBS; Java, .NET: ANONYMOUS).
        public var mechanism: String
        /// Announced in our open: the hub must send something at least every half of it (nil: no limit). The device's
        /// ping interval, so a heartbeat falls between any two PINGREQs of a live connection.
        public var idleTimeOut: Duration?
        /// C2D messages the hub may send before the device settles them.
        public var cloudToDeviceCredit: UInt32 = 50
        /// The largest frame we accept (announced in our open).
        public var maxFrameSize: UInt32 = UInt32(AMQPFrameDecoder.defaultMaxFrameSize)
        /// One session of a pooled connection (`AMQPPoolConnection` runs SASL, open, heartbeats and close): CONNECT
        /// begins the session, DISCONNECT ends it, the hub's end is answered; frames go out on channel 0 and the pool
        /// puts them on this session's channel.
        public var pooled = false
        /// SASL first (SAS tokens, brokers); false: the AMQP header at once, the TLS certificate being the identity
        /// (X.509 devices: no SASL and no CBS, reference §11.1).
        public var sasl = true

        public init(hubHost: String, cbs: Bool, mechanism: String, idleTimeOut: Duration?) {
            self.hubHost = hubHost
            self.cbs = cbs
            self.mechanism = mechanism
            self.idleTimeOut = idleTimeOut
        }
    }

    public enum Action: Sendable, Hashable {
        case sendHeader(AMQPProtocolHeader)
        case send(AMQPFrame)
        /// A packet for the device's machine, as if the hub had sent it over MQTT.
        case deliver(MQTTPacket)
        /// The hub refused: the IoT Hub error code the device's SDK reports for it.
        case refused(code: Int)
        /// The hub broke the protocol (a frame out of place, no mechanism we speak): end the connection.
        case protocolError(String)
        /// The hub ended the connection without an error: close the socket.
        case close
        /// Send an empty frame this often from now on (half the hub's idle timeout).
        case heartbeat(every: Duration)
    }

    enum Phase: Sendable, Hashable {
        case awaitingConnect, awaitingMechanisms, awaitingOutcome, awaitingAMQPHeader, opening, authorizing, attaching
        case ready, closed
    }

    /// Our links; the handle is the kind's raw value.
    enum Link: UInt32, Sendable, Hashable, CaseIterable {
        case cbsSender = 0
        case cbsReceiver, telemetry, cloudToDevice, twinSender, twinReceiver

        var name: String {
            switch self {
            case .cbsSender: "$cbs-sender"
            case .cbsReceiver: "$cbs-receiver"
            case .telemetry: "telemetry"
            case .cloudToDevice: "c2d"
            case .twinSender: "twin-sender"
            case .twinReceiver: "twin-receiver"
            }
        }
    }

    struct Pending: Sendable, Hashable {
        var link: Link
        var payload: ByteBuffer
        var settled: Bool
        /// What the delivery's outcome answers: a device's QoS 1 PUBLISH, or the CBS request.
        var packetID: UInt16?
    }

    let configuration: Configuration
    var phase: Phase = .awaitingConnect
    var deviceID = ""
    var username: String?
    var password: [UInt8]?
    /// The hub's limits, from its open (512 until then: every peer accepts that).
    var remoteMaxFrameSize = AMQPFrameDecoder.minimumMaxFrameSize
    var lastHeard: Instant = .zero
    var pongOwed = false
    // Session flow control (part 2.5.6): transfer ids we send, the hub's window for them, the ids we receive.
    var nextOutgoingID: UInt32 = 0
    var remoteIncomingWindow: UInt32 = 0
    var nextIncomingID: UInt32 = 0
    var nextDeliveryID: UInt32 = 0
    /// Our four links' state (fixed storage: a device on AMQP keeps no dictionary per link).
    var links = LinkTable()
    var queue: [Pending] = []
    var queueHead = 0
    /// Deliveries sent unsettled and not yet answered, in delivery-id order.
    var unsettled: [Unsettled] = []
    let cbsRequestID = "put-token-1"
    /// In-band renewals so far, and the put-token whose answer is awaited (its message id).
    var renewals = 0
    var pendingRenewal: String?
    /// The SUBSCRIBE waiting for its links' attach answers (C2D, the two twin links), its filters, and the links
    /// not answered yet.
    var subscribeID: UInt16?
    var subscribeFilters: [String] = []
    var awaitingLinks: [Link] = []
    /// The twin request the device wrote that waits for the twin sender's attach and credit (the machine has at most
    /// one request out; a newer one replaces it). Apart from the queue: a twin link the hub refuses must not hold up
    /// telemetry behind it.
    var heldTwin: ByteBuffer?
    /// C2D: a message arriving in several frames, and messages handed to the device: packet id → delivery id.
    var partial: (deliveryID: UInt32?, settled: Bool, payload: ByteBuffer)?
    var handedOver: [(packetID: UInt16, deliveryID: UInt32)] = []
    var nextPacketID: UInt16 = 0
    var receivedSinceGrant: UInt32 = 0

    struct LinkState: Sendable, Hashable {
        /// The hub's handle for this link once it answered the attach.
        var remoteHandle: UInt32?
        /// The hub answered the attach with a terminus (a refused link never is).
        var attached = false
        var deliveryCount: UInt32 = 0
        var credit: UInt32 = 0
        /// We sent our detach: the hub's detach that follows answers it.
        var closing = false
    }

    struct LinkTable: Sendable, Hashable {
        private var cbsSender = LinkState()
        private var cbsReceiver = LinkState()
        private var telemetry = LinkState()
        private var cloudToDevice = LinkState()
        private var twinSender = LinkState()
        private var twinReceiver = LinkState()

        subscript(link: Link) -> LinkState {
            get {
                switch link {
                case .cbsSender: cbsSender
                case .cbsReceiver: cbsReceiver
                case .telemetry: telemetry
                case .cloudToDevice: cloudToDevice
                case .twinSender: twinSender
                case .twinReceiver: twinReceiver
                }
            }
            set {
                switch link {
                case .cbsSender: cbsSender = newValue
                case .cbsReceiver: cbsReceiver = newValue
                case .telemetry: telemetry = newValue
                case .cloudToDevice: cloudToDevice = newValue
                case .twinSender: twinSender = newValue
                case .twinReceiver: twinReceiver = newValue
                }
            }
        }

        /// Our link the hub calls `handle`.
        func link(remote handle: UInt32) -> Link? {
            // Six comparisons, no `allCases` array per frame.
            if telemetry.remoteHandle == handle { return .telemetry }
            if cloudToDevice.remoteHandle == handle { return .cloudToDevice }
            if cbsSender.remoteHandle == handle { return .cbsSender }
            if cbsReceiver.remoteHandle == handle { return .cbsReceiver }
            if twinSender.remoteHandle == handle { return .twinSender }
            if twinReceiver.remoteHandle == handle { return .twinReceiver }
            return nil
        }
    }

    struct Unsettled: Sendable, Hashable {
        var deliveryID: UInt32
        var link: Link
        var packetID: UInt16?
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Our session's incoming window, restated in every flow (frames are handled as they come, so it never shrinks).
    static let incomingWindow: UInt32 = 65_535
    static let outgoingWindow: UInt32 = UInt32(Int32.max)
    /// The largest C2D message reassembled from several frames (IoT Hub's C2D limit is 64 KB).
    static let maxMessageSize = 1 << 20

    var telemetryAddress: String { "amqps://\(configuration.hubHost)/devices/\(deviceID)/messages/events" }
    var cloudToDeviceAddress: String { "amqps://\(configuration.hubHost)/devices/\(deviceID)/messages/devicebound" }
    var cloudToDeviceFilter: String { "devices/\(deviceID)/messages/devicebound/#" }
    var twinAddress: String { "amqps://\(configuration.hubHost)/devices/\(deviceID)/twin" }
}

extension AMQPDeviceBridge {
    /// What a connect costs over AMQP beyond MQTT's CONNECT → CONNACK, in round trips, for FleetSim's network model:
    /// before the hub sees the device's credentials (the SASL header and mechanisms, SASL init and outcome, the AMQP
    /// header with open and begin, and with CBS the `$cbs` links' attach and credit: the put-token then goes out as a
    /// CONNECT would), and after the hub accepted it (with CBS, the telemetry link's attach answers last; without,
    /// the attach carries the device's identity and its answer is the acceptance). `AMQPHandshakeTests` counts them on
    /// the two bridges.
    /// How a device authenticates over AMQP: SAS devices open with SASL and put their tokens by CBS; X.509 devices
    /// open with the AMQP header at once, their TLS certificate being the identity (reference §11.1); without
    /// authentication (a broker), SASL only.
    public static func authentication(_ auth: DeviceAuth?) -> (cbs: Bool, sasl: Bool) {
        let x509 = auth?.usesX509 == true
        return (auth != nil && !x509, !x509)
    }

    /// Without SASL (X.509) the AMQP header, open and begin take one round trip and the telemetry attach is the
    /// credentials' check.
    public static func handshakeRoundTrips(
        cbs: Bool,
        sasl: Bool = true
    ) -> (beforeCredentials: Int, afterAcceptance: Int) {
        guard sasl else { return (1, 0) }
        return cbs ? (4, 1) : (3, 0)
    }

    /// The same for a device joining an open pooled connection (`pooled`): its begin, and with CBS the `$cbs` links'
    /// attach and credit, before the hub sees its credentials; the open connection's own handshake (TCP, then
    /// `pooledConnectionRoundTrips`) is paid once per connection.
    public static func handshakeRoundTrips(cbs: Bool, pooled: Bool) -> (beforeCredentials: Int, afterAcceptance: Int) {
        guard pooled else { return handshakeRoundTrips(cbs: cbs) }
        return cbs ? (2, 1) : (1, 0)
    }

    /// A pooled connection's handshake after TCP: the SASL header and mechanisms, SASL init and outcome, the AMQP
    /// header and open.
    public static let pooledConnectionRoundTrips = 3
}
