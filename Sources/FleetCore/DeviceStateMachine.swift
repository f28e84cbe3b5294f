public import FleetMQTT

/// One simulated device, as a pure state machine.
///
/// Every input is a `mutating func` that takes `now` and appends the actions the handler must run. The same machine
/// runs over sockets (FleetEngine), in memory (FleetTesting) and in virtual time. First version: connect, CONNACK,
/// telemetry on a fixed grid of intended send times, PUBACK accounting, keep-alive, clean disconnect.
public struct DeviceStateMachine: Sendable {
    enum State: Sendable {
        case idle
        case connecting(started: Instant)
        case awaitingConnAck(started: Instant)
        case connected(Session)
        /// We asked the channel to close; `channelClosed` ends the device with this outcome.
        case closing(DeviceOutcome)
        case done(DeviceOutcome)
    }

    struct Session: Sendable {
        var nextPacketID: UInt16 = 1
        /// Unacknowledged QoS 1 messages: packet id and intended send time.
        var inflight: [(id: UInt16, intended: Instant)] = []
        var lastWrite: Instant
        var pingOutstanding = false
        var draining = false
    }

    public typealias Actions = [DeviceAction]

    public let deviceID: String
    public let config: DeviceConfig
    public let topic: String
    private var state: State = .idle
    /// Messages generated so far (across connections).
    public private(set) var generated = 0

    public init(deviceID: String, config: DeviceConfig) {
        self.deviceID = deviceID
        self.config = config
        self.topic = "devices/\(deviceID)/messages/events/"
    }

    /// The outcome once the device has ended.
    public var outcome: DeviceOutcome? {
        if case .done(let o) = state { return o }
        return nil
    }

    public var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    // MARK: - inputs

    /// The swarm granted this device a connect slot.
    public mutating func start(now: Instant, into actions: inout Actions) {
        guard case .idle = state else { preconditionFailure("DeviceStateMachine.start in state \(state)") }
        state = .connecting(started: now)
        actions.append(.record(.connectAttempt))
        actions.append(.connect)
        actions.append(.schedule(.connectTimeout, now + config.connectTimeout))
    }

    /// The TCP connection is established.
    public mutating func connectSucceeded(now: Instant, into actions: inout Actions) {
        guard case .connecting(let started) = state else {
            preconditionFailure("DeviceStateMachine.connectSucceeded in state \(state)")
        }
        state = .awaitingConnAck(started: started)
        actions.append(.cancel(.connectTimeout))
        actions.append(
            .write(
                .connect(
                    MQTTConnect(
                        version: config.version,
                        clientID: deviceID,
                        cleanStart: config.cleanSession,
                        keepAliveSeconds: UInt16(clamping: config.keepAlive.components.seconds),
                        username: config.username,
                        password: config.password
                    )
                )
            )
        )
        actions.append(.schedule(.connackTimeout, now + config.connackTimeout))
    }

    /// The TCP connect failed (refused, unreachable, ...). No channel exists.
    public mutating func connectFailed(now: Instant, into actions: inout Actions) {
        guard case .connecting = state else { return }
        actions.append(.cancel(.connectTimeout))
        finish(.connectFailed, into: &actions)
    }

    public mutating func packetReceived(_ packet: MQTTPacket, now: Instant, into actions: inout Actions) {
        // The hot path first, outside the tuple switch (whose temporary copy would share the session's storage).
        if case .puback(let ack) = packet, case .connected = state {
            pubackReceived(ack, now: now, into: &actions)
            return
        }
        switch (state, packet) {
        case (.awaitingConnAck(let started), .connack(let ack)):
            actions.append(.cancel(.connackTimeout))
            guard ack.isAccepted else {
                actions.append(.record(.refused(code: ack.code)))
                state = .closing(.refused)
                actions.append(.close)
                return
            }
            actions.append(.record(.connected(latency: now - started)))
            state = .connected(Session(lastWrite: now))
            if config.keepAlive > .zero { actions.append(.schedule(.keepAlive, now + config.keepAlive)) }
            if generated < config.messages {
                actions.append(.schedule(.telemetry, now))
            } else {
                disconnectIfDone(now: now, into: &actions)
            }
        case (.connected(var session), .pingresp):
            session.pingOutstanding = false
            state = .connected(session)
        case (.connected(var session), .publish(let publish)):
            actions.append(.record(.received))
            if publish.qos == .atLeastOnce, let id = publish.packetID {
                actions.append(.write(.puback(MQTTAck(packetID: id))))
                session.lastWrite = now
                state = .connected(session)
            }
        case (.connected, .suback), (.connected, .unsuback):
            break
        case (.closing, _), (.done, _):
            break
        default:
            protocolViolation(now: now, into: &actions)
        }
    }

    /// The peer sent bytes that do not decode, or a packet that makes no sense now.
    public mutating func protocolViolation(now: Instant, into actions: inout Actions) {
        switch state {
        case .closing, .done, .idle, .connecting: return
        case .awaitingConnAck, .connected: close(.protocolError, into: &actions)
        }
    }

