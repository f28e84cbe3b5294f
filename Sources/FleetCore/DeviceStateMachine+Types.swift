public import FleetMQTT
public import NIOCore

/// Per-scenario settings every device shares (built once; the payload buffer is shared copy-on-write).
public struct DeviceConfig: Sendable {
    public var version: MQTTVersion
    public var keepAlive: Duration
    public var cleanSession: Bool
    public var connectTimeout: Duration
    public var connackTimeout: Duration
    public var messages: Int
    public var interval: Duration
    public var qos: MQTTQoS
    public var payload: ByteBuffer
    public var drainTimeout: Duration
    public var queueCapacity: Int
    public var queueOverflow: QueueOverflow
    public var maxInflight: Int
    /// After the last message: stay connected (keep-alive only) until the run stops the device.
    public var stayConnected: Bool
    /// `interval` 0: each message goes as soon as the in-flight window has room.
    public var closedLoop: Bool { interval == .zero }
    /// The topic suffix after `devices/{id}/messages/events/` (a URL-encoded property bag, sorted by name).
    public var propertyBag: String
    public var subscribeC2D: Bool
    public var username: String?
    public var password: [UInt8]?
    /// Retry policy for transient failures, and for throttled ones.
    public var retry: RetryPolicy
    public var throttledRetry: RetryPolicy
    /// The SDK the devices imitate, and what it decides: how failures are classified, when retrying stops.
    public var sdk: SDK
    public var classifier: ErrorClassifier
    public var timeLimits: SDK.TimeLimits
    /// SAS authentication, the api-version for the username, and when the preset renews its token.
    public var auth: DeviceAuth?
    public var apiVersion: String
    public var tokenRenewal: Duration?
    /// The transport renews a token on the open connection (AMQP's CBS put-token): the machine hands the new token to
    /// it as an MQTT 5 AUTH (re-authenticate) instead of reconnecting.
    public var renewsInBand = false
    /// The device speaks AMQP 1.0 (through the AMQP bridge) rather than MQTT.
    public var amqpTransport = false
    /// `DeviceClientType` in the username.
    public var clientType: String
    /// Unix time (seconds) at `Instant.zero`, for token expiry; the runner sets it from the wall clock at start.
    public var unixSecondsAtZero: Int64 = 0
    /// The same instant in milliseconds, for a template's `time` variables (FleetSim keeps 0: its clock starts at the
    /// Unix epoch).
    public var unixMillisAtZero: Int64 = 0
    /// The cohort's payload template (nil: `payload`, the filler, for every message).
    public var template: PayloadTemplate?
    /// Bytes to reserve for one message's body (the template's longest expansion, or the filler's size).
    public var bodyCapacity: Int
    /// The cohort's message mix (empty: every message is `qos` with the template or filler above).
    public var kinds: [MessageKind] = []
    /// Twin operations (`twin:`).
    public var twin = TwinSettings()
    /// Silence before a PINGREQ, and how long to wait for its PINGRESP (reference §4.5): .NET pings after a
    /// quarter of the keep-alive and waits 30 s; C pings after the keep-alive and waits min(80 s, keep-alive/2);
    /// the others (paho, mqtt.js semantics) ping after the keep-alive and wait one more.
    public var pingIdle: Duration
    public var pingTimeout: Duration
    /// paho/mqtt.js: also ping when nothing has been *received* for the idle time (so a silent peer is noticed
    /// while the device keeps publishing). .NET and C count only what they send.
    public var pingOnReadSilence: Bool

