public import FleetCore

/// Counters per fixed time bin from the run's start (bin 0 begins at `Instant.zero`).
///
/// Memory is bounded: when a series would pass `maxBins` bins, adjacent bins are merged pairwise and the bin width
/// doubles (a 24 h run at 100 ms keeps at most `maxBins` bins per series, at a coarser width). Gauges take the later
/// bin's value when bins merge; counters add.
public struct TimeSeries: Sendable, Hashable {
    /// The series every run records.
    public enum Name: String, Sendable, Hashable, CaseIterable {
        /// CONNECT attempts (TCP connects started).
        case attempts
        /// CONNACKs accepted.
        case accepted
        /// CONNACKs refused.
        case refused
        /// Connected devices' connections that ended.
        case disconnects
        /// Devices connected at the end of the bin (a gauge).
        case connected
        /// Messages generated.
        case published
        case acked
        /// QoS 0 messages written.
        case sent
        case failed
        /// CONNECTs refused by throttling (device side: CONNACK 3 / 0x97 / 0x9F, or a PUBACK 0x97).
        case throttled
        /// Messages waiting in offline queues at the end of the bin (a gauge).
        case queued
        /// Connections lost (Connected → Disconnected_Retrying, or Disconnected for an unrecoverable reason): the
        /// devices a fault affected.
        case lost
        /// CONNACKs accepted that end a loss (the device is back): recovery.
        case reconnected
        /// Per fault group (label = the group's first fault index): devices connected at its start that lost their
        /// connection (each once), those of them back again (each once), and their connect attempts until then.
        case stormAffected = "storm_affected"
        case stormRecovered = "storm_recovered"
        case stormAttempts = "storm_attempts"
        /// Hub side (the embedded or standalone test hub): connections accepted, refused, throttled (CONNECTs and
        /// sends shaped past the queue), open connections (gauge), D2C received, duplicates, out-of-order, C2D sent.
        case hubAccepted = "hub_accepted"
        case hubRefused = "hub_refused"
        case hubThrottled = "hub_throttled"
        case hubConnections = "hub_connections"
        case hubReceived = "hub_received"
        case hubDuplicates = "hub_duplicates"
        case hubOutOfOrder = "hub_out_of_order"
        case c2dSent = "c2d_sent"

        public var isGauge: Bool { self == .connected || self == .queued || self == .hubConnections }

        /// Series a hub records (the rest are the devices').
        public var isHub: Bool { rawValue.hasPrefix("hub_") || self == .c2dSent }
    }

    public private(set) var binNanoseconds: Int64
    public let maxBins: Int
    /// Every series by key: a `Name`'s raw value, or `name:label` for a labelled counter (`refused:5`).
    private var values: [String: [UInt64]] = [:]

    public init(bin: Duration = .milliseconds(100), maxBins: Int = 65_536) {
        precondition(bin.nanoseconds > 0 && maxBins >= 2, "TimeSeries needs a positive bin and room for two bins")
        binNanoseconds = bin.nanoseconds
        self.maxBins = maxBins
    }

    static func isGauge(_ key: String) -> Bool { Name(rawValue: key)?.isGauge ?? false }

    /// Adds `amount` to a counter at `at`.
    public mutating func add(_ name: Name, _ amount: UInt64 = 1, at: Instant) {
        add(key: name.rawValue, amount, at: at)
    }

    /// Adds to a labelled counter, a breakdown of `name` (`refused` by CONNACK code, `disconnects` by reason):
    /// the series `name:label`.
    public mutating func add(_ name: Name, label: String, _ amount: UInt64 = 1, at: Instant) {
        add(key: "\(name.rawValue):\(label)", amount, at: at)
    }

    /// Adds to the series `key` (`name` or `name:label`), for callers that format a labelled key once and reuse it.
    mutating func add(key: String, _ amount: UInt64, at: Instant) {
        let i = slot(key, at: at)
        values[key]![i] += amount
    }