    /// A timer this machine scheduled came due. `deadline` is the instant it was scheduled for.
    public mutating func timerFired(_ timer: DeviceTimer, deadline: Instant, now: Instant, into actions: inout Actions)
    {
        if timer == .telemetry, case .connected = state {
            telemetryDue(deadline: deadline, now: now, into: &actions)
            return
        }
        switch (timer, state) {
        case (.connectTimeout, .connecting):
            state = .closing(.connectTimeout)
            actions.append(.close)
        case (.connackTimeout, .awaitingConnAck):
            close(.connackTimeout, into: &actions)
        case (.keepAlive, .connected(var session)):
            if session.pingOutstanding {
                close(.keepAliveTimeout, into: &actions)
                return
            }
            if now - session.lastWrite >= config.keepAlive {
                session.pingOutstanding = true
                session.lastWrite = now
                actions.append(.write(.pingreq))
                actions.append(.schedule(.keepAlive, now + config.keepAlive))
            } else {
                actions.append(.schedule(.keepAlive, session.lastWrite + config.keepAlive))
            }
            state = .connected(session)
        case (.drain, .connected(let session)):
            if !session.inflight.isEmpty {
                actions.append(.record(.failed(count: session.inflight.count, outcome: .ackTimeout)))
            }
            disconnect(outcome: .ackTimeout, into: &actions)
        default:
            break  // a timer that raced with a state change
        }
    }

    /// The channel closed, by us or by the peer.
    public mutating func channelClosed(now: Instant, into actions: inout Actions) {
        switch state {
        case .closing(let outcome):
            finish(outcome, into: &actions)
        case .connecting:
            actions.append(.cancel(.connectTimeout))
            finish(.connectFailed, into: &actions)
        case .awaitingConnAck:
            actions.append(.cancel(.connackTimeout))
            finish(.connectionLost, into: &actions)
        case .connected(let session):
            if !session.inflight.isEmpty {
                actions.append(.record(.failed(count: session.inflight.count, outcome: .connectionLost)))
            }
            cancelSessionTimers(into: &actions)
            finish(.connectionLost, into: &actions)
        case .idle, .done:
            break
        }
    }

    /// The run is ending: disconnect cleanly; unacknowledged messages stay pending.
    public mutating func stop(now: Instant, into actions: inout Actions) {
        switch state {
        case .idle:
            finish(.stopped, into: &actions)
        case .connecting:
            actions.append(.cancel(.connectTimeout))
            state = .closing(.stopped)
            actions.append(.close)
        case .awaitingConnAck:
            close(.stopped, into: &actions)
        case .connected:
            disconnect(outcome: .stopped, into: &actions)
        case .closing, .done:
            break
        }
    }

    // MARK: - helpers

    private mutating func pubackReceived(_ ack: MQTTAck, now: Instant, into actions: inout Actions) {
        var session = takeSession()
        if let i = session.inflight.firstIndex(where: { $0.id == ack.packetID }) {
            let intended = session.inflight[i].intended
            session.inflight.remove(at: i)
            if ack.reasonCode < 0x80 {
                actions.append(.record(.acked(latency: now - intended)))
            } else {
                actions.append(.record(.failed(count: 1, outcome: .refused)))
            }
        }
        state = .connected(session)
        disconnectIfDone(now: now, into: &actions)
    }

    private mutating func telemetryDue(deadline: Instant, now: Instant, into actions: inout Actions) {
        guard generated < config.messages else { return }
        var session = takeSession()
        generated += 1
        actions.append(.record(.generated(qos: config.qos)))
        var publish = MQTTPublish(topic: topic, payload: config.payload, qos: config.qos)
        if config.qos == .atLeastOnce {
            let id = session.allocatePacketID()
            publish.packetID = id
            session.inflight.append((id, deadline))
        }
        actions.append(.write(.publish(publish)))
        session.lastWrite = now
        state = .connected(session)
        if generated < config.messages {
            actions.append(.schedule(.telemetry, deadline + config.interval))
        } else {
            disconnectIfDone(now: now, into: &actions)
        }
    }

    /// Moves the session out of `state` (which holds `.idle` for the moment), so its inflight array is uniquely
    /// referenced while it changes: no copy-on-write allocation per message. Put it back with `.connected(session)`.
    private mutating func takeSession() -> Session {
        guard case .connected(let session) = state else {
            preconditionFailure("DeviceStateMachine.takeSession in state \(state)")
        }
        state = .idle
        return session
    }

    private mutating func disconnectIfDone(now: Instant, into actions: inout Actions) {
        guard case .connected(var session) = state, generated >= config.messages else { return }
        if session.inflight.isEmpty {
            disconnect(outcome: .completed, into: &actions)
        } else if !session.draining {
            session.draining = true
            state = .connected(session)
            actions.append(.schedule(.drain, now + config.drainTimeout))
        }
    }

    private mutating func disconnect(outcome: DeviceOutcome, into actions: inout Actions) {
        cancelSessionTimers(into: &actions)
        actions.append(.write(.disconnect(MQTTReasonPacket())))
        state = .closing(outcome)
        actions.append(.close)
    }

    private mutating func close(_ outcome: DeviceOutcome, into actions: inout Actions) {
        if case .connected(let session) = state, !session.inflight.isEmpty, outcome != .stopped {
            actions.append(.record(.failed(count: session.inflight.count, outcome: outcome)))
        }
        cancelSessionTimers(into: &actions)
        state = .closing(outcome)
        actions.append(.close)
    }

    private func cancelSessionTimers(into actions: inout Actions) {
        actions.append(.cancel(.connackTimeout))
        actions.append(.cancel(.telemetry))
        actions.append(.cancel(.keepAlive))
        actions.append(.cancel(.drain))
    }

    private mutating func finish(_ outcome: DeviceOutcome, into actions: inout Actions) {
        state = .done(outcome)
        actions.append(.record(.finished(outcome)))
    }
}

extension DeviceStateMachine.Session {
    mutating func allocatePacketID() -> UInt16 {
        while true {
            let id = nextPacketID
            nextPacketID = nextPacketID == UInt16.max ? 1 : nextPacketID + 1
            if !inflight.contains(where: { $0.id == id }) { return id }
        }
    }
}
