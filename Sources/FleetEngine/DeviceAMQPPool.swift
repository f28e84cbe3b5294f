internal import FleetAMQP
internal import FleetCore
internal import FleetMQTT
internal import FleetMetrics
internal import NIOCore
internal import NIOTLS

/// One pooled AMQP connection and its devices (reference §11.1): an `AMQPPoolConnection` for the connection, an
/// `AMQPDeviceBridge` per device session; the devices' handlers write their MQTT packets here. The first device to
/// connect opens it, others wait, each gets a channel and its `connectSucceeded` once it is open, the last to leave
/// closes it; when it ends, every device on it learns it in the same instant. Loop-bound.
final class DeviceAMQPPool: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Member {
        let device: DeviceChannelHandler
        var bridge: AMQPDeviceBridge
        /// Our begin went out / our end went out / the hub's end came: the channel is freed by the hub's end.
        var begun = false
        var sentEnd = false
        var pongOwed = false
    }

    let index: Int
    private unowned let swarm: Swarm
    /// The cohort's recorder: the connection's TLS handshake is its devices' one.
    private unowned let recorder: Recorder
    /// When TCP was established (for the TLS handshake time).
    private var tcpEstablished: Instant?
    private let configuration: AMQPPoolConnection.Configuration
    private let bridgeConfiguration: AMQPDeviceBridge.Configuration
    private var machine: AMQPPoolConnection
    private var frames: AMQPFrameDecoder
    private var context: ChannelHandlerContext?
    private var connecting = false
    /// The last device left and the connection is closing: devices that join meanwhile wait for the next one.
    private var closingIdle = false
    private var inbound: ByteBuffer?
    private var members: [Member?]
    private(set) var memberCount = 0
    private var waiting: [DeviceChannelHandler] = []
    private var heartbeat: Scheduled<Void>?
    private var heartbeatInterval = TimeAmount.zero
    private var lastHeard = Instant.zero
    private var pongsOwed = 0
    private var needsFlush = false
    /// The socket or protocol error that ends the connection, told to every device on it.
    private var closeError: ConnectionError?
    /// Connections opened so far (source addresses rotate by it).
    private var attempts = 0

    init(
        index: Int,
        swarm: Swarm,
        recorder: Recorder,
        configuration: AMQPPoolConnection.Configuration,
        bridge: AMQPDeviceBridge.Configuration
    ) {
        self.index = index
        self.swarm = swarm
        self.recorder = recorder
        self.configuration = configuration
        var bridge = bridge
        bridge.pooled = true
        bridgeConfiguration = bridge
        machine = AMQPPoolConnection(configuration: configuration)
        frames = AMQPFrameDecoder(maxFrameSize: Int(configuration.maxFrameSize))
        members = Array(repeating: nil, count: configuration.sessions)
    }

    // MARK: - devices

    /// A device's machine asked to connect.
    func join(_ device: DeviceChannelHandler) {
        if machine.isOpen, context != nil, !closingIdle {
            admit(device)
        } else {
            waiting.append(device)
            if !connecting && context == nil { openConnection() }
        }
    }

    private func admit(_ device: DeviceChannelHandler) {
        guard let channel = machine.takeChannel() else {
            // More devices than the hub lets one connection carry (its channel-max): this one's attempt fails.
            return swarm.loop.assumeIsolated().execute { device.poolClosed(error: .amqp) }
        }
        var bridge = AMQPDeviceBridge(configuration: bridgeConfiguration)
        bridge.joinedPool(remoteMaxFrameSize: machine.remoteMaxFrameSize)
        members[Int(channel)] = Member(device: device, bridge: bridge)
        memberCount += 1
        // The device knows its channel from now on: a close before it is ready still finds its session.
        device.poolAssigned(channel: channel)
        // Active on the next loop turn, as a socket's channelActive would be: never inside the device's own actions.
        swarm.loop.assumeIsolated().execute { [self] in
            guard let m = self.members[Int(channel)], m.device === device else { return }
            device.poolReady(channel: channel)
        }
    }

    /// The device's machine closed its connection (or gave a waiting attempt up).
    func leave(_ device: DeviceChannelHandler, channel: UInt16?, error: ConnectionError? = nil) {
        if let channel, let m = members[Int(channel)], m.device === device {
            if m.begun && !m.sentEnd {
                // The session is still open at the hub: end it; the channel is free once the hub answers.
                write(.performative(.end(nil), channel: channel))
                needsFlush = true
            } else if !m.begun {
                machine.release(unused: channel)
            }
            if m.pongOwed { pongsOwed -= 1 }
            members[Int(channel)] = nil
            memberCount -= 1
        } else if let i = waiting.firstIndex(where: { $0 === device }) {
            waiting.remove(at: i)
        } else {
            return
        }
        swarm.loop.assumeIsolated().execute { device.poolClosed(error: error) }
        if memberCount == 0 && waiting.isEmpty { closeIdle() }
    }

    /// A packet a device's machine wrote.
    func deviceWrote(_ packet: MQTTPacket, channel: UInt16) {
        guard var m = members[Int(channel)] else { return }
        let now = swarm.scheduler.now()
        if case .pingreq = packet {
            // The connection's liveness stands for every session's: the hub heard within the ping interval.
            if let idle = bridgeConfiguration.idleTimeOut, now - lastHeard > idle {
                if !m.pongOwed {
                    m.pongOwed = true
                    pongsOwed += 1
                    members[Int(channel)] = m
                }
            } else {
                deliverLater(.pingresp, channel: channel, device: m.device)
            }
            return
        }
        var actions: [AMQPDeviceBridge.Action] = []
        members[Int(channel)]!.bridge.deviceWrote(packet, now: now, into: &actions)
        run(actions, channel: channel, fromDevice: true)
    }

    func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    // MARK: - the connection

    private func openConnection() {
        connecting = true
        attempts += 1
        machine = AMQPPoolConnection(configuration: configuration)
        frames = AMQPFrameDecoder(maxFrameSize: Int(configuration.maxFrameSize))
        closeError = nil
        swarm.openPoolConnection(self, attempt: attempts)
    }

    /// The connect attempt failed before the channel became active.
    func connectFailed(_ error: ConnectionError) {
        connecting = false
        closeError = error
        connectionEnded()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { becameActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if self.context === context { self.context = nil }
    }

    func channelActive(context: ChannelHandlerContext) {
        tcpEstablished = swarm.scheduler.now()
        becameActive(context: context)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let start = tcpEstablished {
            recorder.recordTLSHandshake(swarm.scheduler.now() - start)
            tcpEstablished = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func becameActive(context: ChannelHandlerContext) {
        guard !machine.isOpen, connecting else { return }
        lastHeard = swarm.scheduler.now()
        var actions: [AMQPPoolConnection.Action] = []
        machine.start(into: &actions)
        run(actions)
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard self.context === context else { return context.fireChannelInactive() }
        self.context = nil
        connecting = false
        connectionEnded()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeError == nil { closeError = ConnectionError(error) }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound == nil { inbound = bytes } else { inbound!.writeBuffer(&bytes) }
        let now = swarm.scheduler.now()
        lastHeard = now
        if pongsOwed > 0 { payPongs() }
        do {
            while var buffer = inbound, let item = try frames.decode(buffer: &buffer) {
                inbound = buffer.readableBytes == 0 ? nil : buffer
                var actions: [AMQPPoolConnection.Action] = []
                machine.received(item, into: &actions)
                run(actions)
                if self.context == nil { return }
            }
        } catch {
            inbound = nil
            swarm.recordMalformed()
            return fail(.amqp)
        }
        if (inbound?.readerIndex ?? 0) > 0 { inbound!.discardReadBytes() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        needsFlush = false
        context.flush()
        context.fireChannelReadComplete()
    }

    /// Every device on the connection (and every one waiting for it) learns at once that it ended.
    private func connectionEnded() {
        heartbeat?.cancel()
        heartbeat = nil
        inbound = nil
        let error = closeError ?? .reset
        closeError = nil
        if closingIdle {
            // Closed because no device was left: those that joined while it closed get a new connection.
            closingIdle = false
            machine = AMQPPoolConnection(configuration: configuration)
            if !waiting.isEmpty { openConnection() }
            return
        }
        var devices: [DeviceChannelHandler] = waiting
        waiting = []
        for i in members.indices {
            if let m = members[i] { devices.append(m.device) }
            members[i] = nil
        }
        memberCount = 0
        pongsOwed = 0
        machine = AMQPPoolConnection(configuration: configuration)
        for device in devices { device.poolClosed(error: error) }
        swarm.scheduler.catchUp()
    }

    private func fail(_ error: ConnectionError) {
        if closeError == nil { closeError = error }
        context?.close(promise: nil)
    }

    /// No device left: close (a clean AMQP close, then the socket), as the .NET SDK closes an unused pooled
    /// connection.
    private func closeIdle() {
        guard let context else { return }
        closingIdle = true
        var actions: [AMQPPoolConnection.Action] = []
        machine.close(into: &actions)
        run(actions)
        context.flush()
        context.close(promise: nil)
    }

    private func payPongs() {
        for i in members.indices where members[i]?.pongOwed == true {
            members[i]!.pongOwed = false
            members[i]!.device.deliver(.pingresp)
        }
        pongsOwed = 0
    }

    private func write(_ frame: AMQPFrame) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        guard (try? frame.encode(into: &buffer)) != nil else { return fail(.amqp) }
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    private func run(_ actions: [AMQPPoolConnection.Action]) {
        for action in actions {
            switch action {
            case .sendHeader(let header):
                guard let context else { continue }
                var buffer = context.channel.allocator.buffer(capacity: 8)
                buffer.writeBytes(header.bytes)
                context.write(wrapOutboundOut(buffer), promise: nil)
                needsFlush = true
            case .send(let frame):
                write(frame)
            case .opened:
                connecting = false
                let ready = waiting
                waiting = []
                for device in ready { admit(device) }
            case .toSession(let channel, let item):
                guard members[Int(channel)] != nil else { continue }
                if case .frame(let f) = item, case .performative(.end) = f.body {
                    members[Int(channel)]!.sentEnd = true  // the hub ended it: nothing more to end
                }
                var out: [AMQPDeviceBridge.Action] = []
                members[Int(channel)]!.bridge.received(item, now: lastHeard, into: &out)
                run(out, channel: channel, fromDevice: false)
            case .heartbeat(let every):
                heartbeatInterval = .nanoseconds(max(every.nanoseconds, 100_000_000))
                armHeartbeat()
            case .refused(let code):
                // The hub refused the connection itself: each device's machine classifies the code.
                let devices = waiting + members.compactMap { $0?.device }
                closeError = .amqp
                for device in devices { device.poolRefused(code: code) }
                context?.close(promise: nil)
                return
            case .protocolError:
                return fail(.amqp)
            case .close:
                context?.close(promise: nil)
                return
            }
        }
    }

    private func run(_ actions: [AMQPDeviceBridge.Action], channel: UInt16, fromDevice: Bool) {
        for action in actions {
            guard let m = members[Int(channel)] else { return }
            switch action {
            case .sendHeader:
                break  // a pooled session never starts a connection
            case .send(var frame):
                frame.channel = channel
                if case .performative(let p) = frame.body {
                    if case .begin = p { members[Int(channel)]!.begun = true }
                    if case .end = p { members[Int(channel)]!.sentEnd = true }
                }
                write(frame)
            case .deliver(let packet):
                if fromDevice {
                    deliverLater(packet, channel: channel, device: m.device)
                } else {
                    m.device.deliver(packet)
                }
            case .refused(let code):
                m.device.poolRefused(code: code)
            case .protocolError:
                m.device.poolError(.amqp)
            case .close:
                m.device.poolError(.reset)
            case .heartbeat:
                break
            }
        }
    }

    /// An answer to the device's own write arrives on the next loop turn, as one from the network would.
    private func deliverLater(_ packet: MQTTPacket, channel: UInt16, device: DeviceChannelHandler) {
        swarm.loop.assumeIsolated().execute { [self] in
            guard let m = self.members[Int(channel)], m.device === device else { return }
            device.deliver(packet)
            self.flushIfNeeded()
        }
    }

    private func armHeartbeat() {
        heartbeat?.cancel()
        guard let context else { return }
        heartbeat = context.eventLoop.assumeIsolated().scheduleTask(in: heartbeatInterval) { [self] in
            var actions: [AMQPPoolConnection.Action] = []
            self.machine.heartbeatDue(into: &actions)
            self.run(actions)
            self.flushIfNeeded()
            if self.context != nil { self.armHeartbeat() }
        }
    }
}

@available(*, unavailable)
extension DeviceAMQPPool: Sendable {}
