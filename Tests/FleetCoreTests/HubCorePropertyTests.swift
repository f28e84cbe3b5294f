import FleetHubCore
import Testing

@testable import FleetCore

/// The hub-wide rules (`HubCore`) under random event orders, seeded: CONNECTs and D2C sends from a few devices, fault
/// windows opening, pulsing and closing in any order (ends without starts, starts twice), time moving in small steps
/// and across UTC days, the hub split into 1–3 parts. The test keeps its own model of which faults are in force and
/// its own tally of the daily quota, counts every answer it gets, and checks:
/// - every answer has a cause in force (a refusal only while a fault or throttle that gives it is in force; no tier
///   and no fault: every request answered at once);
/// - the daily quota of a part is never exceeded within a UTC day (reference §5.1);
/// - no shaped answer waits longer than the queue bound plus the slowest fault's delay;
/// - the hub's counters equal the test's counts: throttled connects and sends, resets, quota refusals.
@Suite("HubCore under random event orders")
struct HubCorePropertyTests {
    static let faults: [Scenario.Fault] = [
        Scenario.Fault(at: .zero, kind: .outage, duration: .seconds(5)),
        Scenario.Fault(at: .zero, kind: .outage, duration: .seconds(5), refusal: .reset),
        Scenario.Fault(at: .zero, kind: .rejectAuth, duration: .seconds(5), target: FaultTarget(fraction: 0.5)),
        Scenario.Fault(at: .zero, kind: .disable, duration: .seconds(5), target: FaultTarget(idPattern: "dev-1*")),
        Scenario.Fault(at: .zero, kind: .slowConnack, duration: .seconds(5), delay: .milliseconds(700)),
        Scenario.Fault(at: .zero, kind: .slowPuback, duration: .seconds(5), delay: .milliseconds(300)),
        Scenario.Fault(at: .zero, kind: .throttle, duration: .seconds(5), connectRate: 5, sendRate: 20),
        Scenario.Fault(at: .zero, kind: .flap, duration: .seconds(5), period: .seconds(1), down: .milliseconds(400)),
        Scenario.Fault(at: .zero, kind: .blackhole, duration: .seconds(5)),
    ]
    static let steps: [FaultPlan.Step] = [.start, .pulse, .release, .end]
    static let daily: UInt64 = 40
    static let maxDelay = Duration.seconds(1)

    /// What the test counted, to compare with the hub's counters.
    struct Counts {
        var throttledConnects: UInt64 = 0
        var resets: UInt64 = 0
        var quotaRefusals: UInt64 = 0
        var throttledSends: UInt64 = 0
        var answered = 0
    }

    /// The test's model of the faults in force: index → (fault, a flap's link down).
    struct Model {
        var active: [Int: (fault: Scenario.Fault, down: Bool)] = [:]

        func inForce(
            _ kind: Scenario.Fault.Kind,
            for id: String,
            where extra: (Scenario.Fault, Bool) -> Bool = { _, _ in true }
        )
            -> Bool
        {
            active.values.contains { f, down in
                f.kind == kind && f.target.matches(deviceID: id, peer: { nil }) && extra(f, down)
            }
        }

        var isEmpty: Bool { active.isEmpty }

        mutating func apply(_ step: FaultPlan.Step, index: Int) {
            let fault = HubCorePropertyTests.faults[index]
            switch (fault.kind, step) {
            case (_, .start):
                // The hub keeps a window opened twice twice; one end closes both.
                if active[index] == nil { active[index] = (fault, false) }
            case (.flap, .pulse): active[index]?.down = fault.down > .zero
            case (.flap, .release): active[index]?.down = false
            case (_, .end): active[index] = nil
            default: break
            }
        }
    }

