import FleetCore
import NIOCore
import Testing

@testable import FleetEngine

/// The emulated slow link against its arithmetic: segments queue on the shared rate, travel rtt/2 plus jitter, and a
/// lost one arrives one retransmission timeout later (seeded, so exact).
@Suite("Emulated link")
struct LinkShaperTests {
    func link(rtt: Int = 300, jitter: Int = 0, loss: Double = 0, rate: Double? = nil) -> Scenario.Link {
        var l = Scenario.Link()
        l.rtt = .milliseconds(rtt)
        l.jitter = .milliseconds(jitter)
        l.loss = loss
        l.bitsPerSecond = rate
        return l
    }

    @Test func aQueueOnTheSharedRate() {
        var shaper = LinkShaper(link: link(rate: 64_000), seed: 1)
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        // 10 segments of 160 bytes at once: (160 + 40) × 8 / 64,000 = 25 ms each on the wire, back to back.
        let arrivals = (0..<10).map { _ in shaper.arrival(bytes: 160, up: true, now: t0) }
        for (i, a) in arrivals.enumerated() {
            #expect(a.uptimeNanoseconds - t0.uptimeNanoseconds == UInt64((i + 1) * 25_000_000 + 150_000_000))
        }
        // The other direction has its own link.
        #expect(shaper.arrival(bytes: 160, up: false, now: t0).uptimeNanoseconds - t0.uptimeNanoseconds == 175_000_000)
    }

    @Test func lossAddsOneRetransmissionTimeoutAtTheRateAsked() {
        var shaper = LinkShaper(link: link(rtt: 300, jitter: 100, loss: 0.02), seed: 7)
        #expect(shaper.retransmissionTimeout == .milliseconds(700))
        let t0 = NIODeadline.uptimeNanoseconds(5_000_000_000)
        var lost = 0
        let n = 100_000
        for _ in 0..<n {
            let delay = Int64(shaper.arrival(bytes: 64, up: true, now: t0).uptimeNanoseconds - t0.uptimeNanoseconds)
            #expect(delay >= 150_000_000 && delay <= 950_000_000)
            if delay >= 850_000_000 { lost += 1 }  // 150 ms + 700 ms: only a lost segment gets there
        }
        #expect(abs(Double(lost) / Double(n) - 0.02) < 0.003, "\(lost) lost of \(n)")
    }
}
