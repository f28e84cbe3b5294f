internal import FleetMQTT
import Foundation

/// Connection life cycle, failures and retrying, telemetry: the helpers behind the machine's inputs.
extension DeviceStateMachine {
    mutating func beginAttempt(now: Instant, into actions: inout Actions) {
        attemptStartedAt = now
        state = .connecting(started: now)
        actions.append(.record(.connectAttempt))
        actions.append(.connect)
        actions.append(.schedule(.connectTimeout, now + config.connectTimeout))
    }

    /// Username and password for CONNECT: IoT Hub naming and a fresh SAS token when the scenario authenticates.
    func credentials(now: Instant) -> (String?, [UInt8]?) {
        guard let auth = config.auth else { return (config.username, config.password) }
        let username = DeviceAuth.username(
            host: auth.hubHost,
            deviceID: deviceID,
            apiVersion: config.apiVersion,
            clientType: config.clientType
        )
        guard let keyBytes else { return (username, nil) }
        let expiry = config.unixSecondsAtZero + now.nanoseconds / 1_000_000_000 + auth.tokenTTL.components.seconds
        let token = SASToken.make(
            resourceURI: "\(auth.hubHost)/devices/\(deviceID)",
            keyBytes: keyBytes,
            expiry: expiry
        )
        return (username, Array(token.utf8))
    }

    mutating func connackAccepted(started: Instant, now: Instant, into actions: inout Actions) {
        actions.append(.record(.connected(latency: now - started)))
        if let retry, everConnected { actions.append(.record(.reconnected(latency: now - retry.startedAt))) }
        if retry != nil { actions.append(.cancel(.retryDeadline)) }
        retry = nil
        everConnected = true
        lastError = nil
        session = Session(lastWrite: now, lastRead: now)
        state = .connected
        setStatus(.connected, .connectionOk, into: &actions)
        if config.keepAlive > .zero { actions.append(.schedule(.keepAlive, now + config.pingIdle)) }
        if let renewal = config.tokenRenewal, keyBytes != nil {
            actions.append(.schedule(.tokenRenewal, now + renewal))
        }
        var filters: [MQTTSubscription] = []
        if config.subscribeC2D {
            filters.append(
                MQTTSubscription(topicFilter: "devices/\(deviceID)/messages/devicebound/#", qos: .atLeastOnce)
            )
        }
        if twin.isEnabled {
            // Twin answers at QoS 0, as the C SDK subscribes (reference §4.3).
            filters.append(MQTTSubscription(topicFilter: TwinTopic.responses + "#", qos: .atMostOnce))
            twinConnected(now: now, into: &actions)
        }
        if !filters.isEmpty {
            let id = session.allocatePacketID()
            session.subscribeID = id
            actions.append(.write(.subscribe(MQTTSubscribe(packetID: id, subscriptions: filters))))
        }
        resend(now: now, into: &actions)
        if shared.closedLoop {
            fillWindow(now: now, into: &actions)
        } else if generated < config.messages && nextIntended == nil {
            nextIntended = now
            actions.append(.schedule(.telemetry, now))
        }
        disconnectIfDone(now: now, into: &actions)
    }

    /// After a reconnect: re-publish what was unacknowledged (DUP, in packet-id order), then drain the queue.
    mutating func resend(now: Instant, into actions: inout Actions) {
        guard case .connected = state else { return }
        for (id, message) in redelivery.sortedByID() {
            session.inflight.append(id: id, message: message)
            actions.append(
                .publish(TelemetryPublish(seq: message.seq, packetID: id, dup: true, intended: message.intended))
            )
        }
        redelivery.removeAll()
        while session.inflight.count < config.maxInflight, let message = queue.popFirst() {
            Self.publish(message, qos: qos(of: message.seq), session: &session, into: &actions)
        }
        session.lastWrite = now
    }

    /// The next message, due at `intended`.
    mutating func nextMessage(intended: Instant) -> QueuedMessage {
        lastSeq += 1
        return QueuedMessage(intended: intended, seq: lastSeq)
    }

