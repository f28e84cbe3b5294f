public import FleetCore
public import FleetMetrics

/// A point-in-time view of a running fleet, for the progress line and the sampler.
public struct FleetProgress: Sendable, Codable {
    public var elapsed: Duration
    public var devices: Int
    public var started: Int
    public var finished: Int
    public var connectedNow: UInt64
    public var connectAttempts: UInt64
    public var generated: UInt64
    public var acked: UInt64
    public var failed: UInt64
    public var publishAckP99Nanoseconds: UInt64
    public var refused: UInt64 = 0
    public var reconnects: UInt64 = 0
    public var retries: UInt64 = 0
    /// Generator health so far.
    public var loopLagP99Nanoseconds: UInt64 = 0
    public var lateSendFraction: Double = 0
    public var openDescriptors: Int = 0
    public var descriptorLimit: Int = 0
}

/// A run so far, for a live view: every cohort's recorder merged (copied on the device loop, merged off it), what
/// the embedded hub has seen, the faults started (open windows end now), and the time since the start.
public struct LiveSample: Sendable {
    public var snapshot: Snapshot
    public var hub: HubStats?
    public var faults: [FaultRecord]
    public var elapsed: Duration
}

/// One cohort's share of a run.
public typealias CohortResult = CohortSnapshot

/// Everything a run produced.
public struct RunResult: Sendable {
    public var scenario: Scenario
    /// Totals over every cohort.
    public var snapshot: Snapshot
    public var cohorts: [CohortResult]
    public var hub: HubStats?
    /// Where devices connected (`mqtt://127.0.0.1:PORT`).
    public var target: String
    public var startedUnixNanoseconds: Int64
    public var duration: Duration
    /// True when the scenario's duration ran out before every device finished.
    public var hitDeadline: Bool
    /// True when the run was cancelled (SIGINT/SIGTERM).
    public var cancelled: Bool
    public var malformedPackets: UInt64
    /// Whether the generator kept up (loop lag, timer lateness, late sends, descriptors, loop CPU).
    public var health = GeneratorHealth()
    /// The faults injected, with their hub-side start and end (from the run's start) and what they affected.
    public var faults: [FaultRecord] = []
}
