import FleetHubCore
import Testing

@testable import FleetCore

@Suite("IoT Hub throttling model")
struct RateShaperTests {
    static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    @Test func burstThenShapedThenRejected() {
        var s = RateShaper(rate: 10, burst: 5, maxDelay: .milliseconds(500))
        let first = (0..<5).map { _ in s.admit(now: Self.at(0)) }
        #expect(first == Array(repeating: .now, count: 5), "the burst goes through at once")
        // Beyond the burst: one every 100 ms, in order, until the wait would pass 500 ms.
        let shaped = (0..<6).map { _ in s.admit(now: Self.at(0)) }
        #expect(
            shaped == [
                .after(.milliseconds(100)), .after(.milliseconds(200)), .after(.milliseconds(300)),
                .after(.milliseconds(400)), .after(.milliseconds(500)), .reject,
            ]
        )
        // A second later the bucket has refilled (and the queue has drained).
        #expect(s.admit(now: Self.at(1600)) == .now)
    }

    @Test func sustainedRateIsTheLimit() {
        var s = RateShaper(rate: 100, burst: 100, maxDelay: .seconds(10))
        var admitted = 0
        var rejected = 0
        // 200 requests a second for 20 s into a 100/s throttle.
        for i in 0..<4000 {
            switch s.admit(now: Self.at(Int64(i) * 5)) {
            case .now, .after: admitted += 1
            case .reject: rejected += 1
            }
        }
        #expect(rejected > 0, "sustained overload ends in rejections")
        #expect(admitted >= 2000 && admitted <= 2000 + 100 + 1000 + 5, "limit × time + burst + queue (\(admitted))")
    }

    @Test func tierRates() {
        #expect(HubQuotas(tier: .s1, units: 1).rate == 100)
        #expect(HubQuotas(tier: .s1, units: 2).rate == 100, "2 × S1 is still 100/s")
        #expect(HubQuotas(tier: .s1, units: 9).rate == 108)
        #expect(HubQuotas(tier: .s2, units: 3).rate == 360)
        #expect(HubQuotas(tier: .s3, units: 1).rate == 6000)
    }

    /// Reference §5.1: "twin reads | 100/s | max(100/s, 10/s/unit) | 500/s/unit" and
    /// "twin updates | 50/s | max(50/s, 5/s/unit) | 250/s/unit" (Free / B1 / S1, B2 / S2, B3 / S3).
    @Test func twinTierRates() {
        #expect(HubQuotas(tier: .s1, units: 1).twinReadRate == 100)
        #expect(HubQuotas(tier: .s1, units: 200).twinReadRate == 100, "S1 twin reads do not grow with units")
        #expect(HubQuotas(tier: .s2, units: 5).twinReadRate == 100)
        #expect(HubQuotas(tier: .s2, units: 20).twinReadRate == 200)
        #expect(HubQuotas(tier: .s3, units: 2).twinReadRate == 1000)
        #expect(HubQuotas(tier: .free, units: 1).twinUpdateRate == 50)
        #expect(HubQuotas(tier: .s2, units: 20).twinUpdateRate == 100)
        #expect(HubQuotas(tier: .s3, units: 2).twinUpdateRate == 500)
    }

    /// Twin reads, twin updates and D2C sends each meet their own throttle: using one up leaves the others whole.
    /// All three share the daily quota.
    @Test func twinThrottlesAreApartFromSends() {
        var quotas = HubQuotas(tier: .s1, units: 1)
        quotas.burstSeconds = 0.1  // bursts of 10 reads, 5 updates, 10 sends
        quotas.maxDelay = .milliseconds(100)  // queues of 10 reads, 5 updates, 10 sends
        var core = HubCore(quotas: quotas)
        let now = Self.at(0)
        func reads(_ n: Int) -> [HubCore.SendAdmission] {
            (0..<n).map { _ in core.admitTwin(update: false, payloadBytes: 0, now: now, unixSeconds: 0) }
        }
        let r = reads(30)
        #expect(r.prefix(10).allSatisfy { $0 == .answer(delay: nil) }, "the burst: \(r.prefix(10))")
        #expect(r[10] == .answer(delay: .milliseconds(10)), "then one every 10 ms (100/s)")
        #expect(r[19] == .answer(delay: .milliseconds(100)))
        #expect(r[20...].allSatisfy { $0 == .refused(dailyQuota: false) }, "past the 100 ms queue: 429")
        let updates = (0..<12).map { _ in core.admitTwin(update: true, payloadBytes: 20, now: now, unixSeconds: 0) }
        #expect(updates.prefix(5).allSatisfy { $0 == .answer(delay: nil) }, "the update throttle is untouched by reads")
        #expect(updates[5] == .answer(delay: .milliseconds(20)), "50/s: one every 20 ms")
        #expect(updates[10...].allSatisfy { $0 == .refused(dailyQuota: false) })
        let send = core.admitSend(
            deviceID: "d",
            peer: { nil },
            payloadBytes: 64,
            acknowledged: true,
            now: now,
            unixSeconds: 0
        )
        #expect(send == .answer(delay: nil), "D2C sends are not charged for twin requests")
        let stats = core.recorder.stats
        #expect(stats.throttledTwinRequests == 10 + 2 && stats.shapedTwinRequests == 10 + 5)
        #expect(stats.shapedSends == 0 && stats.throttledSends == 0)
    }

    /// The daily quota counts twin requests as messages (IoT Hub bills twin reads and updates as messages): over it,
    /// a twin request is refused as over the quota (status 403), not throttled.
    @Test func twinRequestsUseTheDailyQuota() {
        var quotas = HubQuotas(tier: .s1, units: 1)
        quotas.dailyMessages = 3
        var core = HubCore(quotas: quotas)
        let answers = (0..<4).map { _ in core.admitTwin(update: false, payloadBytes: 0, now: Self.at(0), unixSeconds: 0)
        }
        #expect(answers[0..<3].allSatisfy { $0 == .answer(delay: nil) })
        #expect(answers[3] == .refused(dailyQuota: true))
        #expect(core.recorder.stats.quotaExceeded == 1 && core.recorder.stats.throttledTwinRequests == 0)
    }
}
