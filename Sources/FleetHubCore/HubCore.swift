public import FleetCore

/// The hub-wide rules every front of the test hub (MQTT, WebSockets, the HTTPS API) and FleetSim's hub apply, in one
/// place: the tier's new-connection and D2C throttles (reference §5.2), the daily message quota (§5.1), and the
/// faults in force with the answers they give. A value with no clock of its own: callers pass `now` (the hub's
/// monotonic time) and, for the quota's UTC day, `unixSeconds`.
///
/// A hub split into `parts` (hub workers behind one port, FleetSim partitions) gives each part 1/`parts` of every
/// rate, burst and quota, the tier's and a throttle fault's alike, so the parts together enforce the profile's numbers.
public struct HubCore: Sendable {
    /// What the hub counted.
    public var recorder: HubRecorder
    public private(set) var faults = HubFaults()
    /// The tier's numbers for this part (nil: no tier, no throttles, no quota).
    public let quotas: HubQuotas?
    public let parts: Int
    private var connectShaper: RateShaper?
    private var sendShaper: RateShaper?
    private var twinReadShaper: RateShaper?
    private var twinUpdateShaper: RateShaper?
    /// Meter units today's D2C messages used, and which UTC day "today" is.
    private var dailyUsed: UInt64 = 0
    private var quotaDay: Int64 = 0

    public init(quotas: HubQuotas?, parts: Int = 1, bin: Duration = .milliseconds(100)) {
        let parts = max(1, parts)
        var q = quotas
        q?.workers = parts
        self.quotas = q
        self.parts = parts
        recorder = HubRecorder(bin: bin)
        connectShaper = q?.shaper()
        sendShaper = q?.shaper()
        twinReadShaper = q.map { $0.shaper(rate: $0.twinReadRate) }
        twinUpdateShaper = q.map { $0.shaper(rate: $0.twinUpdateRate) }
    }

    /// How a CONNECT is answered, before the session checks its credentials.
    public enum ConnectAdmission: Sendable, Hashable {
        /// Close with a TCP reset and answer nothing (the outage fault's `refuse: reset`; counted as refused).
        case reset
        /// Let the session answer, with a fault's or the throttle's refusal when `override` is set, `delay` after
        /// the CONNECT arrived (nil: at once).
        case answer(override: HubSession.ConnectOverride?, delay: Duration?)
    }

    /// A CONNECT from `deviceID` at `peer` (asked only when a fault targets addresses). A shaped CONNECT is answered
    /// after its wait, whatever the answer; only an unshaped one meets the slow-connack fault's delay.
    public mutating func admitConnect(deviceID: String, peer: () -> String?, now: Instant) -> ConnectAdmission {
        let decision = throttle(connect: true, deviceID: deviceID, peer: peer, now: now)
        if decision == .reject { return .answer(override: .connectionRateExceeded, delay: nil) }
        var override: HubSession.ConnectOverride?
        switch faultAnswer(deviceID: deviceID, peer: peer, now: now) {
        case .reset: return .reset
        case .answer(let o, _): override = o
        case nil: break
        }
        return .answer(override: override, delay: delay(decision, connect: true, deviceID: deviceID, peer: peer))
    }

    /// The answer a fault in force gives a CONNECT from `deviceID`, or an HTTPS request (which IoT Hub checks as it
    /// would a CONNECT): nil when no fault answers it. A reset is counted as refused here; an override is counted by
    /// whoever writes its answer.
    public mutating func faultAnswer(deviceID: String, peer: () -> String?, now: Instant) -> ConnectAdmission? {
        guard !faults.isEmpty else { return nil }
        switch faults.connectAnswer(deviceID: deviceID, peer: peer) {
        case .override(let o): return .answer(override: o, delay: nil)
        case .reset:
            recorder.record(.refused(code: 0, reason: .reset), peer: nil, at: now)
            return .reset
        case nil: return nil
        }
    }

    /// How a D2C message is answered.
    public enum SendAdmission: Sendable, Hashable {
        /// Refused: today's quota is used up (`dailyQuota`, IoT Hub's 403002) or the throttle's queue is full.
        /// The message is not counted as received.
        case refused(dailyQuota: Bool)
        /// Accepted; its PUBACK leaves `delay` after the PUBLISH arrived (nil: at once).
        case answer(delay: Duration?)
    }

    /// A D2C message of `payloadBytes` from a connected device; `acknowledged` for QoS 1 (only a PUBACK can be
    /// slowed by the slow-puback fault). The daily quota is charged before the throttle decides.
    public mutating func admitSend(
        deviceID: String?,
        peer: () -> String?,
        payloadBytes: Int,
        acknowledged: Bool,
        now: Instant,
        unixSeconds: Int64
    ) -> SendAdmission {
        guard chargeDailyQuota(payloadBytes: payloadBytes, unixSeconds: unixSeconds) else {
            return .refused(dailyQuota: true)
        }
        let decision = throttle(connect: false, deviceID: deviceID, peer: peer, now: now)
        if decision == .reject { return .refused(dailyQuota: false) }
        guard acknowledged else { return .answer(delay: nil) }
        return .answer(delay: delay(decision, connect: false, deviceID: deviceID, peer: peer))
    }

