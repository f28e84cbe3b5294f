public import Histogram

/// Storm metrics (../shared/reference/storm-metrics.md), computed once, from the time series alone, so real runs,
/// simulated runs and merged shards give the same numbers, and anyone holding a report can recompute them.
///
/// Resolution is the series' bin: recovery times are measured to the end of the bin in which the share of affected
/// devices is back. Affected devices of a fault group are the devices connected at its start that lost their
/// connection before the next group started (the `storm_*:<group>` series the device loop counts, each device once);
/// recovered are those of them that came back. Reports without those series (a hub alone) fall back to connection
/// losses in the window. `losses` always counts connections lost in the window.
public struct StormRecord: Sendable, Hashable {
    public var fault: String
    public var startNanoseconds: Int64
    public var endNanoseconds: Int64
    public var affected: UInt64
    public var recovered: UInt64
    public var attempts: UInt64
    /// Attempts per second: the busiest bin, the busiest 1 s, and the window's mean; peak (bin) / mean.
    public var peakAttemptRate: Double
    public var peakAttemptRate1s: Double
    public var meanAttemptRate: Double
    public var peakToMean: Double
    /// Dispersion of per-bin attempts in the window: coefficient of variation, and the share of attempts in the
    /// busiest 1 % of bins.
    public var cv: Double
    public var syncIndex: Double
    /// From the fault's start until 50/90/99/100 % of affected devices are connected again (nil: never).
    public var t50: Int64?
    public var t90: Int64?
    public var t99: Int64?
    public var t100: Int64?
    /// Attempts in the window per recovered device, and the share of attempts not accepted.
    public var attemptsPerDevice: Double
    public var wastedFraction: Double
    /// Connections lost in the window (a device lost three times counts three).
    public var losses: UInt64 = 0

    public var neverRecovered: UInt64 { affected - recovered }
}

public enum StormAnalysis {
    /// The series a storm is computed from.
    public struct Input: Sendable {
        public var binNanoseconds: Int64
        public var attempts: [UInt64]
        public var accepted: [UInt64]
        public var lost: [UInt64]
        public var reconnected: [UInt64]
        public var runEndNanoseconds: Int64
        /// Per fault group: affected devices, recovered devices and their attempts per bin (`storm_*:<group>`).
        public var perDevice: [Int: (affected: [UInt64], recovered: [UInt64], attempts: [UInt64])] = [:]

        /// `series` looks a series up by its key (`attempts`, `storm_affected:3`, ...); `groups` are the fault groups
        /// whose per-device series to load.
        public init(
            binNanoseconds: Int64,
            series: (String) -> [UInt64],
            runEndNanoseconds: Int64,
            groups: [Int] = []
        ) {
            self.binNanoseconds = binNanoseconds
            attempts = series("attempts")
            accepted = series("accepted")
            lost = series("lost")
            reconnected = series("reconnected")
            self.runEndNanoseconds = runEndNanoseconds
            for g in Set(groups) {
                let affected = series("storm_affected:\(g)")
                let recovered = series("storm_recovered:\(g)")
                let attempts = series("storm_attempts:\(g)")
                if !affected.isEmpty || !recovered.isEmpty { perDevice[g] = (affected, recovered, attempts) }
            }
        }

        public init(_ s: TimeSeries, runEndNanoseconds: Int64, groups: [Int] = []) {
            self.init(
                binNanoseconds: s.binNanoseconds,
                series: { s.series(key: $0) },
                runEndNanoseconds: runEndNanoseconds,
                groups: groups
            )
        }

        func value(_ v: [UInt64], _ i: Int) -> UInt64 { i < v.count ? v[i] : 0 }
        var bins: Int { max(attempts.count, accepted.count, lost.count, reconnected.count) }
    }

    /// A fault as the analysis needs it.
    public struct Fault: Sendable, Hashable {
        public var label: String
        public var startNanoseconds: Int64
        public var endNanoseconds: Int64
        /// The fault group (faults scheduled at the same instant share one); nil: group by start bin.
        public var group: Int?

