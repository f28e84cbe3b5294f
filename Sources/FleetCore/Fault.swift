extension Scenario {
    /// A scripted fault on the hub (or the fault proxy): at a time, for a window, for the devices its target selects.
    public struct Fault: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// Close the selected connections at once (no DISCONNECT): the simplest reconnect storm.
            case drop
            /// Refuse new connections for the window: CONNACK 3 (0x88 in MQTT 5), or a TCP reset (`refuse: reset`).
            case outage
            /// Refuse every CONNECT for the window with CONNACK 5 / 0x87, as IoT Hub does for bad credentials.
            case rejectAuth = "reject-auth"
            /// Stop reading and writing for the window: connections stay open but silent (half-open links that
            /// only keep-alive can detect).
            case blackhole
            /// Hold every CONNACK for `delay` during the window.
            case slowConnack = "slow-connack"
            /// Hold every PUBACK for `delay` during the window (in order).
            case slowPuback = "slow-puback"
            /// Lower the hub's quotas for the window to `connect_rate` / `send_rate` per second (shaping, then
            /// rejection, as the tier throttles do).
            case throttle
            /// The selected devices are disabled for the window: connected ones are dropped at the start, CONNECTs
            /// are refused (CONNACK 5, or 0x8A in MQTT 5, which SDKs report as Device_Disabled).
            case disable
            /// The selected connections' tokens expire now: the hub closes them as it does at token expiry.
            case expireTokens = "expire-tokens"
            /// A flapping link: every `period` during the window the selected connections drop, and for `down`
            /// after each drop their new connections are refused.
            case flap
            /// The selected connections (by default: all from `source`) silently die: no FIN, no reset; new
            /// connections work. Devices must notice by keep-alive or operation timeouts.
            case networkSwitch = "network-switch"
            /// Network faults, executed in the kernel by `fleetstorm netlab` on the fleet's uplinks (namespaces and
            /// veth links; the hub takes no part). The uplink drops every packet both ways for the window, silently:
            /// connections go half-open and only TCP timeouts and keep-alive notice.
            case linkDown = "link-down"
            /// Ends a link-down early (the uplink passes packets again).
            case linkUp = "link-up"
            /// For the window, the hub's side of the uplink answers every device packet with a TCP reset.
            case linkReset = "link-reset"
            /// The fleet's default route moves to the other uplink and the old uplink's address is removed: open
            /// connections are stranded on a source address that no longer exists; new ones leave from the new one.
            case switchUplink = "switch-uplink"
            /// The uplink goes down for `down` every `period` during the window.
            case linkFlap = "link-flap"

            /// True for faults that last a window.
            public var hasWindow: Bool {
                switch self {
                case .drop, .expireTokens, .networkSwitch, .linkUp, .switchUplink: false
                default: true
                }
            }

            /// Faults of the network itself, which `fleetstorm netlab` executes in the kernel.
            public var isNetwork: Bool {
                switch self {
                case .linkDown, .linkUp, .linkReset, .switchUplink, .linkFlap: true
                default: false
                }
            }

            /// The faults the TCP fault proxy can inject in front of an external broker (it sees bytes, not MQTT
            /// identities beyond the connection).
            public var worksThroughProxy: Bool {
                switch self {
                case .drop, .outage, .blackhole, .slowConnack, .slowPuback, .flap: true
                default: false
                }
            }
        }

        /// How an outage refuses connections.
        public enum Refusal: String, Sendable, Hashable, CaseIterable {
            /// CONNACK 3 (server unavailable; 0x88 in MQTT 5).
            case connack
            /// Close the TCP connection with a reset before any MQTT byte is answered.
            case reset
        }

        /// Time from the run's start (or the standalone hub's start).
        public var at: Duration
        public var kind: Kind
        /// How long a windowed fault lasts.
        public var duration: Duration
        /// The added latency of slow-connack / slow-puback.
        public var delay: Duration
        /// Which devices the fault affects.
        public var target: FaultTarget
        /// The throttle fault's limits (per second; nil: that operation is not limited by the fault).
        public var connectRate: Double?
        public var sendRate: Double?
        /// The flap fault's cycle and how long the link stays down after each drop.
        public var period: Duration
        public var down: Duration
        public var refusal: Refusal
        /// The uplink a network fault acts on (1 or 2; 0: the one the fleet's route uses when it acts).
        public var uplink: Int = 0

        public init(
            at: Duration,
            kind: Kind,
            duration: Duration = .zero,
            delay: Duration = .zero,
            target: FaultTarget = FaultTarget(),
            connectRate: Double? = nil,
            sendRate: Double? = nil,
            period: Duration = .zero,
            down: Duration = .zero,
            refusal: Refusal = .connack
        ) {
            self.at = at
            self.kind = kind
            self.duration = duration
            self.delay = delay
            self.target = target
            self.connectRate = connectRate
            self.sendRate = sendRate
            self.period = period
            self.down = down
            self.refusal = refusal
        }

        /// A short name for tables: `drop@5s`, `outage@10s+20s`.
        public var label: String {
            let start = "\(kind.rawValue)@\(at.formatted)"
            return kind.hasWindow ? "\(start)+\(duration.formatted)" : start
        }
    }
}