    /// A twin request from a connected device: a read (GET) or an update (a reported-properties PATCH) meets the
    /// tier's twin throttle for its kind, not the D2C one (reference §5.1), and is charged to the daily quota as
    /// messages are (IoT Hub bills twin reads and updates as messages). Refused past its throttle's queue (the
    /// device gets status 429) or over the quota (403); else answered after the shaping delay, if any. Throttle faults
    /// and the slow-puback fault act on D2C sends only.
    public mutating func admitTwin(update: Bool, payloadBytes: Int, now: Instant, unixSeconds: Int64) -> SendAdmission {
        guard chargeDailyQuota(payloadBytes: payloadBytes, unixSeconds: unixSeconds) else {
            return .refused(dailyQuota: true)
        }
        let decision =
            update ? Self.admit(&twinUpdateShaper, now: now) : Self.admit(&twinReadShaper, now: now)
        recorder.countTwinThrottle(decision, at: now)
        switch decision {
        case .reject: return .refused(dailyQuota: false)
        case .after(let wait): return .answer(delay: wait)
        case .now: return .answer(delay: nil)
        }
    }

    /// Charges a message of `payloadBytes` to today's quota (the UTC day of `unixSeconds`); false, counted, when it
    /// would go over.
    private mutating func chargeDailyQuota(payloadBytes: Int, unixSeconds: Int64) -> Bool {
        guard let quotas else { return true }
        let day = unixSeconds / 86_400
        if day != quotaDay {
            quotaDay = day
            dailyUsed = 0
        }
        let units = quotas.meterUnits(bytes: payloadBytes)
        guard dailyUsed + units <= quotas.dailyMessagesPerWorker else {
            recorder.countQuotaExceeded()
            return false
        }
        dailyUsed += units
        return true
    }

    /// A step of the fault plan, as far as the hub-wide state goes: windows open and close, a flap goes down and
    /// comes back. Returns the connections a closing window affected in all. What the step does to open connections
    /// (`HubFaults.effect`) is the caller's to run, since it holds them.
    public mutating func faultStep(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int, now: Instant) -> Int {
        switch (fault.kind, step) {
        case (_, .start):
            faults.start(partitioned(fault), index: index, now: now)
        case (.flap, .pulse):
            faults.setDown(index: index, fault.down > .zero)
        case (.flap, .release):
            faults.setDown(index: index, false)
        case (_, .end):
            return faults.end(index: index)
        default:
            break
        }
        return 0
    }

    /// True when the connection's bytes vanish (a blackhole in force for it).
    public func isBlackholed(deviceID: String?, peer: () -> String?) -> Bool {
        !faults.isEmpty && faults.isBlackholed(deviceID: deviceID, peer: peer)
    }

    /// A throttle fault as this part applies it: its rates scaled to the part's share.
    private func partitioned(_ fault: Scenario.Fault) -> Scenario.Fault {
        guard parts > 1 else { return fault }
        var f = fault
        let share = 1 / Double(parts)
        f.connectRate = f.connectRate.map { $0 * share }
        f.sendRate = f.sendRate.map { $0 * share }
        return f
    }

    /// The tier's shaper for connects or sends, then a throttle fault's; the stricter answer is counted.
    private mutating func throttle(
        connect: Bool,
        deviceID: String?,
        peer: () -> String?,
        now: Instant
    ) -> RateShaper.Decision {
        var decision = connect ? Self.admit(&connectShaper, now: now) : Self.admit(&sendShaper, now: now)
        if decision != .reject, !faults.isEmpty,
            let extra = faults.throttle(connect: connect, deviceID: deviceID, peer: peer, now: now)
        {
            decision = decision.combined(with: extra)
        }
        recorder.countThrottle(connect: connect, decision: decision, at: now)
        return decision
    }

    /// One throttle's decision (`.now` without a tier).
    private static func admit(_ shaper: inout RateShaper?, now: Instant) -> RateShaper.Decision {
        shaper?.admit(now: now) ?? .now
    }

    /// A shaped answer waits its turn; an unshaped one meets the slow-connack or slow-puback fault's delay.
    private mutating func delay(
        _ decision: RateShaper.Decision,
        connect: Bool,
        deviceID: String?,
        peer: () -> String?
    ) -> Duration? {
        if case .after(let wait) = decision { return wait }
        guard !faults.isEmpty else { return nil }
        return faults.delay(connect: connect, deviceID: deviceID, peer: peer)
    }
}
