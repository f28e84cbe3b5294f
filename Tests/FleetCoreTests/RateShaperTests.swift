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
}
