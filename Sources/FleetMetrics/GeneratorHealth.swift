public import Histogram

/// Whether the load generator itself kept up (storm-metrics.md, "Generator self-health"): loop lag, timer
/// lateness, late sends, descriptor headroom and the device loop's CPU share. A run over the limits is
/// `generatorLimited`: its latencies measure FleetStorm, not the hub.
public struct GeneratorHealth: Sendable {
    /// A probe's due time on the device loop → when it ran.
    public var loopLag = LatencyLayout.make()
    /// A wheel timer's due time → when it fired.
    public var timerLateness = LatencyLayout.make()
    /// Telemetry sends, and those that went out more than one wheel tick late.
    public var sends: UInt64 = 0
    public var lateSends: UInt64 = 0
    /// The descriptor limit and the most descriptors open at once (sampled).
    public var descriptorLimit = 0
    public var descriptorPeak = 0
    /// CPU seconds the device loop's thread used, over the run's wall seconds.
    public var loopCPUSeconds = 0.0
    public var wallSeconds = 0.0

    /// Default limits: loop lag p99 ≤ 5 ms, late sends ≤ 1 %.
    public static let maxLoopLagP99: UInt64 = 5_000_000
    public static let maxLateSendFraction = 0.01

    public init() {}

    public var loopLagP99: UInt64 { loopLag.totalCount == 0 ? 0 : loopLag.valueAtPercentile(99) }
    public var timerLatenessP99: UInt64 { timerLateness.totalCount == 0 ? 0 : timerLateness.valueAtPercentile(99) }
    public var lateSendFraction: Double { sends == 0 ? 0 : Double(lateSends) / Double(sends) }
    public var descriptorHeadroom: Int { descriptorLimit - descriptorPeak }
    public var loopCPUShare: Double { wallSeconds > 0 ? loopCPUSeconds / wallSeconds : 0 }

    /// Why the run is generator-limited (empty: it is not).
    public var limits: [String] {
        var out: [String] = []
        if loopLagP99 > Self.maxLoopLagP99 { out.append("loop lag p99 over 5 ms") }
        if lateSendFraction > Self.maxLateSendFraction { out.append("more than 1 % of sends late") }
        if descriptorLimit > 0 && descriptorHeadroom < 64 { out.append("out of file descriptors") }
        return out
    }

    public var generatorLimited: Bool { !limits.isEmpty }
}
