public import FleetAMQP
internal import FleetCore
public import FleetMQTT
import Foundation
internal import NIOCore

/// The hub's AMQP 1.0 front as a pure machine (reference §11): AMQP frames from a client become what the same
/// operations are over MQTT, handed to the hub's MQTT session (so authentication, quotas, throttles, faults and the
/// hub's counts are the MQTT ones), and the session's answers become AMQP again.
///
/// - SASL offers MSSBCBS, ANONYMOUS and PLAIN. PLAIN carries `{deviceId}@sas.{hub}` and the SAS token; the others
///   authenticate by CBS put-token on `$cbs` (reference §11.1): the token's audience names the device, and the put-token
///   becomes the session's CONNECT; its CONNACK is the CBS status (200, or 401, 403, 429, 503 per refusal). A client
///   that neither puts a token nor uses PLAIN connects anonymously with the device of its first link's address
///   (accepted only by a hub that lets anyone in). One device per session and up to `maxSessions` sessions per
///   connection (the .NET SDK's pooled connections): another device's token or link on a session is refused with
///   `amqp:not-allowed`; each session has its own MQTT session behind it, so a pooled connection's devices meet the
///   hub's rules one by one.
/// - The telemetry link (`…/devices/{id}/messages/events`) is answered once the device is in; each message becomes a
///   PUBLISH on the telemetry topic (properties → property bag), QoS 1 when unsettled; the PUBACK is the `accepted`
///   disposition, a refused one `rejected` with IoT Hub's condition (throttled, or the daily quota's).
/// - The C2D link (`…/messages/devicebound`) subscribes to the C2D topic; each message the hub delivers goes out as a
///   transfer when the client has given credit; `accepted` or `rejected` settle it (PUBACK), `released` or `modified`
///   put it back first in line.
/// - The twin links (a sender and a receiver on `…/devices/{id}/twin`, reference §11.2): a request's message
///   annotation `operation` (GET; PATCH of `/properties/reported`) becomes the MQTT twin request on the device's
///   session, whose answer goes back on the twin receiver with the annotations `status` (and `version`) and the
///   request's correlation-id; PUT/DELETE of `/notifications/twin/properties/desired` are answered 200 (the test hub
///   never changes desired properties). The direct-method links (`…/methods/devicebound`) are attached and carry
///   nothing: the test hub invokes no methods.
/// - Frames that do not decode or make no sense close the connection with an AMQP error (and are counted by the front).
public struct HubAMQPBridge: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// `{host}` of the CONNECT usernames (the hub's host name).
        public var hostName: String
        /// The largest frame the hub accepts (announced in its open).
        public var maxFrameSize: UInt32 = UInt32(AMQPFrameDecoder.defaultMaxFrameSize)
        /// Telemetry messages a client may send before the hub grants more.
        public var telemetryCredit: UInt32 = 100
        /// Sessions (devices) one connection may carry: IoT Hub allows 999 tokens per connection (reference §11.1),
        /// announced as the channel maximum in our open.
        public var maxSessions: UInt16 = 999

        public init(hostName: String) { self.hostName = hostName }
    }

    public enum Action: Sendable, Hashable {
        case sendHeader(AMQPProtocolHeader)
        case send(AMQPFrame)
        /// A client began a session (channel): one device's MQTT session starts for it.
        case sessionBegan(UInt16)
        /// A packet for that session's MQTT session, as if the device had sent it.
        case toSession(UInt16, MQTTPacket)
        /// A renewed token for the session's device: check it, then call `authenticated(channel:accepted:)`.
        case authenticate(UInt16, MQTTConnect)
        /// The session ended (either side): its MQTT session ends, the connection goes on.
        case sessionEnded(UInt16)
        /// Send an empty frame this often from now on (half the client's idle timeout).
        case heartbeat(every: Duration)
        /// Close the connection once the writes above are out (every session ends with it).
        case close
    }

    enum Phase: Sendable, Hashable { case awaitingHeader, sasl, awaitingAMQPHeader, awaitingOpen, open, closed }

    /// A link's job; `In` links carry the client's messages to the hub, `Out` links the hub's to the client.
    enum Kind: Sendable, Hashable {
        case cbsIn, cbsOut, telemetry, cloudToDevice, twinIn, twinOut, methodsIn, methodsOut

        /// The client sends on it (the hub grants it credit and reads its transfers); otherwise the hub sends.
        var fromClient: Bool {
            switch self {
            case .cbsIn, .telemetry, .twinIn, .methodsIn: true
            case .cbsOut, .cloudToDevice, .twinOut, .methodsOut: false
            }
        }
    }

    struct Link: Sendable, Hashable {
        var kind: Kind
        var name: String
        var ours: UInt32
        var address: String
        /// Our sending links: the client's credit and our delivery count; receiving links: deliveries since the last
        /// grant.
        var credit: UInt32 = 0
        var deliveryCount: UInt32 = 0
        var sinceGrant: UInt32 = 0
    }

    enum Device: Sendable, Hashable {
        case none
        /// CONNECT sent; CONNACK awaited.
        case connecting(String)
        case accepted(String)
        case refused(String, serviceCode: Int)

        var id: String? {
            switch self {
            case .none: nil
            case .connecting(let id), .accepted(let id), .refused(let id, _): id
            }
        }
    }

    /// One AMQP session: one device (its CBS put-token, its links, its flow state). Our channel number for it is the
    /// client's, which is unique among the client's sessions and so among ours.
    struct Session: Sendable {
        let channel: UInt16
        let configuration: Configuration
        var device = Device.none
        var links: [UInt32: Link] = [:]
        var nextHandle: UInt32 = 0
        /// Session flow control (part 2.5.6).
        var nextOutgoingID: UInt32 = 0
        var remoteIncomingWindow: UInt32 = 0
        var nextIncomingID: UInt32 = 0
        var nextDeliveryID: UInt32 = 0
        /// The CBS put-token waiting for its CONNACK (its message id) and CBS answers waiting for credit.
        var cbsRequest: AMQPValue?
        var cbsAnswers: [ByteBuffer] = []
        /// Links attached before the device was in: answered once the CONNACK comes (client handles).
        var deferredAttaches: [AMQPPerformative.Attach] = []
        /// A telemetry message arriving in several frames.
        var partial: (deliveryID: UInt32?, settled: Bool, payload: ByteBuffer)?
        /// Telemetry PUBLISHes waiting for their PUBACK: packet id → delivery id.
        var awaitingAck: [UInt16: UInt32] = [:]
        var nextPacketID: UInt16 = 0
        /// C2D: the SUBSCRIBE waiting for its SUBACK (client handle), messages waiting for credit, and deliveries out.
        var subscribing: (packetID: UInt16, handle: UInt32)?
        var cloudToDevice: [MQTTPublish] = []
        var deliveredC2D: [UInt32: MQTTPublish] = [:]
        /// Twin requests handed to the MQTT session (our request id → the client's correlation-id), and answers
        /// waiting for the twin receiver's credit.
        var twinRequests: [String: AMQPValue] = [:]
        var twinAnswers: [ByteBuffer] = []
        var twinRequestCount: UInt32 = 0
        /// A violation that ends the whole connection (condition, description), set by the session's handlers.
        var failure: (condition: String, description: String)?
        /// The hub's session ended the device (a DISCONNECT): the AMQP session ends with this error.
        var ended: (condition: String, description: String)?

        init(channel: UInt16, configuration: Configuration) {
            self.channel = channel
            self.configuration = configuration
        }

        /// A performative on this session's channel.
        func out(_ p: AMQPPerformative) -> Action { .send(.performative(p, channel: channel)) }

        mutating func fail(_ condition: String, _ description: String) {
            if failure == nil { failure = (condition, description) }
        }
    }

    let configuration: Configuration
    var phase = Phase.awaitingHeader
    var plain: (deviceID: String, token: [UInt8])?
    /// The client presented a TLS certificate (X.509 devices): it may skip SASL and open with the AMQP header
    /// (reference §11.1: with X.509 client certificates there is no CBS step); each device is then authenticated
    /// by that certificate when its link's implicit CONNECT reaches its session.
    var certificatePresented = false

    /// The client's TLS handshake presented a certificate.
    public mutating func clientPresentedCertificate() { certificatePresented = true }
    /// The client's sessions by channel (a pooled client carries up to `maxSessions` devices on one connection).
    var sessions: [UInt16: Session] = [:]

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    static let incomingWindow: UInt32 = 65_535
    static let outgoingWindow: UInt32 = UInt32(Int32.max)
    /// IoT Hub's message size limit (reference §4: 256 KB) plus room for the message's sections.
    static let maxMessageSize = 256 * 1024 + 16 * 1024
    static let mechanisms = ["MSSBCBS", "ANONYMOUS", "PLAIN"]

    /// The device a link address names and the link's job, by the node (`…/devices/{id}/messages/events`,
    /// `…/messages/devicebound`, `…/twin`, `…/methods/devicebound`) and the direction (`clientSends`: the client
    /// attached as the sender); nil for a node or direction the hub does not serve.
    static func device(inAddress address: String, clientSends: Bool) -> (id: String, kind: Kind)? {
        guard let range = address.range(of: "/devices/") else { return nil }
        let rest = address[range.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let id = String(rest[..<slash])
        guard !id.isEmpty else { return nil }
        switch (rest[slash...], clientSends) {
        case ("/messages/events", true): return (id, .telemetry)
        case ("/messages/devicebound", false): return (id, .cloudToDevice)
        case ("/twin", true): return (id, .twinIn)
        case ("/twin", false): return (id, .twinOut)
        case ("/methods/devicebound", true): return (id, .methodsIn)
        case ("/methods/devicebound", false): return (id, .methodsOut)
        default: return nil
        }
    }

    /// The device and job of the link an attach asks for.
    static func device(of attach: AMQPPerformative.Attach) -> (id: String, kind: Kind)? {
        let clientSends = attach.role == .sender
        return device(inAddress: (clientSends ? attach.target : attach.source)?.address ?? "", clientSends: clientSends)
    }

    /// The device a CBS audience names: `{host}/devices/{id}`.
    static func device(inAudience audience: String) -> String? {
        guard let range = audience.range(of: "/devices/", options: .backwards) else { return nil }
        let id = audience[range.upperBound...]
        return id.isEmpty || id.contains("/") ? nil : String(id)
    }

    static func connect(_ deviceID: String, token: [UInt8]?, hostName: String) -> MQTTConnect {
        MQTTConnect(
            version: .v5,
            clientID: deviceID,
            keepAliveSeconds: 0,
            username: "\(hostName)/\(deviceID)/?api-version=\(DeviceREST.defaultAPIVersion)",
            password: token
        )
    }
}
