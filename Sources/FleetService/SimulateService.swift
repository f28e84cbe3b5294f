public import FleetCore
public import FleetHubCore
public import FleetReport
public import FleetSim
internal import Foundation

/// `fleetstorm simulate` as one library entry point: FleetSim over the scenario, and the report (the same schema
/// as a run's, `run.kind` "simulation", the target naming the network and hub model).
public struct SimulateService: Sendable {
    public var scenario: Scenario
    public var profile: String
    public var overrides: [String]
    public var progress: (@Sendable (SimulationProgress) -> Void)?
    public var shouldCancel: @Sendable () -> Bool = { false }
    /// Keeps the first messages and each device's last, bodies included (`simulate --sample FILE`).
    public var sample: MessageSample?

    public init(scenario: Scenario, profile: String, overrides: [String]) {
        self.scenario = scenario
        self.profile = profile
        self.overrides = overrides
    }

    public struct Outcome: Sendable {
        public var result: SimulationResult
        public var report: Fleetstorm_Report_V1_Report
        /// Wall-clock seconds the simulation took.
        public var wallSeconds: Double
    }

    public func run() -> Outcome {
        var simulation = FleetSimulation(scenario: scenario)
        simulation.progress = progress
        simulation.shouldCancel = shouldCancel
        simulation.sample = sample
        let started = Date()
        let result = simulation.run()
        let wall = Date().timeIntervalSince(started)
        return Outcome(
            result: result,
            report: Self.report(result, scenario: scenario, profile: profile, overrides: overrides),
            wallSeconds: wall
        )
    }

    /// What the model assumed, for the report's target line; devices on AMQP (any cohort) name the scheme as a real
    /// run's target does, so the header says which protocol the modelled devices speak.
    public static func modelDescription(_ scenario: Scenario) -> String {
        let m = scenario.simulation
        var parts = ["rtt \(m.rtt.formatted)"]
        if m.rttJitter > .zero { parts.append("+0–\(m.rttJitter.formatted)") }
        parts.append(m.acceptRate > 0 ? "accept \(Int(m.acceptRate))/s backlog \(m.acceptBacklog)" : "accept unlimited")
        if m.connackDelay > .zero { parts.append("connack +\(m.connackDelay.formatted)") }
        if m.pubackDelay > .zero { parts.append("puback +\(m.pubackDelay.formatted)") }
        return (scenario.anyAMQP ? "simulated amqp:// hub (" : "simulated hub (") + parts.joined(separator: ", ") + ")"
    }

    public static func report(
        _ result: SimulationResult,
        scenario: Scenario,
        profile: String,
        overrides: [String]
    ) -> Fleetstorm_Report_V1_Report {
        let facts = RunFacts(
            profileName: scenario.name,
            seed: scenario.seed,
            devices: scenario.fleet.devices,
            startedUnixNanoseconds: 0,
            durationNanoseconds: result.duration.nanoseconds,
            target: modelDescription(scenario),
            mqttVersion: scenario.mqtt.version.description,
            hitDeadline: result.hitDeadline,
            cancelled: result.cancelled,
            kind: "simulation"
        )
        return ReportBuilder.build(
            facts: facts,
            snapshot: result.snapshot,
            hub: result.hub,
            cohorts: result.cohorts,
            faults: result.faults,
            predictedRetryNanoseconds: scenario.predictedRetries(),
            health: nil,
            scenario: (scenario.redactedYAML, profile, Scenario.redactOverrides(overrides))
        )
    }
}
