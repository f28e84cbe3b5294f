/// What the test hub saw. Merges by addition (devices_seen is the size of the union when per-device counts are kept).
public struct HubStats: Sendable, Hashable {
    public var connectionsAccepted: UInt64 = 0
    /// CONNECTs answered with a refusal, by code.
    public var connectionsRefused: UInt64 = 0
    /// Refused CONNECTs by why (bad_signature, expired, unknown_device, disabled, ...).
    public var refusedByReason: [String: UInt64] = [:]
    /// Connections the hub closed because another connection of the same device id took over, or its token expired.
    public var takenOver: UInt64 = 0
    /// Throttling (IoT Hub quotas): CONNACKs/PUBACKs delayed by shaping, and requests rejected past the queue.
    public var shapedConnects: UInt64 = 0
    public var shapedSends: UInt64 = 0
    public var throttledConnects: UInt64 = 0
    public var throttledSends: UInt64 = 0
    public var tokenExpiredDrops: UInt64 = 0
    public var messagesReceived: UInt64 = 0
    /// Same device and message id (`$.mid` in the topic) seen twice.
    public var duplicates: UInt64 = 0
    /// Messages that arrived after a message the same device sent later (by message id).
    public var outOfOrder: UInt64 = 0
    /// Connections closed because their bytes did not decode or broke a rule.
    public var protocolErrors: UInt64 = 0
    /// Messages received per device id.
    public var messagesByDevice: [String: UInt64] = [:]
    /// The source IP addresses each device id connected from.
    public var sourceAddressesByDevice: [String: Set<String>] = [:]
    /// Connections closed for a PINGREQ flood, a topic IoT Hub does not have, or never reading their answers.
    public var pingFloods: UInt64 = 0
    public var forbiddenTopics: UInt64 = 0
    public var slowConsumers: UInt64 = 0
    /// D2C messages and twin requests refused because the daily quota was used up (403002).
    public var quotaExceeded: UInt64 = 0
    /// Cloud-to-device messages sent, acknowledged, and refused because the device's queue held 50 (403004).
    public var c2dSent: UInt64 = 0
    public var c2dAcked: UInt64 = 0
    public var c2dRejected: UInt64 = 0
    /// Twin GETs and reported-property PATCHes answered.
    public var twinGets: UInt64 = 0
    public var twinPatches: UInt64 = 0
    /// Twin requests whose answers the tier's twin throttles held back, and those they refused (status 429).
    public var shapedTwinRequests: UInt64 = 0
    public var throttledTwinRequests: UInt64 = 0
    /// AMQP network connections opened (each carries one device session, or many when devices pool connections);
    /// `connectionsAccepted` counts devices. In-process only: not in the report yet.
    public var amqpConnections: UInt64 = 0
    /// Per time bin (hub_* series), from the hub's origin (the run's start when embedded).
    public var series = TimeSeries()

    public init() {}

    public var devicesSeen: UInt64 { UInt64(messagesByDevice.count) + devicesSeenUntracked }
    /// Devices that sent messages, counted by a hub that keeps no per-device map (the simulated one).
    public var devicesSeenUntracked: UInt64 = 0

    public mutating func add(_ o: HubStats) {
        connectionsAccepted += o.connectionsAccepted
        connectionsRefused += o.connectionsRefused
        messagesReceived += o.messagesReceived
        duplicates += o.duplicates
        refusedByReason.merge(o.refusedByReason, uniquingKeysWith: +)
        takenOver += o.takenOver
        shapedConnects += o.shapedConnects
        shapedSends += o.shapedSends
        throttledConnects += o.throttledConnects
        throttledSends += o.throttledSends
        tokenExpiredDrops += o.tokenExpiredDrops
        outOfOrder += o.outOfOrder
        protocolErrors += o.protocolErrors
        messagesByDevice.merge(o.messagesByDevice, uniquingKeysWith: +)
        devicesSeenUntracked += o.devicesSeenUntracked
        sourceAddressesByDevice.merge(o.sourceAddressesByDevice) { $0.union($1) }
        pingFloods += o.pingFloods
        forbiddenTopics += o.forbiddenTopics
        slowConsumers += o.slowConsumers
        quotaExceeded += o.quotaExceeded
        c2dSent += o.c2dSent
        c2dAcked += o.c2dAcked
        c2dRejected += o.c2dRejected
        twinGets += o.twinGets
        twinPatches += o.twinPatches
        shapedTwinRequests += o.shapedTwinRequests
        throttledTwinRequests += o.throttledTwinRequests
        amqpConnections += o.amqpConnections
        series.merge(o.series)
    }
}