    @Test(arguments: 0..<60)
    func randomEventOrders(seed: UInt64) {
        var rng = SplitMix64(seed: 0xC0DE_0000 + seed)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let tier = pick(3) > 0
        let parts = 1 + pick(3)
        var quotas = HubQuotas(tier: .s1, units: 1)
        quotas.burstSeconds = 0.05
        quotas.maxDelay = Self.maxDelay
        quotas.dailyMessages = Self.daily
        var core = HubCore(quotas: tier ? quotas : nil, parts: parts)
        var model = Model()
        var counts = Counts()
        var now = Instant.zero
        // Start an hour before a UTC midnight, so runs cross days.
        let base = Int64(20_000 + pick(5)) * 86_400 - 3_600
        var day = Int64.min
        var usedToday: UInt64 = 0
        let perPart = max(1, Self.daily / UInt64(parts))
        let slowest = Duration.milliseconds(700)

        for _ in 0..<3_000 {
            let id = "dev-\(pick(30))"
            switch pick(10) {
            case 0...2:
                let answer = core.admitConnect(deviceID: id, peer: { nil }, now: now)
                counts.answered += 1
                switch answer {
                case .reset:
                    counts.resets += 1
                    #expect(
                        model.inForce(.outage, for: id) { f, _ in f.refusal == .reset },
                        "a reset without its outage"
                    )
                case .answer(.connectionRateExceeded?, let delay):
                    counts.throttledConnects += 1
                    #expect(delay == nil)
                    #expect(tier || model.inForce(.throttle, for: id), "a throttled CONNECT without a throttle")
                case .answer(.serverUnavailable?, _):
                    #expect(
                        model.inForce(.outage, for: id) { f, _ in f.refusal == .connack }
                            || model.inForce(.flap, for: id) { _, down in down },
                        "server unavailable without an outage or a flap that is down"
                    )
                case .answer(.notAuthorized?, _):
                    #expect(model.inForce(.rejectAuth, for: id))
                case .answer(.disabled?, _):
                    #expect(model.inForce(.disable, for: id))
                case .answer(nil, let delay):
                    if let delay {
                        #expect(tier || model.inForce(.slowConnack, for: id) || model.inForce(.throttle, for: id))
                        #expect(delay > .zero && delay <= Self.maxDelay + .seconds(30) + slowest)
                    }
                }
                if !tier && model.isEmpty { #expect(answer == .answer(override: nil, delay: nil)) }
            case 3...6:
                let bytes = [16, 256, 4_096, 4_097, 12_000][pick(5)]
                let unix = base + now.nanoseconds / 1_000_000_000
                let answer = core.admitSend(
                    deviceID: id,
                    peer: { nil },
                    payloadBytes: bytes,
                    acknowledged: pick(2) == 0,
                    now: now,
                    unixSeconds: unix
                )
                // The test's own meter: 4 KB units on S1 (reference §5.1), a new tally each UTC day.
                let units = UInt64((bytes + 4_095) / 4_096)
                if unix / 86_400 != day {
                    day = unix / 86_400
                    usedToday = 0
                }
                switch answer {
                case .refused(dailyQuota: true):
                    counts.quotaRefusals += 1
                    #expect(tier && usedToday + units > perPart, "refused by a quota with room left")
                case .refused(dailyQuota: false):
                    counts.throttledSends += 1
                    usedToday += units
                    #expect(tier || model.inForce(.throttle, for: id))
                case .answer(let delay):
                    usedToday += units
                    if let delay {
                        #expect(tier || model.inForce(.slowPuback, for: id) || model.inForce(.throttle, for: id))
                        #expect(delay > .zero && delay <= Self.maxDelay + .seconds(30) + slowest)
                    }
                }
                if tier { #expect(usedToday <= perPart, "a part's daily quota exceeded: \(usedToday) > \(perPart)") }
                if !tier && model.isEmpty { #expect(answer == .answer(delay: nil)) }
            case 7:
                let index = pick(Self.faults.count)
                let step = Self.steps[pick(Self.steps.count)]
                _ = core.faultStep(step, fault: Self.faults[index], index: index, now: now)
                model.apply(step, index: index)
                #expect(core.isBlackholed(deviceID: id, peer: { nil }) == model.inForce(.blackhole, for: id))
            default:
                let ms: Int64 = pick(20) == 0 ? Int64(1 + pick(30)) * 3_600_000 : Int64(pick(500))
                now = now + .milliseconds(ms)
            }
        }
        let stats = core.recorder.stats
        #expect(stats.throttledConnects == counts.throttledConnects)
        #expect(stats.refusedByReason["reset", default: 0] == counts.resets)
        #expect(stats.quotaExceeded == counts.quotaRefusals)
        #expect(stats.throttledSends == counts.throttledSends)
        #expect(counts.answered > 0)
    }

    /// Parts split the tier: over a long steady overload, P parts together admit what one hub admits (within one
    /// burst per part), and each part's daily quota is 1/P of the tier's.
    @Test(arguments: [2, 3, 4])
    func partsTogetherEnforceTheTier(parts: Int) {
        var quotas = HubQuotas(tier: .s1, units: 1)
        quotas.burstSeconds = 1
        quotas.maxDelay = .zero
        func admitted(_ core: inout HubCore, rate: Double) -> Int {
            var n = 0
            for i in 0..<Int(rate * 20) {
                let now = Instant(nanoseconds: Int64(Double(i) / rate * 1e9))
                if case .answer(nil, _) = core.admitConnect(deviceID: "d", peer: { nil }, now: now) { n += 1 }
            }
            return n
        }
        var whole = HubCore(quotas: quotas)
        let one = admitted(&whole, rate: 400)
        var sum = 0
        for _ in 0..<parts {
            var part = HubCore(quotas: quotas, parts: parts)
            sum += admitted(&part, rate: 400 / Double(parts))
        }
        // 100/s for 20 s plus a 100-connect burst (reference §5.2: S1 is 100 new connections a second).
        #expect(abs(one - 2_100) <= 2)
        #expect(abs(sum - one) <= parts + 1, "\(parts) parts admitted \(sum), one hub \(one)")
        #expect(HubCore(quotas: quotas, parts: parts).quotas?.dailyMessagesPerWorker == 400_000 / UInt64(parts))
    }
}