    /// Sets a gauge at `at` (the value holds for later bins until set again).
    public mutating func set(_ name: Name, _ value: UInt64, at: Instant) {
        let i = slot(name.rawValue, at: at)
        values[name.rawValue]![i] = value
    }

    /// The bin index of `at` in `key`'s array, coarsening first if it would pass `maxBins`.
    private mutating func slot(_ key: String, at: Instant) -> Int {
        var i = index(at)
        while i >= maxBins {
            coarsen()
            i = index(at)
        }
        ensure(key, count: i + 1)
        return i
    }

    public var binCount: Int { values.values.map(\.count).max() ?? 0 }

    /// True before anything was recorded.
    public var isEmpty: Bool { values.isEmpty }

    /// The series padded to `binCount` (gauges carry their last value forward).
    public func series(_ name: Name) -> [UInt64] { series(key: name.rawValue) }

    /// Any series by key, padded like `series(_:)`.
    public func series(key: String) -> [UInt64] {
        var v = values[key] ?? []
        let n = binCount
        guard v.count < n else { return v }
        let fill = Self.isGauge(key) ? (v.last ?? 0) : 0
        v += Array(repeating: fill, count: n - v.count)
        return v
    }

    /// The labelled breakdowns recorded (`refused:5`, `disconnects:Communication_Error`, ...), sorted.
    public var labelledKeys: [String] { values.keys.filter { $0.contains(":") }.sorted() }

    /// Adds another series recorded from the same origin (bins aligned; the coarser width wins).
    public mutating func merge(_ other: TimeSeries) {
        if values.isEmpty && binNanoseconds != other.binNanoseconds {
            self = other  // nothing recorded here yet: take the other's width
            return
        }
        guard !other.values.isEmpty else { return }
        precondition(canMerge(other), "TimeSeries widths \(binNanoseconds) and \(other.binNanoseconds) do not align")
        var o = other
        while o.binNanoseconds < binNanoseconds { o.coarsen() }
        while binNanoseconds < o.binNanoseconds { coarsen() }
        let n = max(binCount, o.binCount)
        for key in Set(values.keys).union(o.values.keys) {
            let gauge = Self.isGauge(key)
            var mine = series(key: key)
            var theirs = o.series(key: key)
            let pad = { (v: inout [UInt64]) in
                v += Array(repeating: gauge ? (v.last ?? 0) : 0, count: n - v.count)
            }
            pad(&mine)
            pad(&theirs)
            values[key] = zip(mine, theirs).map { $0 + $1 }
        }
    }

    /// True when the two widths differ by a power of two (so bins align after coarsening).
    public func canMerge(_ other: TimeSeries) -> Bool {
        let (a, b) = (min(binNanoseconds, other.binNanoseconds), max(binNanoseconds, other.binNanoseconds))
        guard b % a == 0 else { return false }
        let ratio = b / a
        return ratio & (ratio - 1) == 0
    }

    private func index(_ at: Instant) -> Int { Int(max(0, at.nanoseconds) / binNanoseconds) }

    private mutating func ensure(_ key: String, count: Int) {
        let current = values[key]?.count ?? 0
        guard current < count else { return }
        let fill = Self.isGauge(key) ? (values[key]?.last ?? 0) : 0
        values[key, default: []] += Array(repeating: fill, count: count - current)
    }

    /// Doubles the bin width: bins merge pairwise.
    private mutating func coarsen() {
        binNanoseconds *= 2
        for (key, v) in values {
            let gauge = Self.isGauge(key)
            var merged: [UInt64] = []
            merged.reserveCapacity((v.count + 1) / 2)
            var i = 0
            while i < v.count {
                let b = i + 1 < v.count ? v[i + 1] : (gauge ? v[i] : 0)
                merged.append(gauge ? b : v[i] + b)
                i += 2
            }
            values[key] = merged
        }
    }
}