    /// Writes one message; QoS 1 messages join the in-flight list.
    /// Static, with the QoS passed in: calling a method on `self` while an argument mutates `self` copied the whole
    /// machine per message.
    static func publish(_ message: QueuedMessage, qos: MQTTQoS, session: inout Session, into actions: inout Actions) {
        var packetID: UInt16?
        if qos == .atLeastOnce {
            let id = session.allocatePacketID()
            packetID = id
            session.inflight.append(id: id, message: message)
        }
        actions.append(.publish(TelemetryPublish(seq: message.seq, packetID: packetID, intended: message.intended)))
        if qos == .atMostOnce { actions.append(.record(.sent)) }
    }

    /// Closes the connection because of `cause`; `channelClosed` then classifies it.
    mutating func closeThenFail(_ cause: FailureCause, into actions: inout Actions) {
        var established = false
        if case .connected = state {
            established = true
            redelivery.append(contentsOf: session.inflight)
            actions.append(.record(.disconnected))
        }
        cancelSessionTimers(into: &actions)
        state = .closing(.failure(established ? .lost(cause) : .attempt(cause)))
        actions.append(.close)
    }

    /// A connection or an attempt failed and no channel is open any more: stop, or retry with the policy.
    mutating func failed(_ failure: Failure, now: Instant, into actions: inout Actions) {
        let cause = failure.cause
        if cause == .tokenRenewal {
            setStatus(.disconnectedRetrying, .expiredSASToken, into: &actions)
            beginAttempt(now: now, into: &actions)
            return
        }
        lastError = cause
        let (errorClass, reason) = config.classifier.classify(cause)
        guard errorClass != .unrecoverable else {
            setStatus(.disconnected, reason, into: &actions)
            finish(DeviceOutcome(cause), into: &actions)
            return
        }
        let policy = errorClass == .throttled ? config.throttledRetry : config.retry
        let starting = retry == nil
        // An open's clock starts with its first attempt; a reconnect's at the loss (reference §1).
        var progress = retry ?? RetryProgress(startedAt: everConnected ? now : openedAt)
        progress.attempt += 1
        progress.errorClass = errorClass
        let delay = policy.delay(attempt: progress.attempt, previous: progress.previousDelay, using: &rng)
        let limit = retryLimit(errorClass: errorClass)
        // Node checks its limit when an attempt fails (now ≥ start + maxTimeout).
        let expired =
            delay == nil
            || (config.timeLimits.check == .afterFailure && limit.map { now - progress.startedAt >= $0 } == true)
        retry = progress
        guard let delay, !expired else {
            setStatus(.disconnected, .retryExpired, into: &actions)
            finish(DeviceOutcome(cause), into: &actions)
            return
        }
        if starting, config.timeLimits.check == .deadline, let limit {
            // .NET: the operation's cancellation token fires at start + limit, whatever is in progress then.
            actions.append(.schedule(.retryDeadline, progress.startedAt + limit))
        }
        retry?.previousDelay = delay
        // After losing an established connection the first wait is the policy's own; a failed attempt's wait is
        // adjusted by how long the attempt took (.NET's 1 s floor, the C SDK's wait from the attempt start).
        let wait = failure.isLoss ? delay : policy.wait(nominal: delay, attemptDuration: now - attemptStartedAt)
        actions.append(.record(.retryScheduled(attempt: progress.attempt, delay: wait)))
        setStatus(.disconnectedRetrying, reason, into: &actions)
        state = .backingOff
        actions.append(.schedule(.backoff, now + wait))
    }

    /// The time limit of the current retrying: the profile's explicit `retry.timeout` (0: never), else the SDK's for
    /// an open or for a reconnect.
    func retryLimit(errorClass: ErrorClass) -> Duration? {
        let policy = errorClass == .throttled ? config.throttledRetry : config.retry
        if let explicit = policy.timeout { return explicit == .zero ? nil : explicit }
        return everConnected ? config.timeLimits.reconnect : config.timeLimits.open
    }

    /// The SDK's time limit ran out: stop retrying with Retry_Expired, whatever was in progress.
    mutating func giveUp(now: Instant, into actions: inout Actions) {
        let outcome = DeviceOutcome(lastError ?? .network)
        actions.append(.cancel(.retryDeadline))
        setStatus(.disconnected, .retryExpired, into: &actions)
        switch state {
        case .backingOff:
            finish(outcome, into: &actions)
        case .connecting, .awaitingConnAck, .closing(.failure):
            actions.append(.cancel(.connectTimeout))
            actions.append(.cancel(.connackTimeout))
            state = .closing(.finish(outcome))
            actions.append(.close)
        default:
            break
        }
    }