        public init(label: String, startNanoseconds: Int64, endNanoseconds: Int64, group: Int? = nil) {
            self.label = label
            self.startNanoseconds = startNanoseconds
            self.endNanoseconds = endNanoseconds
            self.group = group
        }
    }

    /// One record per fault group (in start order; faults of one group share a record labelled with all of them;
    /// without groups, faults starting in the same bin do, since their losses cannot be told apart), then one for
    /// the whole run (fault "run").
    public static func analyze(_ faults: [Fault], _ input: Input) -> [StormRecord] {
        var ordered: [Fault] = []
        for f in faults.sorted(by: { ($0.group ?? 0, $0.startNanoseconds) < ($1.group ?? 0, $1.startNanoseconds) }) {
            let sameGroup: Bool
            if let last = ordered.last {
                if let g = f.group, last.group == g {
                    sameGroup = true
                } else {
                    sameGroup =
                        f.group == nil && last.group == nil
                        && last.startNanoseconds / input.binNanoseconds == f.startNanoseconds / input.binNanoseconds
                }
            } else {
                sameGroup = false
            }
            if sameGroup, let last = ordered.last {
                ordered[ordered.count - 1].label += " + " + f.label
                ordered[ordered.count - 1].startNanoseconds = min(last.startNanoseconds, f.startNanoseconds)
                ordered[ordered.count - 1].endNanoseconds = max(last.endNanoseconds, f.endNanoseconds)
            } else {
                ordered.append(f)
            }
        }
        ordered.sort { $0.startNanoseconds < $1.startNanoseconds }
        var records: [StormRecord] = []
        for (i, f) in ordered.enumerated() {
            let next =
                i + 1 < ordered.count ? ordered[i + 1].startNanoseconds : input.runEndNanoseconds + input.binNanoseconds
            records.append(storm(f, lossesUntil: max(next, f.startNanoseconds + input.binNanoseconds), input))
        }
        let run = Fault(label: "run", startNanoseconds: 0, endNanoseconds: input.runEndNanoseconds)
        records.append(storm(run, lossesUntil: input.runEndNanoseconds + input.binNanoseconds, input))
        return records
    }

