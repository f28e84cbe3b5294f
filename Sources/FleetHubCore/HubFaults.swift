public import FleetCore

/// The faults in force on a hub, and the answers they give. A value on the hub loop; no clocks of its own
/// (callers pass `now` for the throttle fault's shapers).
public struct HubFaults: Sendable {
    struct Active: Sendable {
        var index: Int
        var fault: Scenario.Fault
        /// A flap between a drop and its release.
        var down = false
        var connectShaper: RateShaper?
        var sendShaper: RateShaper?
    }

    private(set) var active: [Active] = []
    /// Connections refused, delayed, silenced or closed, per fault index.
    private(set) var affected: [Int: Int] = [:]

    public init() {}

    public var isEmpty: Bool { active.isEmpty }

    /// How a CONNECT is answered while a fault is in force.
    public enum ConnectAnswer: Sendable, Hashable {
        case override(HubSession.ConnectOverride)
        /// Close the TCP connection with a reset, answering nothing.
        case reset
    }

    /// A window opens (`now`: the hub's clock, for the throttle fault's shapers).
    public mutating func start(_ fault: Scenario.Fault, index: Int, now: Instant) {
        var a = Active(index: index, fault: fault)
        if fault.kind == .throttle {
            // Shaping starts at once (no burst allowance) and holds requests up to 30 s, like the tier throttles.
            a.connectShaper = fault.connectRate.map {
                RateShaper(rate: $0, burst: 1, maxDelay: .seconds(30), start: now)
            }
            a.sendShaper = fault.sendRate.map { RateShaper(rate: $0, burst: 1, maxDelay: .seconds(30), start: now) }
        }
        active.append(a)
    }

    /// A window closes; returns how many connections it affected in all.
    public mutating func end(index: Int) -> Int {
        active.removeAll { $0.index == index }
        return affected.removeValue(forKey: index) ?? 0
    }

    /// A flap's link goes down (after its drop) or comes back.
    public mutating func setDown(index: Int, _ down: Bool) {
        for i in active.indices where active[i].index == index { active[i].down = down }
    }

    public mutating func count(_ index: Int, _ n: Int = 1) { affected[index, default: 0] += n }

    /// The answer to a CONNECT from `deviceID` at `peer`, when a fault overrides it.
    public mutating func connectAnswer(deviceID: String, peer: () -> String?) -> ConnectAnswer? {
        // By index: a CONNECT during an outage is the hot path of a storm, and a copy of each window (its fault's
        // strings and lists) per CONNECT showed in FleetSim's profile.
        for i in active.indices where active[i].fault.target.matches(deviceID: deviceID, peer: peer) {
            let answer: ConnectAnswer?
            switch active[i].fault.kind {
            case .outage: answer = active[i].fault.refusal == .reset ? .reset : .override(.serverUnavailable)
            case .flap where active[i].down: answer = .override(.serverUnavailable)
            case .rejectAuth: answer = .override(.notAuthorized)
            case .disable: answer = .override(.disabled)
            default: answer = nil
            }
            if let answer {
                count(active[i].index)
                return answer
            }
        }
        return nil
    }

    /// True when the connection's bytes vanish (a blackhole in force for it).
    public func isBlackholed(deviceID: String?, peer: () -> String?) -> Bool {
        // By index (FleetSim asks for every packet; iterating would copy each window).
        active.indices.contains {
            active[$0].fault.kind == .blackhole && active[$0].fault.target.matches(deviceID: deviceID, peer: peer)
        }
    }

    /// The added latency of a slow-connack (`connect`) or slow-puback fault for this device.
    public mutating func delay(connect: Bool, deviceID: String?, peer: () -> String?) -> Duration? {
        let kind: Scenario.Fault.Kind = connect ? .slowConnack : .slowPuback
        for i in active.indices
        where active[i].fault.kind == kind && active[i].fault.target.matches(deviceID: deviceID, peer: peer) {
            count(active[i].index)
            return active[i].fault.delay
        }
        return nil
    }

    /// The throttle fault's decision on a CONNECT or a D2C send (nil: no throttle fault applies).
    public mutating func throttle(
        connect: Bool,
        deviceID: String?,
        peer: () -> String?,
        now: Instant
    )
        -> RateShaper.Decision?
    {
        for i in active.indices where active[i].fault.kind == .throttle {
            guard active[i].fault.target.matches(deviceID: deviceID, peer: peer) else { continue }
            let decision: RateShaper.Decision?
            if connect {
                decision = active[i].connectShaper?.admit(now: now)
            } else {
                decision = active[i].sendShaper?.admit(now: now)
            }
            guard let decision else { continue }
            if decision != .now { count(active[i].index) }
            return decision
        }
        return nil
    }

    /// What an instant fault (or a flap's pulse, or a disable's start) does to an open connection.
    public enum ConnectionEffect: Sendable, Hashable {
        case close
        /// Closed as the hub closes a connection whose token expired.
        case expire
        /// The connection goes silent both ways (its network vanished).
        case silence
    }

    public static func effect(of kind: Scenario.Fault.Kind, step: FaultPlan.Step) -> ConnectionEffect? {
        switch (kind, step) {
        case (.drop, .pulse), (.flap, .pulse), (.disable, .start): .close
        case (.expireTokens, .pulse): .expire
        case (.networkSwitch, .pulse): .silence
        default: nil
        }
    }
}