    mutating func setStatus(_ to: ConnectionStatus, _ reason: StatusReason, into actions: inout Actions) {
        actions.append(.record(.status(from: status, to: to, reason: reason)))
        status = to
        statusReason = reason
    }

    mutating func disconnectIfDone(now: Instant, into actions: inout Actions) {
        guard !config.stayConnected, case .connected = state, generated >= config.messages,
            queue.isEmpty, redelivery.isEmpty
        else { return }
        if session.inflight.isEmpty {
            disconnect(outcome: .completed, into: &actions)
        } else if !session.draining {
            session.draining = true
            actions.append(.schedule(.drain, now + config.drainTimeout))
        }
    }

    /// Clean goodbye from a connected state. Unacknowledged messages stay pending when the run stops the device;
    /// after a drain timeout they were already counted as failed.
    mutating func disconnect(outcome: DeviceOutcome, into actions: inout Actions) {
        if outcome == .stopped, case .connected = state { redelivery.append(contentsOf: session.inflight) }
        cancelSessionTimers(into: &actions)
        actions.append(.cancel(.telemetry))
        actions.append(.write(.disconnect(MQTTReasonPacket())))
        actions.append(.record(.disconnected))
        state = .closing(.finish(outcome))
        actions.append(.close)
    }

    mutating func cancelSessionTimers(into actions: inout Actions) {
        actions.append(.cancel(.connackTimeout))
        actions.append(.cancel(.keepAlive))
        actions.append(.cancel(.drain))
        actions.append(.cancel(.tokenRenewal))
        if twin.isEnabled { twinSessionEnded(into: &actions) }
    }

    mutating func finish(_ outcome: DeviceOutcome, into actions: inout Actions) {
        actions.append(.cancel(.telemetry))
        actions.append(.cancel(.backoff))
        actions.append(.cancel(.retryDeadline))
        let unsent = queue.count + redelivery.count
        if unsent > 0 && outcome != .stopped {
            actions.append(.record(.failed(count: unsent, reason: .abandoned)))
            queue.removeAll()
            redelivery.removeAll()
        }
        if twin.isEnabled { twinFinished(stopped: outcome == .stopped, into: &actions) }
        if outcome == .completed || outcome == .stopped || outcome == .ackTimeout {
            setStatus(.disabled, .clientClose, into: &actions)
        }
        state = .done(outcome)
        actions.append(.record(.finished(outcome, status, statusReason)))
    }

}

extension DeviceStateMachine {
    /// A failure and whether it ended an established connection (the first wait after a loss is not floored).
    enum Failure: Sendable {
        case attempt(FailureCause)
        case lost(FailureCause)

        var cause: FailureCause {
            switch self {
            case .attempt(let c), .lost(let c): c
            }
        }

        var isLoss: Bool {
            if case .lost = self { return true }
            return false
        }
    }
}

extension DeviceStateMachine.Session {
    /// The instant keep-alive silence counts from: the last write, or (paho-style) the older of last write and read.
    func keepAliveReference(readSilenceCounts: Bool) -> Instant {
        readSilenceCounts ? min(lastWrite, lastRead) : lastWrite
    }

    mutating func allocatePacketID() -> UInt16 {
        while true {
            let id = nextPacketID
            nextPacketID = nextPacketID == UInt16.max ? 1 : nextPacketID + 1
            if id != subscribeID && !inflight.contains(id: id) { return id }
        }
    }
}

extension DeviceStateMachine {
    /// The run is ending: disconnect cleanly; unacknowledged messages stay pending.
    public mutating func stop(now: Instant, into actions: inout Actions) {
        switch state {
        case .idle:
            finish(.stopped, into: &actions)
        case .backingOff:
            actions.append(.cancel(.backoff))
            actions.append(.cancel(.telemetry))
            finish(.stopped, into: &actions)
        case .connecting:
            actions.append(.cancel(.connectTimeout))
            actions.append(.cancel(.telemetry))
            state = .closing(.finish(.stopped))
            actions.append(.close)
        case .awaitingConnAck:
            actions.append(.cancel(.connackTimeout))
            actions.append(.cancel(.telemetry))
            state = .closing(.finish(.stopped))
            actions.append(.close)
        case .connected:
            disconnect(outcome: .stopped, into: &actions)
        case .closing(.failure):
            state = .closing(.finish(.stopped))
        case .closing(.finish), .done:
            break
        }
    }
}
