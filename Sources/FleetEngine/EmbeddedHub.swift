public import FleetCore
public import FleetMetrics

/// What stands between the devices and the target and can break things on purpose: the in-process test hub
/// (FleetHub provides it; the engine does not import the hub), or the TCP fault proxy in front of an external broker.
public protocol EmbeddedHub: Sendable {
    /// Starts listening on loopback; returns the address devices connect to.
    func start() async throws -> (host: String, port: Int)
    /// Applies one step of the fault plan; returns how many connections it affected.
    func inject(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) async -> Int
    /// Restarts the hub's clock at the run's start (its time series then line up with the devices').
    func resetClock() async
    /// Stops accepting, closes connections and returns what the hub saw (nil: not a hub).
    func stop() async -> HubStats?
    /// What the hub has seen so far, while it runs (nil: not a hub, or it cannot say).
    func stats() async -> HubStats?
}

extension EmbeddedHub {
    public func stats() async -> HubStats? { nil }
}