/// Which devices a fault affects: everyone, a deterministic fraction (by device id), an id pattern (`*` and `?`),
/// the connections from one source address, or the intersection of these.
public struct FaultTarget: Sendable, Hashable {
    /// Share of device ids selected (1 = all). The choice depends only on the id and `salt`, so the hub, the
    /// proxy and a simulation pick the same devices.
    public var fraction: Double
    public var idPattern: String?
    /// The client's IP address as the hub sees it.
    public var source: String?
    public var salt: UInt64

    public init(fraction: Double = 1, idPattern: String? = nil, source: String? = nil, salt: UInt64 = 0) {
        self.fraction = fraction
        self.idPattern = idPattern
        self.source = source
        self.salt = salt
    }

    /// True when the target selects every connection.
    public var isEveryone: Bool { fraction >= 1 && idPattern == nil && source == nil }

    /// True when the target needs the device id to decide (a connection before CONNECT cannot be matched).
    public var needsDeviceID: Bool { fraction < 1 || idPattern != nil }

    /// Whether a connection is selected. `deviceID` is nil before CONNECT; `peer` is the client's IP address.
    public func matches(deviceID: String?, peer: () -> String?) -> Bool {
        if isEveryone { return true }
        if needsDeviceID {
            guard let deviceID else { return false }
            if let idPattern, !Self.glob(idPattern, matches: deviceID) { return false }
            if fraction < 1 && !Self.selects(deviceID, fraction: fraction, salt: salt) { return false }
        }
        if let source { return peer() == source }
        return true
    }

    /// Deterministic selection of a share of ids: a 64-bit hash of the id, mixed with `salt`, below the share.
    public static func selects(_ id: String, fraction: Double, salt: UInt64) -> Bool {
        guard fraction < 1 else { return true }
        guard fraction > 0 else { return false }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        var mix = SplitMix64(seed: h ^ salt)
        let unit = Double(mix.next() >> 11) / Double(1 << 53)
        return unit < fraction
    }

    /// Shell-style match: `*` any run of characters, `?` one character.
    public static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

/// A fault timeline as values: the steps an injector applies, in time order. Instant faults are one `pulse`;
/// windowed faults `start` and `end`; a flap pulses every period and `release`s its down phase.
public struct FaultPlan: Sendable, Hashable {
    public enum Step: Sendable, Hashable {
        case start
        case pulse
        case release
        case end
    }

    public struct Event: Sendable, Hashable {
        public var at: Duration
        /// Index into `faults`.
        public var fault: Int
        public var step: Step

        public init(at: Duration, fault: Int, step: Step) {
            self.at = at
            self.fault = fault
            self.step = step
        }
    }

    public let faults: [Scenario.Fault]
    public let events: [Event]

    /// The first fault scheduled at the same instant as fault `index` (faults that act together form one group).
    public func group(of index: Int) -> Int {
        faults.firstIndex { $0.at == faults[index].at } ?? index
    }