    /// Settings for one cohort of `scenario` (default: the scenario's own SDK and retry curve).
    public init(scenario: Scenario, cohort: Scenario.Cohort? = nil) {
        let sdk = cohort?.sdk ?? scenario.sdk
        let chosen = cohort?.retry ?? scenario.retry
        self.sdk = sdk
        auth = scenario.auth
        apiVersion = scenario.auth?.apiVersion ?? sdk.apiVersion
        let amqp = cohort?.amqp ?? scenario.hub.amqp
        tokenRenewal = scenario.auth.flatMap { sdk.tokenRenewal(ttl: $0.tokenTTL, overAMQP: amqp) }
        amqpTransport = amqp
        renewsInBand = amqp
        clientType = sdk.clientType
        (pingIdle, pingTimeout, pingOnReadSilence) = sdk.keepAlive(scenario.mqtt.keepAlive)
        retry = chosen.policy
        throttledRetry = chosen.throttled
        classifier = sdk.classifier
        timeLimits = sdk.timeLimits
        version = scenario.mqtt.version
        keepAlive = scenario.mqtt.keepAlive
        cleanSession = scenario.mqtt.cleanSession
        connectTimeout = scenario.mqtt.connectTimeout
        connackTimeout = scenario.mqtt.connackTimeout
        messages = scenario.telemetry.messages
        interval = scenario.telemetry.interval
        qos = scenario.telemetry.qos
        drainTimeout = scenario.telemetry.drainTimeout
        queueCapacity = scenario.telemetry.queueCapacity
        queueOverflow = scenario.telemetry.queueOverflow
        maxInflight = scenario.telemetry.maxInflight
        stayConnected = scenario.telemetry.stayConnected
        // System properties first, in the order the SDKs write them after `$.mid` (the Python SDK's recorded
        // `%24.mid=…&%24.ct=application%2Fjson&%24.ce=utf-8&seq=1`), then the application properties.
        var system: [String] = []
        if let ct = scenario.telemetry.contentType { system.append("%24.ct=" + SASToken.urlEncode(ct)) }
        if let ce = scenario.telemetry.contentEncoding { system.append("%24.ce=" + SASToken.urlEncode(ce)) }
        let application = scenario.telemetry.properties.sorted { $0.key < $1.key }
            .map { SASToken.urlEncode($0.key) + "=" + SASToken.urlEncode($0.value) }
        propertyBag = (system + application).joined(separator: "&")
        subscribeC2D = scenario.mqtt.subscribeC2D
        twin = TwinSettings(scenario.twin)
        let cohortName = cohort?.name ?? "all"
        template = scenario.telemetry.template?.forCohort(cohortName, messages: scenario.telemetry.messages)
        bodyCapacity =
            template?.maxBytes(
                deviceIDBytes: scenario.fleet.longestDeviceID,
                cohortBytes: cohortName.utf8.count,
                messages: scenario.telemetry.messages
            ) ?? scenario.telemetry.payloadBytes
        payload = Self.filler(scenario.telemetry.payloadBytes)
        kinds = MessageKind.kinds(
            scenario.mix(of: cohort),
            scenario: scenario,
            cohortName: cohortName,
            template: template,
            payload: payload,
            bodyCapacity: bodyCapacity
        )
    }

    /// `bytes` of filler: the start of a JSON reading, repeated.
    static func filler(_ bytes: Int) -> ByteBuffer {
        var payload = ByteBuffer()
        let pattern = Array(#"{"temperature":21.5,"humidity":40,"pad":""#.utf8)
        for i in 0..<bytes { payload.writeInteger(pattern[i % pattern.count]) }
        return payload
    }
}

/// What a device's twin operations need (from `Scenario.Twin`), with the reported-properties body built once.
public struct TwinSettings: Sendable {
    public var getOnConnect = false
    public var reportInterval: Duration = .zero
    public var timeout: Duration = .seconds(60)
    /// The reported-properties document: JSON of exactly `Scenario.Twin.reportBytes` bytes.
    public var reportBody = ByteBuffer()

    public var isEnabled: Bool { getOnConnect || reportInterval > .zero }

    public init() {}

    public init(_ twin: Scenario.Twin) {
        getOnConnect = twin.getOnConnect
        reportInterval = twin.reportInterval
        timeout = twin.timeout
        reportBody = ByteBuffer(string: Self.document(bytes: twin.reportBytes))
    }

