internal import FleetCore
internal import FleetMQTT
internal import FleetMetrics
internal import NIOCore
internal import NIOPosix
internal import NIOTLS

/// One device: its state machine, its timers, and (while connected) its channel.
///
/// The handler interprets the actions the machine returns and nothing else: one `run(_:)` switch does all the I/O.
/// The same instance is added to each new channel's pipeline. Loop-bound.
final class DeviceChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let index: UInt32
    private(set) var machine: DeviceStateMachine
    private unowned let swarm: Swarm
    private unowned let recorder: Recorder
    /// Connection attempts so far (the swarm rotates source addresses by it).
    var connections = -1
    private var context: ChannelHandlerContext?
    private var timers = TimerSlots()
    private var decoder: MQTTDecoder
    private let encoder: MQTTEncoder
    private var inbound: ByteBuffer?
    private var needsFlush = false
    /// Holds one of the swarm's connect-window slots until CONNACK or the end of the attempt.
    private var holdsSlot = false
    /// The pooled AMQP connection this device rides (instead of a channel of its own), from the connect on; its
    /// session's channel once the pool admitted it.
    private var pool: DeviceAMQPPool?
    private var poolChannel: UInt16?

    /// NIO's default allocator (what every channel here has): used directly, without a channel reference per write.
    private static let allocator = ByteBufferAllocator()

    init(index: UInt32, machine: DeviceStateMachine, swarm: Swarm, recorder: Recorder) {
        self.index = index
        self.recorder = recorder
        self.machine = machine
        self.swarm = swarm
        self.decoder = MQTTDecoder(version: machine.config.version)
        self.encoder = MQTTEncoder(version: machine.config.version)
    }

    // MARK: - inputs from the swarm

    func start() {
        holdsSlot = true
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        machine.start(now: now, into: &actions)
        run(consume actions, now: now)
    }

    func stop() {
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        machine.stop(now: now, into: &actions)
        run(consume actions, now: now)
    }

    func timerFired(_ kind: DeviceTimer, deadline: Instant, now: Instant) {
        timers[kind] = nil
        var actions = swarm.actionBuffer()
        machine.timerFired(kind, deadline: deadline, now: now, into: &actions)
        run(consume actions, now: now)
    }

    /// At the end of the run: the messages this device still holds count as pending.
    func notePending() {
        recorder.notePending(machine.pendingMessages)
    }

    /// The grace period after `stop` ran out: drop the connection without a goodbye.
    func forceClose() {
        if let pool {
            pool.leave(self, channel: poolChannel)
        } else if let context {
            context.close(promise: nil)
        } else {
            connectionClosed()
        }
    }

    // MARK: - channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        inbound = nil
        closeError = nil
        if closeRequested {
            // The machine asked to close before the channel existed (a stop during address resolution).
            closeRequested = false
            context.close(promise: nil)
            return
        }
        if context.channel.isActive { becameActive() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The same handler joins each new channel: an old channel's removal must not clear the new one's context.
        if self.context === context { self.context = nil }
    }

    func channelActive(context: ChannelHandlerContext) {
        tcpEstablished = swarm.scheduler.now()
        becameActive()
        context.fireChannelActive()
    }

    private var activated = false
    /// A close the machine asked for before the channel existed; carried out when the handler joins it.
    private var closeRequested = false
    /// The socket or TLS error that is closing the channel (sent with `channelClosed`).
    private var closeError: ConnectionError?
    private var lastQueued = 0
    /// When TCP was established (for the TLS handshake time).
    private var tcpEstablished: Instant?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let start = tcpEstablished {
            recorder.recordTLSHandshake(swarm.scheduler.now() - start)
            tcpEstablished = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func becameActive() {
        guard !activated else { return }
        activated = true
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        machine.connectSucceeded(now: now, into: &actions)
        run(consume actions, now: now)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.writeBuffer(&bytes)
        }
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        do {
            while var buffer = inbound, let packet = try decoder.decode(buffer: &buffer) {
                inbound = buffer.readableBytes == 0 ? nil : buffer
                machine.packetReceived(packet, now: now, into: &actions)
            }
        } catch {
            swarm.recordMalformed()
            inbound = nil
            machine.protocolViolation(now: now, into: &actions)
        }
        // A partial packet stays: drop the bytes already decoded in front of it, so the buffer does not grow with
        // everything a long-lived connection ever read.
        if (inbound?.readerIndex ?? 0) > 0 { inbound!.discardReadBytes() }
        run(consume actions, now: now)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard self.context === context else {
            context.fireChannelInactive()
            return
        }
        let error = closeError
        closeError = nil
        connectionClosed(error: error)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let service = error as? HubServiceError, closeError == nil {
            // The HTTPS API refused a request: the machine decides (it closes, then retries or stops per SDK).
            var actions = swarm.actionBuffer()
            let now = swarm.scheduler.now()
            machine.serviceRefused(code: service.code, now: now, into: &actions)
            run(consume actions, now: now)
            return
        }
        // The first error is the cause; it travels to the machine with the close.
        if closeError == nil { closeError = ConnectionError(error) }
        context.close(promise: nil)
    }

    // MARK: - a pooled AMQP connection (`DeviceAMQPPool`)

    /// The swarm hands the connect to this device's pool.
    func joinPool(_ pool: DeviceAMQPPool) {
        self.pool = pool
        poolChannel = nil
        pool.join(self)
    }

    /// The pool admitted this device on `channel` (ready on the next turn).
    func poolAssigned(channel: UInt16) {
        poolChannel = channel
    }

    /// The pool's connection is open and this device has its session's channel: as a socket becoming active.
    func poolReady(channel: UInt16) {
        poolChannel = channel
        tcpEstablished = nil
        becameActive()
    }

    /// A packet from the device's session, as if it had come over MQTT.
    func deliver(_ packet: MQTTPacket) {
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        machine.packetReceived(packet, now: now, into: &actions)
        run(consume actions, now: now)
    }

    /// The hub refused the device (its session's CBS status or link error, or the pooled connection's SASL).
    func poolRefused(code: Int) {
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        machine.serviceRefused(code: code, now: now, into: &actions)
        run(consume actions, now: now)
    }

    /// The device's session broke (its frames out of place): it leaves the pool with this error.
    func poolError(_ error: ConnectionError?) {
        guard let pool else { return }
        pool.leave(self, channel: poolChannel, error: error)
    }

    /// The device is off the pool: its session ended, or the whole connection did.
    func poolClosed(error: ConnectionError?) {
        guard pool != nil else { return }
        pool = nil
        poolChannel = nil
        connectionClosed(error: error)
    }

    /// The channel closed, or the connect attempt failed before it became active (with the error, when known).
    func connectionClosed(error: ConnectionError? = nil) {
        activated = false
        inbound = nil
        closeRequested = false
        var actions = swarm.actionBuffer()
        let now = swarm.scheduler.now()
        machine.channelClosed(error: error, now: now, into: &actions)
        run(consume actions, now: now)
    }

    // MARK: - the one place that does I/O

    /// `now` is the instant of the input that produced `actions` (one clock read per input, not per event).
    private func run(_ actions: consuming [DeviceAction], now: Instant) {
        // The swarm and recorder once per batch: each read of an unowned reference retains and releases it.
        let swarm = self.swarm
        let recorder = self.recorder
        for i in actions.indices {  // by index: the batch stays this function's to hand back unshared
            switch actions[i] {
            case .connect:
                swarm.connect(self)
            case .write(let packet):
                if let pool {
                    if let poolChannel { pool.deviceWrote(packet, channel: poolChannel) }
                    continue
                }
                guard let context else { continue }
                var buffer = Self.allocator.buffer(capacity: 64)
                do {
                    try encoder.encode(packet, into: &buffer)
                } catch {
                    // Only a packet our own settings made too large can fail: drop the connection, not the process.
                    context.close(promise: nil)
                    continue
                }
                context.write(wrapOutboundOut(buffer), promise: nil)
                needsFlush = true
            case .publish(let message):
                if let pool {
                    if let poolChannel { pool.deviceWrote(.publish(pooledPublish(message)), channel: poolChannel) }
                    continue
                }
                guard let context else { continue }
                // What writing needs, taken once: calling the machine's own methods here copied the whole machine
                // (every reference in it retained and released) for each of the two writes.
                let writer = machine.writer
                var buffer = swarm.writeBuffer(capacity: 128 + writer.bodyCapacity(for: message))
                do {
                    // The machine gives a QoS 1 message a packet id and a QoS 0 one none (a mix may hold both).
                    try encoder.encodePublish(
                        qos: message.packetID == nil ? .atMostOnce : .atLeastOnce,
                        packetID: message.packetID,
                        dup: message.dup,
                        into: &buffer,
                        topic: { writer.writeTopic(seq: message.seq, into: &$0) },
                        payload: { writer.writeBody(for: message, into: &$0) }
                    )
                } catch {
                    context.close(promise: nil)
                    continue
                }
                swarm.keepWriteBuffer(buffer)
                context.write(wrapOutboundOut(buffer), promise: nil)
                needsFlush = true
            case .close:
                flushIfNeeded()
                if let pool {
                    pool.leave(self, channel: poolChannel)
                } else if let context {
                    context.close(promise: nil)
                } else {
                    closeRequested = true
                }
            case .schedule(let kind, let at):
                if let old = timers[kind] { swarm.scheduler.cancel(old) }
                timers[kind] = swarm.scheduler.schedule(at: at, DeviceTimerRef(device: index, kind: kind))
            case .cancel(let kind):
                if let old = timers[kind] {
                    swarm.scheduler.cancel(old)
                    timers[kind] = nil
                }
            case .record(let event):
                recorder.record(event, at: now)
                if swarm.hasStorms { swarm.stormEvent(device: index, event, recorder: recorder, at: now) }
                if swarm.notifies {
                    swarm.callbacks.notify(deviceID: machine.deviceID, event: event, lastError: machine.lastError)
                }
                switch event {
                case .connected(let latency):
                    releaseSlot(.connected(latency))
                case .refused:
                    releaseSlot(.refused)
                case .connectionError:
                    if holdsSlot { swarm.windowSignal(.failed) }
                case .finished:
                    releaseSlot(.failed)
                    swarm.deviceFinished(self)
                case .lateConnectClosed:
                    swarm.recordLateConnect()
                default:
                    break
                }
            }
        }
        // Handed over, not copied: a shared buffer would make `removeAll(keepingCapacity:)` allocate a new one.
        swarm.recycle(consume actions)
        let queued = machine.queuedMessages
        if queued != lastQueued {
            recorder.queueChanged(by: queued - lastQueued, at: now)
            lastQueued = queued
        }
        swarm.scheduler.catchUp()
        if let pool { return pool.flushIfNeeded() }
        // Flush only a connection that is up (`activated`; asking the channel retained it and its lifecycle state).
        if context == nil || !activated { return }
        flushIfNeeded()
    }

    /// A telemetry message as a packet for the pooled session (its topic written as over MQTT).
    private func pooledPublish(_ message: TelemetryPublish) -> MQTTPublish {
        var topic = ByteBuffer()
        machine.writeTopic(seq: message.seq, into: &topic)
        return MQTTPublish(
            topic: String(buffer: topic),
            payload: machine.body(for: message),
            qos: message.packetID == nil ? .atMostOnce : .atLeastOnce,
            dup: message.dup,
            packetID: message.packetID
        )
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    private func releaseSlot(_ outcome: Swarm.SlotOutcome) {
        guard holdsSlot else { return }
        holdsSlot = false
        swarm.slotReleased(outcome)
    }
}

@available(*, unavailable)
extension DeviceChannelHandler: Sendable {}
