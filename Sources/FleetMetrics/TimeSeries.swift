public import FleetCore

/// Counters per fixed time bin from the run's start (bin 0 begins at `Instant.zero`).
///
/// Memory is bounded: when a series would pass `maxBins` bins, adjacent bins are merged pairwise and the bin width
/// doubles (a 24 h run at 100 ms keeps at most `maxBins` bins per series, at a coarser width). Gauges take the later
/// bin's value when bins merge; counters add.
public struct TimeSeries: Sendable {
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
        /// The adaptive connect window's size (`fleet.max_in_flight: auto`; a gauge; absent with a fixed window).
        case connectWindow = "connect_window"

        /// The case's position in `allCases` (series are stored by it, without hashing a key per add).
        var ordinal: Int {
            switch self {
            case .attempts: 0
            case .accepted: 1
            case .refused: 2
            case .disconnects: 3
            case .connected: 4
            case .published: 5
            case .acked: 6
            case .sent: 7
            case .failed: 8
            case .throttled: 9
            case .queued: 10
            case .lost: 11
            case .reconnected: 12
            case .stormAffected: 13
            case .stormRecovered: 14
            case .stormAttempts: 15
            case .hubAccepted: 16
            case .hubRefused: 17
            case .hubThrottled: 18
            case .hubConnections: 19
            case .hubReceived: 20
            case .hubDuplicates: 21
            case .hubOutOfOrder: 22
            case .c2dSent: 23
            case .connectWindow: 24
            }
        }

        public var isGauge: Bool {
            self == .connected || self == .queued || self == .hubConnections || self == .connectWindow
        }