    /// `{"fleetstorm":"xxx…"}` padded to `bytes` (at least its 17 bytes of frame).
    static func document(bytes: Int) -> String {
        let frame = #"{"fleetstorm":""}"#
        return #"{"fleetstorm":""# + String(repeating: "x", count: max(0, bytes - frame.utf8.count)) + #""}"#
    }
}

/// One cohort's `DeviceConfig`, built once and shared by reference by all of the cohort's devices.
public final class SharedDeviceConfig: Sendable {
    public let config: DeviceConfig
    /// `config.closedLoop`, decided once (asked on every acknowledgement; reading it through `config` copied it).
    public let closedLoop: Bool
    /// What writing a message's body reads, kept apart so it copies nothing else per message.
    public let template: PayloadTemplate?
    public let payload: ByteBuffer
    public let bodyCapacity: Int
    public let unixMillisAtZero: Int64
    public let kinds: [DeviceConfig.MessageKind]
    public let qos: MQTTQoS
    public let propertyBag: String
    public init(_ config: DeviceConfig) {
        self.config = config
        closedLoop = config.closedLoop
        template = config.template
        payload = config.payload
        bodyCapacity = config.bodyCapacity
        unixMillisAtZero = config.unixMillisAtZero
        kinds = config.kinds
        qos = config.qos
        propertyBag = config.propertyBag
    }

    /// Which kind of the mix message `seq` of the device with payload seed `seed` is (0 without a mix): drawn from
    /// the two alone, so a message keeps its kind (and QoS and body) when it is re-sent.
    public func kind(of seq: UInt64, seed: UInt64) -> Int {
        guard kinds.count > 1 else { return 0 }
        let draw = PayloadTemplate.mix(seed, 0x6B69_6E64, seq)
        for (i, kind) in kinds.enumerated() where draw < kind.threshold { return i }
        return kinds.count - 1
    }
}

/// The timers a device uses; at most one of each kind is pending.
public enum DeviceTimer: UInt8, Sendable, Hashable, CaseIterable {
    case connectTimeout
    case connackTimeout
    case telemetry
    case keepAlive
    case drain
    /// The wait before the next connection attempt.
    case backoff
    /// Reconnect with a fresh SAS token (C, Node and Python renew before expiry).
    case tokenRenewal
    /// The SDK's operation deadline for the current retrying (.NET: an open gives up 240 s after it began).
    case retryDeadline
    /// Twin operations: an operation's deadline, a retry after a 429 or 5xx, the next reported-properties PATCH.
    case twin
}

/// Why a device stopped.
public enum DeviceOutcome: String, Sendable, Hashable, CaseIterable {
    /// Sent every message, saw every acknowledgement, disconnected cleanly.
    case completed
    /// Stopped by the run (deadline or cancellation).
    case stopped
    case connectFailed = "connect_failed"
    case connectTimeout = "connect_timeout"
    case connackTimeout = "connack_timeout"
    case refused
    case connectionLost = "connection_lost"
    case keepAliveTimeout = "keepalive_timeout"
    case protocolError = "protocol_error"
    case serverDisconnect = "server_disconnect"
    /// Sent everything, but some acknowledgements never came within the drain timeout.
    case ackTimeout = "ack_timeout"
    /// The TLS handshake failed and the SDK does not retry that.
    case tlsFailed = "tls_failed"

