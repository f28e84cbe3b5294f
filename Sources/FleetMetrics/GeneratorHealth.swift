internal import FleetCore
public import Histogram

/// Whether the load generator itself kept up (storm-metrics.md, "Generator self-health"): loop lag, timer
/// lateness, late sends, descriptor headroom and the device loop's CPU share. A run over the limits is
/// `generatorLimited`: its latencies measure FleetStorm, not the hub.
public struct GeneratorHealth: Sendable {
    /// A probe's due time on the device loop → when it ran.
    public var loopLag = LatencyLayout.make()
    /// A wheel timer's due time → when it fired.
    public var timerLateness = LatencyLayout.make()
    /// Probes that ran over `lateProbeNanoseconds` late, by what the loop's thread did before them: used the CPU
    /// (busy) or not (stalled: waited for a core, or blocked).
    public var lateProbesBusy: UInt64 = 0
    public var lateProbesStalled: UInt64 = 0
    public static let lateProbeNanoseconds: Int64 = 1_000_000
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

    /// Why the run is generator-limited (empty: it is not). Only the generator's own lateness counts: a timer or a
    /// send that fired late because the loop was busy, never a wait the scenario asked for (an in-flight window, the
    /// offline queue, the connect window, a deadline already past when it was scheduled).
    public var limits: [String] {
        var out: [String] = []
        if loopLagP99 > Self.maxLoopLagP99 { out.append("loop lag p99 over 5 ms") }
        if lateSendFraction > Self.maxLateSendFraction { out.append("more than 1 % of sends fired over a tick late") }
        if descriptorLimit > 0 && descriptorHeadroom < 64 { out.append("out of file descriptors") }
        return out
    }

    public var generatorLimited: Bool { !limits.isEmpty }

    /// The bottleneck, when there is one.
    public enum Cause: String, Sendable {
        /// The device loop's thread was busy when it ran late: more work than one thread can do at that moment.
        case loopBusy = "loop_busy"
        /// The device loop ran late while its thread used little CPU: it waited for a core (other processes or the
        /// embedded hub on the same cores) or a callback blocked it.
        case loopStalled = "loop_stalled"
        case descriptors
    }

    /// The device loop's CPU share from which a late loop counts as busy rather than stalled.
    public static let busyCPUShare = 0.7

    public var cause: Cause? {
        guard generatorLimited else { return nil }
        if descriptorLimit > 0 && descriptorHeadroom < 64 { return .descriptors }
        // What the loop's thread did before its late probes (busy: it had more work than it could do at that
        // moment, such as a burst of thousands of connects or disconnects); without late probes, the late timers
        // came in bursts too short for the probe, which only a busy loop makes.
        return lateProbesStalled > lateProbesBusy ? .loopStalled : .loopBusy
    }

    /// What to do about it, in one sentence that fits the cause and the case: whether the hub ran in this process
    /// (the embedded hub) and how much of a core the device loop used over the run.
    public func advice(hubInProcess: Bool) -> String {
        switch cause {
        case nil: return ""
        case .loopBusy:
            if loopCPUShare < Self.busyCPUShare {
                let percent = Int(saturating: (loopCPUShare * 100).rounded())
                return "the device loop fell behind in bursts (it used \(percent) % of a core over the run, but "
                    + "connects, disconnects or sends came by the thousand at once): spread them (fleet.ramp_rate, "
                    + "jittered retries) or run fewer devices per process (shards)"
            }
            return "the device loop had more work than one core does at that pace (bursts of connects, disconnects "
                + "or sends): run fewer devices per process (shards), pace connects (fleet.ramp_rate) or send less often"
        case .loopStalled:
            return hubInProcess
                ? "the device loop waited for a core while using little CPU: give it one (run the hub in its own "
                    + "process, fleetstorm hub, or on another machine; no more busy processes than cores) or remove "
                    + "what blocks it"
                : "the device loop waited for a core while using little CPU: give it one (no more busy processes "
                    + "than cores on this machine, e.g. the broker on another one) or remove what blocks it"
        case .descriptors:
            return hubInProcess
                ? "descriptors ran out: run fewer devices per process, or the hub in its own process (fleetstorm hub)"
                : "descriptors ran out: run fewer devices per process (--processes N, or shards)"
        }
    }
}
