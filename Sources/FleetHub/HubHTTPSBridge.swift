internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
import Foundation
internal import NIOCore
internal import NIOHTTP1

/// The hub's HTTPS device API (reference §10.2): every request becomes what the same operation is over MQTT and goes
/// to the same `HubConnectionHandler` (so auth, quotas, throttles, faults and the hub's counts are the MQTT ones), and
/// its answer becomes the HTTP response.
///
/// - The first request of a connection opens the session: a CONNECT for its device with its `Authorization` header
///   as the password. A refusal is 401 (bad credentials, reject-auth), 403 (disabled), 503 (outage) or 429 (the
///   new-connection throttle).
/// - `POST …/messages/events` is a QoS 1 PUBLISH on the telemetry topic (headers → property bag); its PUBACK is 204, a
///   refused one 429 (throttled) or 403 (daily quota). slow-puback and shaping delay the 204; a blackhole never
///   answers; a drop or outage closes the connection.
/// - `GET …/messages/deviceBound` subscribes once to the C2D topic and answers the next message the hub delivered
///   (200, ETag, properties as headers) or 204; `DELETE …/{etag}` completes it (PUBACK), `?reject` too (the test hub
///   keeps no dead-letter queue), `POST …/{etag}/abandon` puts it back first in line; an unknown ETag is 412.
/// - A request for another device than the connection's is 400; a different token is checked on its own.
final class HubHTTPSBridge: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    /// An idle keep-alive connection is closed after this long (Azure's load balancers: 4 minutes).
    static let idleTimeout = TimeAmount.minutes(4)

    private struct Request {
        var route: DeviceREST.Route
        var apiVersion: String
        var headers: [(name: String, value: String)]
        var body: ByteBuffer
        var authorization: String
    }

    private enum Waiting {
        case nothing
        case connack(Request)
        case puback(UInt16)
        case suback(UInt16)
        /// SUBACK came; the C2D messages the hub delivers after it arrive before its flush.
        case deliveries
    }

    private let session: HubConnectionHandler
    private let configuration: HubConfiguration
    private var decoder = MQTTDecoder(version: .v5)
    private let encoder = MQTTEncoder(version: .v5)
    private var context: ChannelHandlerContext?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false
    private var answers: ByteBuffer?
    private var waiting = Waiting.nothing
    private var device: (id: String, authorization: String)?
    private var subscribed = false
    private var nextPacketID: UInt16 = 0
    /// C2D messages the hub delivered and nobody fetched yet, and fetched ones not settled (by ETag).
    private var delivered = CircularBuffer<MQTTPublish>()
    private var fetched: [String: MQTTPublish] = [:]
    private var timer: Scheduled<Void>?

    init(session: HubConnectionHandler, configuration: HubConfiguration) {
        self.session = session
        self.configuration = configuration
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // A new connection has the CONNECT timeout for its first request (as an MQTT one has for its CONNECT).
        armTimer(.nanoseconds(configuration.connectTimeout.nanoseconds))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    /// Closes the connection when no request completes in time (idle keep-alive, or a request sent too slowly).
    private func armTimer(_ amount: TimeAmount) {
        timer?.cancel()
        timer = context?.eventLoop.assumeIsolated().scheduleTask(in: amount) { [self] in
            self.context?.close(promise: nil)
        }
    }

    // MARK: - requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            tooLarge = false
            armTimer(.nanoseconds(configuration.connectTimeout.nanoseconds))
        case .body(var part):
            guard !tooLarge else { return }
            if (body?.readableBytes ?? 0) + part.readableBytes > Self.maxMessageBytes {
                tooLarge = true
                body = nil
            } else if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
        case .end:
            armTimer(Self.idleTimeout)
            guard let head else { return }
            self.head = nil
            request(head, context: context)
        }
    }

    /// IoT Hub's message size limit (reference §4: 256 KB).
    static let maxMessageBytes = 256 * 1024

    private func request(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if session.blackholed { return }  // the request vanishes; nothing is answered
        let (route, version): (DeviceREST.Route, String)
        switch DeviceREST.route(method: head.method.rawValue, uri: head.uri) {
        case .failure(let e): return respond(error: e.code, e.message, context: context)
        case .success(let r): (route, version) = r
        }
        if tooLarge {
            return respond(error: HubServiceError.messageTooLarge, "a message is at most 256 KB", context: context)
        }
        let request = Request(
            route: route,
            apiVersion: version,
            headers: head.headers.map { (name: $0.name, value: $0.value) },
            body: body ?? ByteBuffer(),
            authorization: head.headers["Authorization"].first ?? ""
        )
        body = nil
        guard let device else {
            // The session opens with this request's device and token.
            waiting = .connack(request)
            return send(.connect(connect(request, apiVersion: version)), context: context)
        }
        guard device.id == route.deviceID else {
            return respond(
                error: HubServiceError.badRequest,
                "this connection carries device \(device.id): open one connection per device",
                context: context
            )
        }
        if request.authorization != device.authorization {
            let connect = connect(request, apiVersion: version)
            if case .refused(let why) = configuration.auth.check(connect, nowUnix: Int64(Date().timeIntervalSince1970))
            {
                session.state.record(.refused(code: 0x87, reason: why), peer: nil, at: session.state.instant())
                return respond(
                    error: HubServiceError.unauthorized,
                    configuration.auth.explain(why, connect),
                    context: context
                )
            }
            self.device = (device.id, request.authorization)
        }
        if refusedByFault(device.id, context: context) { return }
        perform(request, context: context)
    }

    /// Each request is checked as a CONNECT would be: an outage (or flap, reject-auth, disable) in force refuses
    /// requests on connections that were open before it, as IoT Hub's HTTPS front does; `refuse: reset` resets the
    /// connection.
    private func refusedByFault(_ id: String, context: ChannelHandlerContext) -> Bool {
        let state = session.state
        let now = state.instant()
        switch state.core.faultAnswer(deviceID: id, peer: { session.peer }, now: now) {
        case nil, .answer(override: nil, _):
            return false
        case .answer(let override?, _):
            let (code, reason) = HubSession.refusal(override, version: .v5)
            state.record(.refused(code: code, reason: reason), peer: nil, at: now)
            let (error, message) = Self.refusal(code)
            respond(error: error, message, context: context)
        case .reset:
            session.reset()
        }
        return true
    }

    /// The CONNECT a request stands for: its device, IoT Hub's username, its token as the password (no keep-alive:
    /// the bridge's idle timer does that job over HTTP).
    private func connect(_ request: Request, apiVersion: String) -> MQTTConnect {
        MQTTConnect(
            version: .v5,
            clientID: request.route.deviceID,
            keepAliveSeconds: 0,
            username: "\(configuration.auth.hostName)/\(request.route.deviceID)/?api-version=\(apiVersion)",
            password: Array(request.authorization.utf8)
        )
    }

    private func perform(_ request: Request, context: ChannelHandlerContext) {
        let id = request.route.deviceID
        switch request.route {
        case .send:
            let packetID = newPacketID()
            waiting = .puback(packetID)
            let publish = MQTTPublish(
                topic: DeviceREST.telemetryTopic(deviceID: id, headers: request.headers),
                payload: request.body,
                qos: .atLeastOnce,
                packetID: packetID
            )
            send(.publish(publish), context: context)
        case .receive:
            guard !subscribed else { return fetch(context: context) }
            subscribed = true
            let packetID = newPacketID()
            waiting = .suback(packetID)
            let filter = MQTTSubscription(topicFilter: "devices/\(id)/messages/devicebound/#", qos: .atLeastOnce)
            send(.subscribe(MQTTSubscribe(packetID: packetID, subscriptions: [filter])), context: context)
        case .complete(_, let etag), .reject(_, let etag):
            guard let message = fetched.removeValue(forKey: etag), let packetID = message.packetID else {
                return respond(error: HubServiceError.lockLost, "no message is locked with this ETag", context: context)
            }
            send(.puback(MQTTAck(packetID: packetID)), context: context)
            respond(status: .noContent, context: context)
        case .abandon(_, let etag):
            guard let message = fetched.removeValue(forKey: etag) else {
                return respond(error: HubServiceError.lockLost, "no message is locked with this ETag", context: context)
            }
            delivered.prepend(message)
            respond(status: .noContent, context: context)
        }
    }

    private func newPacketID() -> UInt16 {
        nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
        return nextPacketID
    }

    /// Hands a packet to the hub's session, as if the device had sent it.
    private func send(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do { try encoder.encode(packet, into: &buffer) } catch {
            return respond(error: HubServiceError.badRequest, "the request cannot be carried", context: context)
        }
        context.fireChannelRead(wrapInboundOut(buffer))
    }

    /// Answers a GET with the next delivered message, or 204 when there is none.
    private func fetch(context: ChannelHandlerContext) {
        guard let message = delivered.popFirst(), let packetID = message.packetID, let id = device?.id else {
            return respond(status: .noContent, context: context)
        }
        let etag = String(packetID)
        fetched[etag] = message
        var headers = HTTPHeaders()
        headers.add(name: "ETag", value: "\"\(etag)\"")
        for (name, value) in DeviceREST.headers(fromTopic: message.topic, deviceID: id) ?? [] {
            headers.add(name: name, value: value)
        }
        respond(status: .ok, headers: headers, body: message.payload, context: context)
    }

    // MARK: - the session's answers

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if answers == nil { answers = bytes } else { answers!.writeBuffer(&bytes) }
        while var buffer = answers, let packet = try? decoder.decode(buffer: &buffer) {
            answers = buffer.readableBytes == 0 ? nil : buffer
            answered(packet, context: context)
        }
        if (answers?.readerIndex ?? 0) > 0 { answers!.discardReadBytes() }
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {
        if case .deliveries = waiting {
            waiting = .nothing
            fetch(context: context)
        }
        context.flush()
    }

    private func answered(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        switch (waiting, packet) {
        case (.connack(let request), .connack(let ack)):
            waiting = .nothing
            guard ack.isAccepted else {
                let (code, message) = Self.refusal(ack.code)
                return respond(error: code, message, close: true, context: context)
            }
            device = (request.route.deviceID, request.authorization)
            // The session is still running the actions of that CONNECT (its acceptance is recorded after the
            // CONNACK is written): the request goes in on the next loop turn, not inside them.
            context.eventLoop.assumeIsolated().execute { [self] in
                guard let context = self.context else { return }
                self.perform(request, context: context)
            }
        case (.puback(let expected), .puback(let ack)) where ack.packetID == expected:
            waiting = .nothing
            if ack.reasonCode == 0 { return respond(status: .noContent, context: context) }
            if session.dailyQuotaRefused {
                session.dailyQuotaRefused = false
                return respond(
                    error: HubServiceError.quotaExceeded,
                    "the daily message quota is used up",
                    context: context
                )
            }
            respond(error: HubServiceError.throttled, "D2C sends are throttled: retry later", context: context)
        case (.suback(let expected), .suback(let ack)) where ack.packetID == expected:
            waiting = .deliveries
        case (_, .publish(let publish)):
            delivered.append(publish)
        default:
            break  // PINGRESP, UNSUBACK, twin answers: nothing a REST client asked for
        }
    }

    /// The HTTP error for a refused CONNECT (MQTT 5 reason codes, `HubSession.refusal`).
    static func refusal(_ code: UInt8) -> (Int, String) {
        let service = HubSession.serviceCode(forConnAck: code)
        switch service {
        case HubServiceError.serviceUnavailable: return (service, "the hub is unavailable: retry later")
        case HubServiceError.throttled: return (service, "too many new connections: retry later")
        case HubServiceError.deviceDisabled: return (service, "the device is disabled")
        case HubServiceError.badRequest: return (service, "no device id")
        default: return (service, "the SAS token in the Authorization header is not accepted")
        }
    }

    // MARK: - responses

    private func respond(error code: Int, _ message: String, close: Bool = false, context: ChannelHandlerContext) {
        let error = HubServiceError(code: code)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "iothub-errorcode", value: error.name)
        if close { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: error.status)
        respond(
            status: status,
            headers: headers,
            body: context.channel.allocator.buffer(string: error.body(message: message)),
            context: context
        )
    }

    private func respond(
        status: HTTPResponseStatus,
        headers: HTTPHeaders = HTTPHeaders(),
        body: ByteBuffer? = nil,
        context: ChannelHandlerContext
    ) {
        var headers = headers
        headers.add(name: "Content-Length", value: String(body?.readableBytes ?? 0))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil
        )
        if let body, body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

@available(*, unavailable)
extension HubHTTPSBridge: Sendable {}

/// The hub's HTTPS listener pipeline: HTTP/1.1 (pipelined requests answered in order; a malformed request gets 400
/// and a close), the bridge, then the MQTT session that does the work.
enum HubHTTPS {
    static func configure(_ channel: any Channel, configuration: HubConfiguration, state: HubState) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        let session = HubConnectionHandler(state: state, awaitsConnect: false)
        try channel.pipeline.syncOperations.addHandler(HubHTTPSBridge(session: session, configuration: configuration))
        try channel.pipeline.syncOperations.addHandler(session)
    }
}