    /// The outcome of a device that stopped because of `cause` (unrecoverable, or the policy gave up).
    public init(_ cause: FailureCause) {
        switch cause {
        case .network: self = .connectFailed
        case .connectTimeout: self = .connectTimeout
        case .connackTimeout: self = .connackTimeout
        case .refused: self = .refused
        case .connectionLost: self = .connectionLost
        case .keepAliveTimeout: self = .keepAliveTimeout
        case .protocolError: self = .protocolError
        case .serverDisconnect, .tokenRenewal: self = .serverDisconnect
        case .tls: self = .tlsFailed
        case .webSocket: self = .connectFailed
        case .service: self = .refused
        }
    }
}

/// Why a message will never be acknowledged.
public enum MessageLoss: String, Sendable, Hashable, CaseIterable {
    /// No PUBACK within the drain timeout.
    case ackTimeout = "ack_timeout"
    /// The offline queue was full (overflow policy drop-oldest or drop-newest).
    case queueOverflow = "queue_overflow"
    /// Queued or unacknowledged when the device gave up (unrecoverable error, or its retry policy expired).
    case abandoned
    /// PUBACK with a failure reason code (MQTT 5).
    case rejected
}

/// What happened, for the recorder. Latencies are measured by the machine from the instants it was given.
public enum DeviceEvent: Sendable, Hashable {
    /// A TCP connect started.
    case connectAttempt
    /// CONNACK accepted; latency from TCP connect start.
    case connected(latency: Duration)
    /// CONNACK refused with this code.
    case refused(code: UInt8)
    /// A connected device's connection ended.
    case disconnected
    /// CONNACK accepted after a loss; latency from the failure that started the retrying.
    case reconnected(latency: Duration)
    /// The status changed (counted by from, to and reason).
    case status(from: ConnectionStatus, to: ConnectionStatus, reason: StatusReason)
    /// The retry policy chose this wait before retry `attempt`.
    case retryScheduled(attempt: Int, delay: Duration)
    /// A message was generated at its intended send time.
    case generated(qos: MQTTQoS, kind: UInt8 = 0)
    /// A QoS 0 message was written (it is never acknowledged: "sent" is as far as it goes).
    case sent
    /// A QoS 1 message was acknowledged; latency from its intended send time.
    case acked(latency: Duration, kind: UInt8 = 0)
    /// Messages that will never be acknowledged.
    case failed(count: Int, reason: MessageLoss)
    /// A PUBLISH from the hub (cloud-to-device).
    /// Boxed, as `DeviceAction.write`: rare, and large inline.
    indirect case received(MQTTPublish)
    /// The device will not go on; its final status and reason.
    case finished(DeviceOutcome, ConnectionStatus, StatusReason)
    /// A connect that completed after the device had given the attempt up (stopped, or timed out): closed at once.
    case lateConnectClosed
    /// A connection or attempt ended with this socket or TLS error.
    case connectionError(ConnectionError)
    /// The HTTPS device API answered with this IoT Hub error code (`HubServiceError`).
    case serviceError(code: Int)
    /// A twin operation (`update`: a reported-properties PATCH, else a GET) became due.
    case twinOperation(update: Bool)
    /// A twin request was written (an operation makes one per attempt).
    case twinRequest(update: Bool)
    /// The hub answered the waiting twin request with this status.
    case twinAnswer(update: Bool, status: UInt16)
    /// A twin request ended without an answer: its connection ended, or its operation gave up first.
    case twinUnanswered(update: Bool)
    /// A twin operation succeeded (2xx); latency from its first request.
    case twinCompleted(update: Bool, latency: Duration)
    /// A twin operation ended without success: past `twin.timeout`, a status it does not retry, or its device ended
    /// (an unrecoverable failure, or its retry policy gave up).
    case twinGaveUp(update: Bool)
    /// A twin operation was still due when the run stopped its device.
    case twinOpenAtStop(update: Bool)
}

/// One telemetry PUBLISH: the device's events topic carrying this message id (`$.mid`), the scenario's payload.
/// The handler encodes it straight into its buffer (`DeviceStateMachine.writeTopic`), so no topic string is built
/// per message; `DeviceStateMachine.packet(for:)` makes the packet value where one is needed.
public struct TelemetryPublish: Sendable, Hashable {
    public var seq: UInt64
    public var packetID: UInt16?
    public var dup: Bool
    /// The message's intended send time (a template's `time` variables print it).
    public var intended: Instant

    public init(seq: UInt64, packetID: UInt16?, dup: Bool = false, intended: Instant = .zero) {
        self.seq = seq
        self.packetID = packetID
        self.dup = dup
        self.intended = intended
    }
}

/// What the handler must do. The machine never performs I/O itself.
public enum DeviceAction: Sendable, Hashable {
    /// Open the TCP connection.
    case connect
    /// A control packet to write (CONNECT, PINGREQ, SUBSCRIBE, a C2D PUBACK, DISCONNECT). Boxed: they are rare, and
    /// inline the packet would make every action 120 bytes instead of 25 (FleetSim moves millions per second).
    indirect case write(MQTTPacket)
    /// Write one telemetry message (QoS and payload from the device's configuration).
    case publish(TelemetryPublish)
    /// Close the channel; a `channelClosed` event follows.
    case close
    case schedule(DeviceTimer, Instant)
    case cancel(DeviceTimer)
    case record(DeviceEvent)
}
