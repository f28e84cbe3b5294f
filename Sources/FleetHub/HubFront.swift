public import FleetCore
internal import FleetHubCore
public import FleetMetrics
public import NIOCore

/// The hub's fronts on a connection whose bytes are already plain (TLS, when there is any, sits below): MQTT, MQTT
/// over WebSockets, the HTTPS device API and AMQP 1.0. `TestHub`'s listeners and the fuzz harnesses' embedded channels build
/// their pipelines here, so a harness drives exactly the handlers a listener runs.
public enum HubFront: String, Sendable, CaseIterable {
    case mqtt
    case webSocket = "websocket"
    case https
    case amqp
    /// MQTT or AMQP 1.0, told apart by the connection's first byte (`A` of AMQP's protocol header; an MQTT client
    /// starts with CONNECT, 0x10): the embedded hub of a run whose cohorts speak both, on one port.
    case mqttOrAMQP = "mqtt-or-amqp"

    /// Adds this front's handlers for one connection of the hub whose state is `state`; on the channel's loop.
    func install(on channel: any Channel, configuration: HubConfiguration, state: HubState) throws {
        switch self {
        case .mqtt:
            try channel.pipeline.syncOperations.addHandler(
                HubConnectionHandler(state: state)
            )
        case .webSocket:
            // The front is made on the loop once the upgrade completes.
            let bound = NIOLoopBound(state, eventLoop: channel.eventLoop)
            try HubWebSocket.configure(channel, configuration: configuration) { amqp in
                amqp ? HubAMQPFront(state: bound.value) as any ChannelHandler : HubConnectionHandler(state: bound.value)
            }
        case .https:
            try HubHTTPS.configure(channel, configuration: configuration, state: state)
        case .amqp:
            try HubAMQP.configure(channel, configuration: configuration, state: state)
        case .mqttOrAMQP:
            try channel.pipeline.syncOperations.addHandler(HubProtocolSniffer(state: state))
        }
    }
}

/// One hub (its sessions, quotas, faults and counters) whose fronts are attached to channels one at a time, outside
/// any listener: the fuzz harnesses attach it to embedded channels. Bound to the loop of the channels it serves.
public final class HubAttachment {
    public let configuration: HubConfiguration
    let state: HubState

    public init(configuration: HubConfiguration) {
        self.configuration = configuration
        self.state = HubState(configuration: configuration)
    }

    /// Serves `channel` through `front`; call on the channel's loop before it becomes active.
    public func attach(_ front: HubFront, to channel: any Channel) throws {
        try front.install(on: channel, configuration: configuration, state: state)
    }

    /// Applies one step of a fault (a drop, the start or end of an outage window, ...); returns how many connections
    /// it affected. On the loop of the channels it serves.
    @discardableResult
    public func apply(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) -> Int {
        state.apply(step, fault: fault, index: index)
    }

    /// The hub's counters so far.
    public var stats: HubStats { state.stats }
}

@available(*, unavailable)
extension HubAttachment: Sendable {}