    static func storm(_ f: Fault, lossesUntil: Int64, _ input: Input) -> StormRecord {
        let w = input.binNanoseconds
        let n = input.bins
        let b0 = Int(max(0, f.startNanoseconds) / w)
        let lossEnd = Int(lossesUntil / w)  // the bin holding the next fault's start is that fault's
        var losses: UInt64 = 0
        for b in b0..<max(b0, min(n, lossEnd)) { losses += input.value(input.lost, b) }
        let devices = f.group.flatMap { input.perDevice[$0] }
        let affected: UInt64
        let recovered: UInt64
        let back: [UInt64]
        if let devices {
            // Each device once: counted on the device loop from the marks at the group's start.
            affected = devices.affected.reduce(0, +)
            recovered = min(affected, devices.recovered.reduce(0, +))
            back = devices.recovered
        } else {
            affected = losses
            var totalBack: UInt64 = 0
            for b in b0..<max(b0, n) { totalBack += input.value(input.reconnected, b) }
            recovered = min(affected, totalBack)
            back = input.reconnected
        }
        // Recovery times: the end of the bin where the cumulative count reaches each share.
        func reached(_ threshold: UInt64) -> Int? {
            guard threshold > 0, threshold <= recovered else { return nil }
            var cum: UInt64 = 0
            for b in (devices == nil ? b0 : 0)..<max(n, back.count) {
                cum += input.value(back, b)
                if cum >= threshold { return b }
            }
            return nil
        }
        func share(_ x: Double) -> UInt64 { UInt64((x * Double(affected)).rounded(.up)) }
        func since(_ bin: Int?) -> Int64? { bin.map { Int64($0 + 1) * w - f.startNanoseconds } }
        var end: Int64
        if recovered > 0, let last = reached(recovered) {
            end = Int64(last + 1) * w
        } else if affected == 0 {
            end = max(f.endNanoseconds, f.startNanoseconds + w)
        } else {
            end = input.runEndNanoseconds
        }
        end = max(end, f.startNanoseconds + 1)
        let b1 = max(b0 + 1, Int((end + w - 1) / w))
        let window = (b0..<b1).map { input.value(input.attempts, $0) }
        let attempts = window.reduce(0, +)
        var accepted: UInt64 = 0
        for b in b0..<b1 { accepted += input.value(input.accepted, b) }
        let seconds = Double(w) / 1e9
        let peak = Double(window.max() ?? 0) / seconds
        let k = max(1, Int((1e9 / Double(w)).rounded()))
        var best: UInt64 = 0
        var running: UInt64 = 0
        for (i, v) in window.enumerated() {
            running += v
            if i >= k { running -= window[i - k] }
            best = max(best, running)
        }
        // Attempts in the busiest one-second window per second: a storm shorter than a second has all its attempts
        // in one window (never more than were made), not its mean rate over the shorter span.
        let peak1s = Double(best) / (Double(k) * seconds)
        let mean = Double(attempts) / (Double(window.count) * seconds)
        let perBin = Double(attempts) / Double(window.count)
        let variance = window.reduce(0.0) { $0 + (Double($1) - perBin) * (Double($1) - perBin) } / Double(window.count)
        let top = max(1, Int((0.01 * Double(window.count)).rounded(.up)))
        let busiest = window.sorted(by: >).prefix(top).reduce(0, +)
        return StormRecord(
            fault: f.label,
            startNanoseconds: f.startNanoseconds,
            endNanoseconds: end,
            affected: affected,
            recovered: recovered,
            attempts: attempts,
            peakAttemptRate: peak,
            peakAttemptRate1s: peak1s,
            meanAttemptRate: mean,
            peakToMean: mean > 0 ? peak / mean : 0,
            cv: perBin > 0 ? variance.squareRoot() / perBin : 0,
            syncIndex: attempts > 0 ? Double(busiest) / Double(attempts) : 0,
            t50: since(reached(share(0.5))),
            t90: since(reached(share(0.9))),
            t99: since(reached(share(0.99))),
            t100: affected > 0 && recovered == affected ? since(reached(affected)) : nil,
            attemptsPerDevice: recovered > 0
                ? Double(devices.map { $0.attempts.reduce(0, +) } ?? attempts) / Double(recovered) : 0,
            wastedFraction: attempts > 0 ? Double(attempts - min(attempts, accepted)) / Double(attempts) : 0,
            losses: losses
        )
    }
}

/// Jitter dispersion against the retry policy's prediction.
public enum Dispersion {
    /// Kolmogorov–Smirnov distance between an observed distribution (a histogram) and predicted samples: the largest
    /// gap between the two cumulative distributions, checked at every predicted sample (0 when either is empty).
    public static func ksDistance(observed: Histogram<UInt64>, predicted: [Int64]) -> Double {
        guard observed.totalCount > 0, !predicted.isEmpty else { return 0 }
        let sorted = predicted.sorted()
        let total = Double(observed.totalCount)
        // The observed CDF as steps: each recorded bucket counts for every x at or above its lowest equivalent value
        // (what `count(within: 0...x)` sums), swept once against the sorted predictions.
        let steps = observed.recordedValues().filter { $0.count > 0 }
            .map { (low: observed.lowestEquivalentForValue($0.value), count: UInt64($0.count)) }
        var k = 0
        var atOrBelow: UInt64 = 0
        var worst = 0.0
        for (i, x) in sorted.enumerated() {
            let value = UInt64(max(0, x))
            // Buckets starting below `value` make up the CDF just before it; those starting at it are added after.
            while k < steps.count && steps[k].low < value {
                atOrBelow += steps[k].count
                k += 1
            }
            let below = Double(atOrBelow) / total
            var j = k
            var through = atOrBelow
            while j < steps.count && steps[j].low <= value {
                through += steps[j].count
                j += 1
            }
            let obs = Double(through) / total
            let predAfter = Double(i + 1) / Double(sorted.count)
            let predBefore = Double(i) / Double(sorted.count)
            worst = max(worst, abs(obs - predAfter), abs(below - predBefore))
        }
        return min(1, worst)
    }
}