        /// Series a hub records (the rest are the devices').
        public var isHub: Bool { rawValue.hasPrefix("hub_") || self == .c2dSent }
    }

    public private(set) var binNanoseconds: Int64
    public let maxBins: Int
    /// Every series in first-recorded order, by key: a `Name`'s raw value, or `name:label` for a labelled counter
    /// (`refused:5`). `Name`s find their column through `byName` (no hashing per add), labelled keys through `byKey`.
    private var keys: [String] = []
    private var columns: [[UInt64]] = []
    private var gauges: [Bool] = []
    private var byKey: [String: Int] = [:]
    private var byName: [Int] = Array(repeating: -1, count: Name.allCases.count)

    public init(bin: Duration = .milliseconds(100), maxBins: Int = 65_536) {
        precondition(bin.nanoseconds > 0 && maxBins >= 2, "TimeSeries needs a positive bin and room for two bins")
        binNanoseconds = bin.nanoseconds
        self.maxBins = maxBins
    }

    static func isGauge(_ key: String) -> Bool { Name(rawValue: key)?.isGauge ?? false }

    /// Adds `amount` to a counter at `at`.
    public mutating func add(_ name: Name, _ amount: UInt64 = 1, at: Instant) {
        let c = column(name)
        let i = slot(c, at: at)
        columns[c][i] += amount
    }

    /// Adds to a labelled counter, a breakdown of `name` (`refused` by CONNACK code, `disconnects` by reason):
    /// the series `name:label`.
    public mutating func add(_ name: Name, label: String, _ amount: UInt64 = 1, at: Instant) {
        add(key: "\(name.rawValue):\(label)", amount, at: at)
    }

    /// Adds to the series `key` (`name` or `name:label`), for callers that format a labelled key once and reuse it.
    mutating func add(key: String, _ amount: UInt64, at: Instant) {
        add(column: column(key), amount, at: at)
    }

    /// The column of series `key`, made when it is new: callers that add to a labelled series per event keep it
    /// (no string built or hashed per event). Columns never move.
    public mutating func columnIndex(key: String) -> Int { column(key) }

    /// Adds to the counter in column `c` (from `columnIndex(key:)`).
    public mutating func add(column c: Int, _ amount: UInt64 = 1, at: Instant) {
        let i = slot(c, at: at)
        columns[c][i] += amount
    }

    /// Sets a gauge at `at` (the value holds for later bins until set again).
    public mutating func set(_ name: Name, _ value: UInt64, at: Instant) {
        let c = column(name)
        let i = slot(c, at: at)
        columns[c][i] = value
    }

    private mutating func column(_ name: Name) -> Int {
        let known = byName[name.ordinal]
        if known >= 0 { return known }
        let c = column(name.rawValue)
        byName[name.ordinal] = c
        return c
    }

    private mutating func column(_ key: String) -> Int {
        if let c = byKey[key] { return c }
        let c = columns.count
        keys.append(key)
        columns.append([])
        gauges.append(Self.isGauge(key))
        byKey[key] = c
        if let name = Name(rawValue: key) { byName[name.ordinal] = c }
        return c
    }

    /// The bin index of `at` in column `c`, coarsening first if it would pass `maxBins`; the column grows to it.
    private mutating func slot(_ c: Int, at: Instant) -> Int {
        var i = index(at)
        while i >= maxBins {
            coarsen()
            i = index(at)
        }
        let current = columns[c].count
        if current <= i {
            let fill = gauges[c] ? (columns[c].last ?? 0) : 0
            columns[c].append(contentsOf: repeatElement(fill, count: i + 1 - current))
        }
        return i
    }

    public var binCount: Int { columns.map(\.count).max() ?? 0 }

    /// True before anything was recorded.
    public var isEmpty: Bool { columns.isEmpty }

    /// The series padded to `binCount` (gauges carry their last value forward).
    public func series(_ name: Name) -> [UInt64] { series(key: name.rawValue) }

    /// Any series by key, padded like `series(_:)`.
    public func series(key: String) -> [UInt64] {
        guard let c = byKey[key] else { return Array(repeating: 0, count: binCount) }
        return padded(c, to: binCount)
    }

    private func padded(_ c: Int, to n: Int) -> [UInt64] {
        var v = columns[c]
        guard v.count < n else { return v }
        v += repeatElement(gauges[c] ? (v.last ?? 0) : 0, count: n - v.count)
        return v
    }

    /// The labelled breakdowns recorded (`refused:5`, `disconnects:Communication_Error`, ...), sorted.
    public var labelledKeys: [String] { keys.filter { $0.contains(":") }.sorted() }

    /// Adds another series recorded from the same origin (bins aligned; the coarser width wins).
    public mutating func merge(_ other: TimeSeries) {
        if columns.isEmpty && binNanoseconds != other.binNanoseconds {
            self = other  // nothing recorded here yet: take the other's width
            return
        }
        guard !other.columns.isEmpty else { return }
        precondition(canMerge(other), "TimeSeries widths \(binNanoseconds) and \(other.binNanoseconds) do not align")
        var o = other
        while o.binNanoseconds < binNanoseconds { o.coarsen() }
        while binNanoseconds < o.binNanoseconds { coarsen() }
        let n = max(binCount, o.binCount)
        for key in o.keys { _ = column(key) }
        for c in columns.indices {
            let mine = padded(c, to: n)
            guard let oc = o.byKey[keys[c]] else {
                columns[c] = mine
                continue
            }
            columns[c] = zip(mine, o.padded(oc, to: n)).map { $0 + $1 }
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

    /// Doubles the bin width: bins merge pairwise.
    private mutating func coarsen() {
        binNanoseconds *= 2
        for (c, v) in columns.enumerated() {
            let gauge = gauges[c]
            var merged: [UInt64] = []
            merged.reserveCapacity((v.count + 1) / 2)
            var i = 0
            while i < v.count {
                let b = i + 1 < v.count ? v[i + 1] : (gauge ? v[i] : 0)
                merged.append(gauge ? b : v[i] + b)
                i += 2
            }
            columns[c] = merged
        }
    }
}

/// Two series are equal when they hold the same keys with the same bins (whatever order the keys came in).
extension TimeSeries: Hashable {
    public static func == (a: TimeSeries, b: TimeSeries) -> Bool {
        guard a.binNanoseconds == b.binNanoseconds, a.maxBins == b.maxBins, Set(a.keys) == Set(b.keys) else {
            return false
        }
        return a.keys.allSatisfy { a.series(key: $0) == b.series(key: $0) }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(binNanoseconds)
        hasher.combine(Set(keys))
    }
}