    public init(_ faults: [Scenario.Fault]) {
        self.faults = faults
        var events: [Event] = []
        for (i, f) in faults.enumerated() {
            switch f.kind {
            case .drop, .expireTokens, .networkSwitch, .linkUp, .switchUplink:
                events.append(Event(at: f.at, fault: i, step: .pulse))
            case .flap, .linkFlap:
                events.append(Event(at: f.at, fault: i, step: .start))
                let end = f.at + f.duration
                var t = f.at
                while t < end && f.period > .zero {
                    events.append(Event(at: t, fault: i, step: .pulse))
                    if f.down > .zero { events.append(Event(at: min(t + f.down, end), fault: i, step: .release)) }
                    t += f.period
                }
                events.append(Event(at: end, fault: i, step: .end))
            default:
                events.append(Event(at: f.at, fault: i, step: .start))
                events.append(Event(at: f.at + f.duration, fault: i, step: .end))
            }
        }
        // At equal times: windows close, then open, then instant faults act (so the devices a drop sends away
        // meet the windows that start with it), then down phases end.
        func rank(_ s: Step) -> Int {
            switch s {
            case .end: 0
            case .start: 1
            case .pulse: 2
            case .release: 3
            }
        }
        self.events = events.enumerated().sorted { a, b in
            (a.element.at, rank(a.element.step), a.offset) < (b.element.at, rank(b.element.step), b.offset)
        }.map(\.element)
    }
}

/// What a fault did, for the report: when it started and ended (nanoseconds from the run's or the hub's start)
/// and how many connections it affected (closed, silenced, refused or delayed).
public struct FaultRecord: Sendable, Hashable {
    public var index: Int
    public var kind: String
    public var label: String
    public var startNanoseconds: Int64
    public var endNanoseconds: Int64
    public var affected: UInt64
    /// The first fault scheduled at the same instant as this one: faults that act together share one storm.
    public var group: Int

    public init(
        index: Int,
        kind: String,
        label: String,
        startNanoseconds: Int64,
        endNanoseconds: Int64,
        affected: UInt64,
        group: Int? = nil
    ) {
        self.group = group ?? index
        self.index = index
        self.kind = kind
        self.label = label
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
        self.affected = affected
    }
}

/// Turns applied plan events into records. A value the runner and the standalone hub both use.
public struct FaultLog: Sendable, Hashable {
    public private(set) var records: [FaultRecord]

    public init(plan: FaultPlan) {
        records = plan.faults.enumerated().map { i, f in
            FaultRecord(
                index: i,
                kind: f.kind.rawValue,
                label: f.label,
                startNanoseconds: -1,
                endNanoseconds: -1,
                affected: 0,
                group: plan.group(of: i)
            )
        }
    }

    /// Notes that `event` was applied at `elapsed` (ns) and affected `affected` connections.
    public mutating func applied(_ event: FaultPlan.Event, elapsed: Int64, affected: Int) {
        var r = records[event.fault]
        if r.startNanoseconds < 0 { r.startNanoseconds = elapsed }
        if event.step == .end || event.step == .pulse && !Self.windowed(r.kind) { r.endNanoseconds = elapsed }
        r.affected += UInt64(max(0, affected))
        records[event.fault] = r
    }

    /// Windows that started and have not ended (the run stopped first): the runner ends them to collect their counts.
    public var openWindows: [Int] {
        records.filter { r in r.startNanoseconds >= 0 && r.endNanoseconds < 0 && Self.windowed(r.kind) }.map(\.index)
    }

    /// Records of faults that happened (a run that ended early leaves later ones out; an open window ends at
    /// `runEnd`).
    public func finished(runEnd: Int64) -> [FaultRecord] {
        records.compactMap { r in
            guard r.startNanoseconds >= 0 else { return nil }
            var r = r
            if r.endNanoseconds < 0 { r.endNanoseconds = runEnd }
            return r
        }
    }

    private static func windowed(_ kind: String) -> Bool { Scenario.Fault.Kind(rawValue: kind)?.hasWindow ?? false }
}
