public import FleetCore
public import FleetEngine
public import FleetHub
internal import FleetHubCore
public import FleetMetrics

/// The test hub as the engine sees it (`EmbeddedHub`): the one adapter between FleetHub and FleetEngine, used by the
/// run and hub services and by the tests.
public struct EmbeddedTestHub: EmbeddedHub {
    public let hub: TestHub

    public init(hub: TestHub) { self.hub = hub }

    public func start() async throws -> (host: String, port: Int) {
        let bound = try await hub.start()
        guard let first = bound.first else { throw HubError(address: "-", reason: "no listen address") }
        return first
    }

    public func stop() async -> HubStats? { await hub.stop() }

    public func stats() async -> HubStats? { await hub.stats() }

    public func inject(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) async -> Int {
        await hub.inject(step, fault: fault, index: index)
    }

    public func resetClock() async { await hub.resetClock() }
}
