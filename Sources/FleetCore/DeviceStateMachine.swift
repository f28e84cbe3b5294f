public import FleetMQTT
import Foundation

/// One simulated device, as a pure state machine.
///
/// Every input is a `mutating func` that takes `now` and appends the actions the handler must run. The same machine
/// runs over sockets (FleetEngine), in memory (FleetTesting) and in virtual time. A device connects, sends telemetry
/// on a fixed grid of intended send times, keeps the link alive, and when the link fails classifies the failure the
/// way its SDK does: unrecoverable failures stop it, transient ones retry with its retry policy (throttled ones with
/// the throttling policy), reporting .NET-style status changes along the way.
public struct DeviceStateMachine: Sendable {
    enum State: Sendable {
        case idle
        case connecting(started: Instant)
        case awaitingConnAck(started: Instant)
        case connected
        /// We asked the channel to close; `channelClosed` continues with this.
        case closing(AfterClose)
        /// Waiting for the backoff timer before the next attempt.
        case backingOff
        case done(DeviceOutcome)
    }

    enum AfterClose: Sendable {
        case finish(DeviceOutcome)
        case failure(Failure)
    }

    struct Session: Sendable {
        var nextPacketID: UInt16 = 1
        /// Unacknowledged QoS 1 messages: packet id and intended send time.
        var inflight = InflightWindow()
        var lastWrite: Instant
        /// When the last packet arrived (paho-style keep-alive also pings after silence in that direction).
        var lastRead: Instant
        var pingOutstanding = false
        var draining = false
        /// The packet id of an unanswered SUBSCRIBE (kept out of the publish ids).
        var subscribeID: UInt16?
    }

    /// Progress through one episode of retrying (from the failure that started it to the next accepted CONNACK).
    struct RetryProgress: Sendable {
        var startedAt: Instant
        /// The class of the latest failure (throttled failures follow their own policy, and its limit).
        var errorClass: ErrorClass = .transient
        var attempt = 0
        var previousDelay: Duration?
    }

    public typealias Actions = [DeviceAction]

    public let deviceID: String
    /// The cohort's settings, shared by all its devices: one copy per cohort, not one per device.
    public let shared: SharedDeviceConfig
    public var config: DeviceConfig {
        _read { yield shared.config }  // borrowed: reading one setting copies nothing
    }
    /// The telemetry topic's prefix (built when asked: no string stored per device).
    public var topic: String { "devices/\(deviceID)/messages/events/" }
    var state: State = .idle
    /// The current connection's session (in-flight messages, packet ids, keep-alive times): meaningful while `state`
    /// is `.connected`, replaced at each accepted CONNACK. Kept beside the state rather than in it, so a message
    /// changes it in place (no copy of the session out of the enum and back per message).
    var session = Session(lastWrite: .zero, lastRead: .zero)
    var retry: RetryProgress?
    /// Whether a CONNACK was ever accepted: before, retrying belongs to the open operation; after, to a reconnect
    /// (the SDKs limit the two differently).
    var everConnected = false
    /// When the open operation began (the first attempt's start): an open's time limit counts from here.
    var openedAt: Instant = .zero
    /// When the current connection attempt (TCP connect) started.
    var attemptStartedAt: Instant = .zero
    /// The intended send time of the next message (the telemetry grid survives reconnects).
    var nextIntended: Instant?
    var rng: SplitMix64
    /// Messages waiting to be sent (disconnected, or the in-flight window is full), oldest first.
    var queue = OfflineQueue()
    /// Messages waiting to be sent (offline, or behind the in-flight limit).
    public var queuedMessages: Int { queue.count }
    /// Messages generated and neither acknowledged nor failed, counted from what the device holds: in flight on the
    /// connection, waiting for redelivery, or queued. The accounting check compares it with generated − acked −
    /// failed as the recorder counted them.
    public var pendingMessages: Int {
        var inflight = 0
        if case .connected = state { inflight = session.inflight.count }
        return inflight + redelivery.count + queue.count
    }
    /// QoS 1 messages unacknowledged when the last connection ended: re-published with DUP after the reconnect.
    var redelivery = InflightWindow()
    /// Twin operations in progress (`twin:`; a single nil reference when the cohort makes none).
    var twin: TwinBox
    /// The message id of the last generated message (ids start at 1; they go in the topic's `$.mid`).
    var lastSeq: UInt64 = 0
    /// The device key (decoded), when the scenario authenticates with SAS tokens.
    let keyBytes: Data?
    /// Seeds the random variables of the cohort's payload template (its own stream: a template changes no delay).
    let payloadSeed: UInt64
    /// Messages generated so far (across connections).
    public internal(set) var generated = 0
    /// The status last reported, and why.
    public internal(set) var status: ConnectionStatus = .disconnected
    public internal(set) var statusReason: StatusReason = .clientClose
    /// The failure that caused the last disconnection, if any (the SDKs' `lastError`).
    public internal(set) var lastError: FailureCause?

    /// `seed` feeds this device's own generator (retry jitter); derive it from the run's seed and the device index.
    /// `key` is the device's base64 key (nil: no password).
    public init(deviceID: String, config: DeviceConfig, seed: UInt64 = 0, key: String? = nil) {
        self.init(deviceID: deviceID, shared: SharedDeviceConfig(config), seed: seed, key: key)
    }

