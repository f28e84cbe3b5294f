public import FleetCore

/// One cohort's share of a run or a simulation: its name, the SDK its devices imitate, its retry curve's name, its
/// size and its measurements. The engine, FleetSim and the report builder all use this one type.
public struct CohortSnapshot: Sendable {
    public var name: String
    public var sdk: String
    public var policy: String
    public var devices: Int
    public var snapshot: Snapshot

    public init(name: String, sdk: String, policy: String, devices: Int, snapshot: Snapshot) {
        self.name = name
        self.sdk = sdk
        self.policy = policy
        self.devices = devices
        self.snapshot = snapshot
    }

    /// The scenario's cohorts with their recorders' snapshots (in `effectiveCohorts` order), and the total over all.
    public static func split(
        _ scenario: Scenario,
        _ parts: [Snapshot]
    ) throws(SnapshotError) -> (total: Snapshot, cohorts: [CohortSnapshot]) {
        var total = Snapshot()
        for part in parts { try total.merge(part) }
        let cohorts = zip(scenario.effectiveCohorts, parts).map {
            CohortSnapshot(
                name: $0.name,
                sdk: $0.sdk.name,
                policy: $0.retry.policy.name,
                devices: $0.devices,
                snapshot: $1
            )
        }
        return (total, cohorts)
    }
}
