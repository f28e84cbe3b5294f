public import FleetCore
public import FleetMetrics

/// The in-process test hub as the runner sees it (FleetHub provides it; the engine does not import the hub).
public protocol EmbeddedHub: Sendable {
    /// Starts listening on loopback; returns the address devices connect to.
    func start() async throws -> (host: String, port: Int)
    /// Closes every device connection at once (the `drop` fault).
    func dropAll() async
    /// Starts or ends a windowed fault (outage, reject-auth, blackhole).
    func setFault(_ fault: Scenario.Fault, active: Bool) async
    /// Stops accepting, closes connections and returns what the hub saw.
    func stop() async -> HubStats
}
