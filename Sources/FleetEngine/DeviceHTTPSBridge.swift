internal import FleetCore
internal import FleetMQTT
internal import NIOCore
internal import NIOHTTP1

/// A device over IoT Hub's HTTPS device API (reference §10.2), with the same state machine as over MQTT: the bridge
/// sits between the device's handler (MQTT bytes) and an HTTP/1.1 client codec, and turns what the machine writes
/// into the API's requests and the answers back into MQTT packets.
///
/// - CONNECT: the API has no session, so the bridge asks the cheapest authenticated question it has, a first
///   `GET …/messages/deviceBound`, with the SAS token of the password as `Authorization` (as every later request):
///   its success is the CONNACK (a device is connected when the hub serves it, not when TCP is up), its error the
///   refusal, so storms, outages and bad credentials are measured as over MQTT.
/// - A telemetry PUBLISH is `POST …/messages/events` with the property bag as `iothub-app-*` and `iothub-messageid`
///   headers; 204 is its PUBACK.
/// - SUBSCRIBE to the C2D topic starts polling: `GET …/messages/deviceBound` now and every `pollInterval`; a message
///   (200, ETag) becomes a QoS 1 PUBLISH, and the device's PUBACK completes it (`DELETE …/deviceBound/{etag}`).
/// - PINGREQ is answered here, but not while a request waits for its answer; a request with no answer within
///   `requestTimeout` (a stalled or blackholed hub) ends the connection, as an HTTP client's timeout does.
/// - An error status goes to the device as `HubServiceError` (with the body's IoT Hub error code); the machine
///   classifies it per SDK.
///
/// One keep-alive connection per device, one request at a time (the SDKs do not pipeline): later requests queue here.
final class DeviceHTTPSBridge: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPClientRequestPart

    private enum Purpose {
        /// A telemetry POST; the packet id to acknowledge (nil: QoS 0).
        case send(packetID: UInt16?)
        /// The first GET of a connection: its answer is the CONNACK.
        case probe
        case poll
        case settle
    }

    private struct Request {
        var route: DeviceREST.Route
        var headers: [(name: String, value: String)]
        var body: ByteBuffer?
        var purpose: Purpose
    }

    /// The largest response body kept (a C2D message is at most 64 KB; error bodies are small).
    static let maxResponseBody = 256 * 1024

    private let host: String
    private let apiVersion: String
    private let pollInterval: TimeAmount
    private let requestTimeout: TimeAmount
    private var requestTimer: Scheduled<Void>?
    private var decoder: MQTTDecoder
    private let encoder: MQTTEncoder
    private var context: ChannelHandlerContext?
    private var outbound: ByteBuffer?
    private var deviceID = ""
    private var authorization: String?
    private var queue = CircularBuffer<Request>()
    private var inFlight: Request?
    private var responseHead: HTTPResponseHead?
    private var responseBody: ByteBuffer?
    private var pongOwed = false
    private var polling = false
    private var pollQueued = false
    private var pollTimer: Scheduled<Void>?
    /// C2D messages handed to the device and not yet settled: packet id → ETag.
    private var etags: [UInt16: String] = [:]
    private var nextPacketID: UInt16 = 0
    private var failed = false
    /// A C2D message the probe fetched, handed over once the device subscribes.
    private var probeMessage: MQTTPublish?

    init(host: String, settings: Scenario.HTTPS, version: MQTTVersion) {
        self.host = host
        self.apiVersion = settings.apiVersion
        self.pollInterval = .nanoseconds(settings.pollInterval.nanoseconds)
        self.requestTimeout = .nanoseconds(settings.requestTimeout.nanoseconds)
        self.decoder = MQTTDecoder(version: version)
        self.encoder = MQTTEncoder(version: version)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        queue.removeAll()
        context.fireChannelInactive()
    }

    // MARK: - what the device writes

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if outbound == nil { outbound = bytes } else { outbound!.writeBuffer(&bytes) }
        do {
            while var buffer = outbound, let packet = try decoder.decode(buffer: &buffer) {
                outbound = buffer.readableBytes == 0 ? nil : buffer
                handle(packet, context: context)
            }
        } catch {
            // Our own machine wrote bytes our own codec cannot read: end the connection rather than guess.
            outbound = nil
            promise?.fail(error)
            context.close(promise: nil)
            return
        }
        if (outbound?.readerIndex ?? 0) > 0 { outbound!.discardReadBytes() }
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {
        pump(context: context)
    }

    private func handle(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        switch packet {
        case .connect(let c):
            deviceID = c.clientID
            authorization = c.password.map { String(decoding: $0, as: UTF8.self) }
            queue.prepend(Request(route: .receive(deviceID: deviceID), headers: [], body: nil, purpose: .probe))
        case .publish(let p):
            guard p.topic.hasPrefix("devices/\(deviceID)/messages/events"),
                let headers = DeviceREST.headers(fromTopic: p.topic, deviceID: deviceID)
            else { return }  // the API carries telemetry only; the machine sends nothing else
            let id = p.qos == .atLeastOnce ? p.packetID : nil
            queue.append(
                Request(
                    route: .send(deviceID: deviceID),
                    headers: headers,
                    body: p.payload,
                    purpose: .send(packetID: id)
                )
            )
        case .subscribe(let s):
            let c2d = "devices/\(deviceID)/messages/devicebound/#"
            let codes = s.subscriptions.map { $0.topicFilter == c2d ? UInt8(1) : 0x80 }
            answer(.suback(MQTTSubAck(packetID: s.packetID, codes: codes)), context: context)
            if codes.contains(1) && !polling {
                polling = true
                if let message = probeMessage {
                    probeMessage = nil
                    answer(.publish(message), context: context)
                }
                // The probe was this connection's first poll: the next one waits the interval.
                schedulePoll(context: context)
            }
        case .unsubscribe(let u):
            polling = false
            pollTimer?.cancel()
            pollTimer = nil
            answer(.unsuback(MQTTSubAck(packetID: u.packetID, codes: u.topicFilters.map { _ in 0 })), context: context)
        case .puback(let ack):
            guard let etag = etags.removeValue(forKey: ack.packetID) else { return }
            queue.append(
                Request(route: .complete(deviceID: deviceID, etag: etag), headers: [], body: nil, purpose: .settle)
            )
        case .pingreq:
            if inFlight == nil { answer(.pingresp, context: context) } else { pongOwed = true }
        default:
            break  // DISCONNECT: the machine closes the connection itself
        }
    }

    private func queuePoll() {
        guard polling, !pollQueued else { return }
        pollQueued = true
        queue.append(Request(route: .receive(deviceID: deviceID), headers: [], body: nil, purpose: .poll))
    }

    /// An answer of our own (SUBACK, PINGRESP) arrives on the next loop turn, as one from the network would:
    /// never inside the device handler's own write.
    private func answer(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        guard let buffer = encoded(packet, context: context) else { return }
        context.eventLoop.assumeIsolated().execute { [self] in
            guard let context = self.context, !self.failed else { return }
            context.fireChannelRead(self.wrapInboundOut(buffer))
            context.fireChannelReadComplete()
        }
    }

    /// Sends the next queued request when none is waiting for its answer.
    private func pump(context: ChannelHandlerContext) {
        guard inFlight == nil, !failed, let request = queue.popFirst() else {
            context.flush()
            return
        }
        inFlight = request
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "User-Agent", value: "fleetstorm")
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        for (name, value) in request.headers { headers.add(name: name, value: value) }
        let method = DeviceREST.method(request.route)
        if method != "GET" { headers.add(name: "Content-Length", value: String(request.body?.readableBytes ?? 0)) }
        if request.body != nil { headers.add(name: "Content-Type", value: "application/octet-stream") }
        let head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: method),
            uri: DeviceREST.path(request.route, apiVersion: apiVersion),
            headers: headers
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = request.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        requestTimer = context.eventLoop.assumeIsolated().scheduleTask(in: requestTimeout) { [self] in
            guard let context = self.context, self.inFlight != nil, !self.failed else { return }
            self.failed = true
            context.fireErrorCaught(HTTPBridgeError.requestTimeout)
        }
    }

    private func stopTimers() {
        pollTimer?.cancel()
        pollTimer = nil
        requestTimer?.cancel()
        requestTimer = nil
    }

    // MARK: - what the hub answers

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            responseHead = head
            responseBody = nil
        case .body(var part):
            if responseBody == nil {
                responseBody = part
            } else if responseBody!.readableBytes + part.readableBytes <= Self.maxResponseBody {
                responseBody!.writeBuffer(&part)
            }
        case .end:
            finished(context: context)
        }
    }

    private func finished(context: ChannelHandlerContext) {
        guard let request = inFlight, let head = responseHead else {
            // An answer to no request: the peer does not speak this API.
            failed = true
            context.fireErrorCaught(HTTPBridgeError.unexpectedResponse)
            return
        }
        inFlight = nil
        requestTimer?.cancel()
        requestTimer = nil
        responseHead = nil
        let body = responseBody
        responseBody = nil
        let status = Int(head.status.code)
        switch request.purpose {
        case .send(let packetID):
            guard (200..<300).contains(status) else { return fail(status, body, context: context) }
            if let packetID { deliver(.puback(MQTTAck(packetID: packetID)), context: context) }
        case .probe:
            guard (200..<300).contains(status) else { return fail(status, body, context: context) }
            deliver(.connack(MQTTConnAck(code: 0)), context: context)
            if status == 200 { probeMessage = message(head, body: body ?? ByteBuffer()) }
        case .poll:
            pollQueued = false
            if status == 200 {
                if let message = message(head, body: body ?? ByteBuffer()) {
                    deliver(.publish(message), context: context)
                }
            } else if !(200..<300).contains(status) {
                return fail(status, body, context: context)
            }
            schedulePoll(context: context)
        case .settle:
            // 412: the message's lock expired (it will come again); anything else an error says is an error.
            guard (200..<300).contains(status) || status == 412 else { return fail(status, body, context: context) }
        }
        if pongOwed {
            pongOwed = false
            deliver(.pingresp, context: context)
        }
        pump(context: context)
    }

    /// The C2D message a 200 answer carries, as the QoS 1 PUBLISH the device acknowledges (nil without an ETag).
    private func message(_ head: HTTPResponseHead, body: ByteBuffer) -> MQTTPublish? {
        let etag = head.headers["ETag"].first.map { $0.trimmingQuotes } ?? ""
        guard !etag.isEmpty else { return nil }
        repeat { nextPacketID &+= 1 } while nextPacketID == 0 || etags[nextPacketID] != nil
        etags[nextPacketID] = etag
        let properties = head.headers.map { (name: $0.name, value: $0.value) }
        return MQTTPublish(
            topic: DeviceREST.cloudToDeviceTopic(deviceID: deviceID, headers: properties),
            payload: body,
            qos: .atLeastOnce,
            packetID: nextPacketID
        )
    }

    private func schedulePoll(context: ChannelHandlerContext) {
        guard polling else { return }
        pollTimer?.cancel()
        pollTimer = context.eventLoop.assumeIsolated().scheduleTask(in: pollInterval) { [self] in
            self.pollTimer = nil
            guard let context = self.context else { return }
            self.queuePoll()
            self.pump(context: context)
        }
    }

    /// Hands the device a packet now (the answer to a response, read on this loop turn).
    private func deliver(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        guard let buffer = encoded(packet, context: context) else { return }
        context.fireChannelRead(wrapInboundOut(buffer))
    }

    /// A packet of our own making as the bytes the device's handler reads (nil only for one MQTT cannot carry).
    private func encoded(_ packet: MQTTPacket, context: ChannelHandlerContext) -> ByteBuffer? {
        var buffer = context.channel.allocator.buffer(capacity: 16)
        return (try? encoder.encode(packet, into: &buffer)) != nil ? buffer : nil
    }

    private func fail(_ status: Int, _ body: ByteBuffer?, context: ChannelHandlerContext) {
        failed = true
        queue.removeAll()
        stopTimers()
        let bytes = body.map { Array($0.readableBytesView) } ?? []
        context.fireErrorCaught(HubServiceError(status: status, body: bytes))
    }

}

@available(*, unavailable)
extension DeviceHTTPSBridge: Sendable {}

/// What ends an HTTPS device connection besides an error status: an answer to no request (the peer does not speak
/// the device API), or no answer within the request timeout.
enum HTTPBridgeError: Error {
    case unexpectedResponse
    case requestTimeout
}

extension String {
    /// An ETag without its quotes (`"abc"` → `abc`, `W/"abc"` → `abc`).
    fileprivate var trimmingQuotes: String {
        var s = Substring(self)
        if s.hasPrefix("W/") { s = s.dropFirst(2) }
        if s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 { s = s.dropFirst().dropLast() }
        return String(s)
    }
}