    /// A device of a cohort whose devices all use `shared`.
    public init(deviceID: String, shared: SharedDeviceConfig, seed: UInt64 = 0, key: String? = nil) {
        self.deviceID = deviceID
        self.shared = shared
        self.rng = SplitMix64(seed: seed)
        self.payloadSeed = PayloadTemplate.payloadSeed(deviceSeed: seed)
        self.keyBytes = key.flatMap { Data(base64Encoded: $0) }
        self.twin = TwinBox(enabled: shared.config.twin.isEnabled)
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

    /// The swarm granted this device a connect slot. Ignored unless the device is idle (a stop came first, or the
    /// swarm asked twice).
    public mutating func start(now: Instant, into actions: inout Actions) {
        guard case .idle = state else { return }
        openedAt = now
        beginAttempt(now: now, into: &actions)
    }

    /// The TCP (and TLS) connection is established. It can arrive late: after a stop, after the connect timeout
    /// fired, after the device ended. Then the machine no longer wants the connection: it answers `.close` (the
    /// channel's close then arrives as `channelClosed` and continues whatever the machine was waiting for).
    public mutating func connectSucceeded(now: Instant, into actions: inout Actions) {
        guard case .connecting(let started) = state else {
            switch state {
            case .closing:
                // A close requested while connecting (stop, connect timeout): carry it out now that there is a channel.
                actions.append(.close)
            case .done, .backingOff, .idle:
                // Nothing waits for this connection any more (the attempt was given up): close it and count it.
                actions.append(.record(.lateConnectClosed))
                actions.append(.close)
            case .awaitingConnAck, .connected:
                // A second success for one attempt cannot come from a real socket; treat it as a broken link.
                protocolViolation(now: now, into: &actions)
            case .connecting:
                break
            }
            return
        }
        state = .awaitingConnAck(started: started)
        actions.append(.cancel(.connectTimeout))
        let (username, password) = credentials(now: now)
        actions.append(
            .write(
                .connect(
                    MQTTConnect(
                        version: config.version,
                        clientID: deviceID,
                        cleanStart: config.cleanSession,
                        keepAliveSeconds: UInt16(clamping: config.keepAlive.components.seconds),
                        username: username,
                        password: password
                    )
                )
            )
        )
        actions.append(.schedule(.connackTimeout, now + config.connackTimeout))
    }

    /// The connect attempt failed before any channel became active (`channelClosed` while connecting).
    public mutating func connectFailed(error: ConnectionError? = nil, now: Instant, into actions: inout Actions) {
        guard case .connecting = state else { return }
        channelClosed(error: error, now: now, into: &actions)
    }

    public mutating func packetReceived(_ packet: MQTTPacket, now: Instant, into actions: inout Actions) {
        // The hot path first, outside the tuple switch (whose temporary copy would share the session's storage).
        if case .puback(let ack) = packet, case .connected = state {
            pubackReceived(ack, now: now, into: &actions)
            return
        }
        if config.pingOnReadSilence, case .connected = state {
            session.lastRead = now
        }
        switch (state, packet) {
        case (.awaitingConnAck(let started), .connack(let ack)):
            actions.append(.cancel(.connackTimeout))
            guard ack.isAccepted else {
                actions.append(.record(.refused(code: ack.code)))
                closeThenFail(.refused(code: ack.code, version5: config.version == .v5), into: &actions)
                return
            }
            connackAccepted(started: started, now: now, into: &actions)
        case (.connected, .pingresp):
            session.pingOutstanding = false
            actions.append(
                .schedule(
                    .keepAlive,
                    max(now, session.keepAliveReference(readSilenceCounts: config.pingOnReadSilence) + config.pingIdle)
                )
            )
        case (.connected, .publish(let publish)):
            if twin.isEnabled, publish.topic.hasPrefix(TwinTopic.responses) {
                twinAnswered(publish, now: now, into: &actions)
            } else {
                actions.append(.record(.received(publish)))
            }
            if publish.qos == .atLeastOnce, let id = publish.packetID {
                actions.append(.write(.puback(MQTTAck(packetID: id))))
                session.lastWrite = now
            }
        case (.connected, .disconnect(let d)):
            closeThenFail(.serverDisconnect(reason: d.reasonCode), into: &actions)
        case (.connected, .suback(let ack)):
            if ack.packetID == session.subscribeID {
                session.subscribeID = nil
                twinSubscribed(now: now, into: &actions)
            }
        case (.connected, .unsuback):
            break
        case (.closing, _), (.done, _), (.backingOff, _):
            break
        default:
            protocolViolation(now: now, into: &actions)
        }
    }

    /// The HTTPS device API refused a request with an IoT Hub error (`HubServiceError.code`): the session ends and
    /// the error is classified per SDK, as a refused CONNECT would be; unacknowledged messages go again on the next
    /// connection.
    public mutating func serviceRefused(code: Int, now: Instant, into actions: inout Actions) {
        switch state {
        case .awaitingConnAck, .connected:
            actions.append(.record(.serviceError(code: code)))
            closeThenFail(.service(code: code), into: &actions)
        case .idle, .connecting, .backingOff, .closing, .done:
            break
        }
    }

    /// The peer sent bytes that do not decode, or a packet that makes no sense now.
    public mutating func protocolViolation(now: Instant, into actions: inout Actions) {
        switch state {
        case .closing, .done, .idle, .connecting, .backingOff: return
        case .awaitingConnAck, .connected: closeThenFail(.protocolError, into: &actions)
        }
    }

    /// A timer this machine scheduled came due. `deadline` is the instant it was scheduled for.
    public mutating func timerFired(_ timer: DeviceTimer, deadline: Instant, now: Instant, into actions: inout Actions)
    {
        if timer == .telemetry {
            telemetryDue(deadline: deadline, now: now, into: &actions)
            return
        }
        if timer == .twin {
            twinTimerFired(now: now, into: &actions)
            return
        }
        switch (timer, state) {
        case (.connectTimeout, .connecting):
            state = .closing(.failure(.attempt(.connectTimeout)))
            actions.append(.close)
        case (.connackTimeout, .awaitingConnAck):
            closeThenFail(.connackTimeout, into: &actions)
        case (.backoff, .backingOff):
            // Java and C check their time limit when the wait ends, before the next attempt.
            if config.timeLimits.check == .atAttemptStart, let progress = retry,
                let limit = retryLimit(errorClass: progress.errorClass), now - progress.startedAt > limit
            {
                giveUp(now: now, into: &actions)
                return
            }
            beginAttempt(now: now, into: &actions)
        case (.retryDeadline, .backingOff), (.retryDeadline, .connecting), (.retryDeadline, .awaitingConnAck),
            (.retryDeadline, .closing(.failure)):
            giveUp(now: now, into: &actions)
        case (.tokenRenewal, .connected) where config.renewsInBand:
            // AMQP renews on the open connection (a CBS put-token): the new token goes to the transport's bridge as
            // an MQTT 5 re-authentication, and the next renewal is due one period later.
            let (_, token) = credentials(now: now)
            actions.append(
                .write(
                    .auth(
                        MQTTReasonPacket(
                            reasonCode: 0x19,
                            properties: [
                                .init(.authenticationMethod, .string("SAS")),
                                .init(.authenticationData, .binary(token ?? [])),
                            ]
                        )
                    )
                )
            )
            if let renewal = config.tokenRenewal { actions.append(.schedule(.tokenRenewal, now + renewal)) }
        case (.tokenRenewal, .connected):
            // MQTT 3.1.1 cannot re-authenticate in-band: a clean disconnect, then at once a new CONNECT.
            actions.append(.write(.disconnect(MQTTReasonPacket())))
            closeThenFail(.tokenRenewal, into: &actions)
        case (.keepAlive, .connected):
            if session.pingOutstanding {
                closeThenFail(.keepAliveTimeout, into: &actions)
                return
            }
            if now - session.keepAliveReference(readSilenceCounts: config.pingOnReadSilence) >= config.pingIdle {
                session.pingOutstanding = true
                session.lastWrite = now
                actions.append(.write(.pingreq))
                actions.append(.schedule(.keepAlive, now + config.pingTimeout))
            } else {
                actions.append(
                    .schedule(
                        .keepAlive,
                        session.keepAliveReference(readSilenceCounts: config.pingOnReadSilence) + config.pingIdle
                    )
                )
            }
        case (.drain, .connected):
            if !session.inflight.isEmpty {
                actions.append(.record(.failed(count: session.inflight.count, reason: .ackTimeout)))
            }
            disconnect(outcome: .ackTimeout, into: &actions)
        default:
            break  // a timer that raced with a state change
        }
    }

    /// The channel closed, by us or by the peer (or the connect attempt ended without one). `error` is the socket or
    /// TLS error that ended it, when there was one; it decides how the failure is classified.
    public mutating func channelClosed(error: ConnectionError? = nil, now: Instant, into actions: inout Actions) {
        if let error { actions.append(.record(.connectionError(error))) }
        let tls: FailureCause? = error.flatMap {
            $0.isTLS ? .tls(untrusted: $0 == .tlsUntrusted) : ($0 == .webSocket ? .webSocket : nil)
        }
        switch state {
        case .closing(.finish(let outcome)):
            finish(outcome, into: &actions)
        case .closing(.failure(let failure)):
            failed(failure, now: now, into: &actions)
        case .connecting:
            actions.append(.cancel(.connectTimeout))
            failed(.attempt(tls ?? (error == .timedOut ? .connectTimeout : .network)), now: now, into: &actions)
        case .awaitingConnAck:
            actions.append(.cancel(.connackTimeout))
            failed(.attempt(tls ?? .connectionLost), now: now, into: &actions)
        case .connected:
            redelivery.append(contentsOf: session.inflight)
            actions.append(.record(.disconnected))
            cancelSessionTimers(into: &actions)
            state = .backingOff
            failed(.lost(.connectionLost), now: now, into: &actions)
        case .idle, .done, .backingOff:
            break
        }
    }
}
