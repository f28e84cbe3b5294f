import FleetCore
import FleetReport
import FleetService
import Testing

/// `profiles/aws-jitter-study.yaml` re-creates the setting of AWS's "Exponential Backoff And Jitter" study in
/// FleetSim. Reference §7.2 (azure-device-sdk-behaviour.md): "plain exponential backoff still produces synchronized
/// clusters of retries and is worst on both work and time; any jitter cuts work substantially (with 100 contending
/// clients, calls drop by more than half); Equal jitter does slightly more work than Full and takes noticeably
/// longer; Full jitter does the least work, Decorrelated finishes slightly faster but with more work".
@Suite("AWS backoff-and-jitter study in FleetSim")
struct AWSJitterStudyTests {
    struct Outcome {
        var work: Double
        var completion: Double
    }

    /// Mean attempts per device and mean completion (t100, seconds) over `seeds` runs of one policy.
    static func measure(_ policy: String, seeds: Int) throws -> Outcome {
        var work = 0.0
        var completion = 0.0
        for k in 0..<seeds {
            let s = try SimTest.profile("aws-jitter-study.yaml", ["retry.policy=\(policy)", "seed=\(100 + k)"])
            let storm = SimTest.storm(SimTest.simulate(s).1)
            #expect(storm.recovered == 100, "\(policy) seed \(100 + k): every client gets through")
            work += storm.attemptsPerDevice
            completion += Double(storm.t100Ns) / 1e9
        }
        return Outcome(work: work / Double(seeds), completion: completion / Double(seeds))
    }

    @Test(
        "the published ranking holds: no jitter worst on work and time, full jitter least work, equal slower than full"
    )
    func ranking() throws {
        let seeds = 20
        let none = try Self.measure("exponential", seeds: seeds)
        let full = try Self.measure("full-jitter", seeds: seeds)
        let equal = try Self.measure("equal-jitter", seeds: seeds)
        let decorrelated = try Self.measure("decorrelated-jitter", seeds: seeds)
        for other in [full, equal, decorrelated] {
            #expect(none.work > other.work)
            #expect(none.completion > other.completion)
        }
        // "calls drop by more than half" with 100 contending clients.
        #expect(full.work < none.work / 2)
        #expect(full.work < equal.work)
        #expect(full.work < decorrelated.work)
        #expect(equal.completion > full.completion)
        // "Decorrelated finishes slightly faster" than full jitter.
        #expect(decorrelated.completion < full.completion)
    }
}
