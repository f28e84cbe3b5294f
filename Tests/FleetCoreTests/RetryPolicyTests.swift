import Testing

@testable import FleetCore

/// Delay bounds per preset, from the reference's tables (§1.1, §1.3, §1.4, §1.5, §1.6, §1.7), first 12 retries.
@Suite("Retry policies match the SDK reference")
struct RetryPolicyTests {
    /// Observed [min, max] of each attempt's delay over many seeded draws, in milliseconds.
    static func observed(_ policy: RetryPolicy, attempts: Int = 12, draws: Int = 4000) -> [(min: Double, max: Double)] {
        var rng = SplitMix64(seed: 0xD1CE)
        var lo = Array(repeating: Double.infinity, count: attempts)
        var hi = Array(repeating: -Double.infinity, count: attempts)
        for _ in 0..<draws {
            for (i, d) in policy.delays(count: attempts, using: &rng).enumerated() {
                guard let d else { continue }
                let ms = Double(d.nanoseconds) / 1e6
                lo[i] = min(lo[i], ms)
                hi[i] = max(hi[i], ms)
            }
        }
        return zip(lo, hi).map { ($0, $1) }
    }

    /// Expected bounds (ms, inclusive) per attempt; `tight` demands the draws reach both ends (within `slack`).
    static func check(
        _ name: String,
        _ expected: [(Double, Double)],
        slack: Double = 0.02,
        file: String = #fileID
    ) throws {
        let policy = try RetryPolicy.make(name: name)
        let seen = observed(policy, attempts: expected.count)
        for (i, ((lo, hi), o)) in zip(expected, seen).enumerated() {
            let n = i + 1
            #expect(
                o.min >= lo - 0.001 && o.max <= hi + 0.001,
                "\(name) attempt \(n): saw \(o.min)–\(o.max), expected \(lo)–\(hi)"
            )
            let width = max(hi - lo, 1)
            #expect(
                o.min - lo <= width * slack + 0.001,
                "\(name) attempt \(n): lower end \(lo) never reached (min \(o.min))"
            )
            #expect(
                hi - o.max <= width * slack + 1.001,
                "\(name) attempt \(n): upper end \(hi) never reached (max \(o.max))"
            )
        }
    }

    @Test func dotnet() throws {
        try Self.check(
            "azure-dotnet",
            [(100, 100), (180, 219), (340, 457), (660, 933), (1300, 1885), (2580, 3789), (5140, 7597)]
                + Array(repeating: (10_000, 10_000), count: 5)
        )
    }

    @Test func dotnetThrottled() throws {
        try Self.check(
            "azure-dotnet-throttled",
            [(10_000, 10_000), (14_000, 15_999), (22_000, 27_997), (38_000, 51_993)]
                + Array(repeating: (60_000, 60_000), count: 8)
        )
    }

    @Test func java() throws {
        try Self.check(
            "azure-java",
            [(0, 0), (180, 219), (340, 457), (660, 933), (1300, 1885), (2580, 3789), (5140, 7597)]
                + Array(repeating: (10_000, 10_000), count: 5)
        )
    }

    @Test func node() throws {
        try Self.check(
            "azure-node",
            [
                (100, 100), (100, 125), (100, 175), (100, 275), (100, 475), (100, 875), (100, 1675), (100, 3275),
                (100, 6475),
            ]
                + Array(repeating: (100, 10_000), count: 3)
        )
    }

    @Test func nodeThrottled() throws {
        try Self.check(
            "azure-node-throttled",
            [
                (10_000, 10_000), (10_000, 11_250), (10_000, 13_750), (10_000, 18_750), (10_000, 28_750),
                (10_000, 48_750),
            ]
                + Array(repeating: (10_000, 60_000), count: 6)
        )
    }

    @Test func cSDK() throws {
        // 0, 1, 2, 4, 8, 16 s, then 30 or 31 s (integer truncation of the +0–5 % jitter).
        try Self.check(
            "azure-c",
            [(0, 0), (1000, 1000), (2000, 2000), (4000, 4000), (8000, 8000), (16_000, 16_000)]
                + Array(repeating: (30_000, 31_000), count: 6)
        )
        var rng = SplitMix64(seed: 5)
        let c = try RetryPolicy.make(name: "azure-c")
        let capped = (0..<3000).compactMap { _ in c.delay(attempt: 9, previous: nil, using: &rng) }
        let share31 = Double(capped.filter { $0 == .seconds(31) }.count) / Double(capped.count)
        #expect(abs(share31 - 1.0 / 3) < 0.04, "about a third of capped C waits are 31 s, saw \(share31)")
    }

    @Test func cSDKModes() throws {
        var rng = SplitMix64(seed: 1)
        func seq(_ mode: String) throws -> [Duration?] {
            try RetryPolicy.make(name: "azure-c", parameters: ["mode": mode]).delays(count: 8, using: &rng)
        }
        #expect(
            try seq("interval") == [
                .zero, .seconds(5), .seconds(5), .seconds(5), .seconds(5), .seconds(5), .seconds(5), .seconds(5),
            ]
        )
        #expect(
            try seq("linear") == [
                .zero, .seconds(5), .seconds(10), .seconds(15), .seconds(20), .seconds(25), .seconds(30), .seconds(30),
            ]
        )
        #expect(
            try seq("exponential") == [
                .zero, .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30),
            ]
        )
        #expect(try seq("immediate") == Array(repeating: .zero, count: 8))
        #expect(try seq("none") == Array(repeating: nil, count: 8))
        for d in try seq("random").dropFirst() { #expect(d! >= .zero && d! <= .seconds(5)) }
    }

    @Test func python() throws {
        try Self.check("azure-python", [(10, 10)] + Array(repeating: (10_000, 10_000), count: 11))
    }

    @Test func families() throws {
        var rng = SplitMix64(seed: 9)
        let exp = try RetryPolicy.make(name: "exponential", parameters: ["base": "100ms", "cap": "2s"])
        #expect(exp.delays(count: 7, using: &rng) == [100, 200, 400, 800, 1600, 2000, 2000].map { .milliseconds($0) })
        let x3 = try RetryPolicy.make(name: "exponential", parameters: ["base": "1s", "multiplier": "3", "cap": "1m"])
        #expect(x3.delays(count: 4, using: &rng) == [1, 3, 9, 27].map { .seconds($0) })
        #expect(
            try RetryPolicy.make(name: "linear", parameters: ["base": "2s", "cap": "5s"]).delays(count: 4, using: &rng)
                == [2, 4, 5, 5].map { .seconds($0) }
        )
        #expect(
            try RetryPolicy.make(name: "fixed", parameters: ["base": "3s", "attempts": "2"]).delays(
                count: 3,
                using: &rng
            )
                == [.seconds(3), .seconds(3), nil]
        )
        #expect(try RetryPolicy.make(name: "none").delays(count: 2, using: &rng) == [nil, nil])
        #expect(
            try RetryPolicy.make(name: "custom", parameters: ["delays": "100ms,1s,5s"]).delays(count: 5, using: &rng)
                == [.milliseconds(100), .seconds(1), .seconds(5), .seconds(5), .seconds(5)]
        )

        try Self.check("full-jitter", (1...8).map { (0, min(30_000, 100 * Self.pow2($0 - 1))) }, slack: 0.05)
        try Self.check(
            "equal-jitter",
            (1...8).map {
                let t = min(30_000, 100 * Self.pow2($0 - 1))
                return (t / 2, t)
            },
            slack: 0.05
        )

        // Decorrelated: every delay in [base, min(cap, 3 · previous)).
        let dec = try RetryPolicy.make(name: "decorrelated-jitter", parameters: ["base": "100ms", "cap": "10s"])
        for _ in 0..<500 {
            var previous = Duration.milliseconds(100)
            for d in dec.delays(count: 12, using: &rng) {
                let d = try #require(d)
                #expect(d >= .milliseconds(100) && d <= min(.seconds(10), previous * 3))
                previous = d
            }
        }
        // Full jitter's mean is half the target.
        let fj = try RetryPolicy.make(name: "full-jitter", parameters: ["base": "1s", "cap": "1s"])
        let mean =
            (0..<20_000).map { _ in Double(fj.delay(attempt: 1, previous: nil, using: &rng)!.nanoseconds) }.reduce(0, +)
            / 20_000
        #expect(abs(mean / 1e9 - 0.5) < 0.01)
    }

    static func pow2(_ e: Int) -> Double { Double(1 << e) }

    @Test func fastFailureFloorAndCWaitFromAttemptStart() throws {
        let dotnet = try RetryPolicy.make(name: "azure-dotnet")
        #expect(dotnet.wait(nominal: .milliseconds(180), attemptDuration: .milliseconds(20)) == .milliseconds(980))
        #expect(dotnet.wait(nominal: .seconds(3), attemptDuration: .milliseconds(20)) == .seconds(3))
        let c = try RetryPolicy.make(name: "azure-c")
        #expect(
            c.wait(nominal: .seconds(4), attemptDuration: .seconds(30)) == .zero,
            "a 30 s CONNACK timeout consumes the wait"
        )
        #expect(c.wait(nominal: .seconds(4), attemptDuration: .seconds(1)) == .seconds(3))
    }

    @Test func giveUpRules() throws {
        // The curves carry no time limit of their own: the SDK decides (SDKTimeLimitTests); an explicit
        // retry.timeout replaces it, 0 meaning never.
        for name in ["azure-dotnet", "azure-java", "azure-node", "azure-c", "azure-python", "full-jitter"] {
            #expect(try RetryPolicy.make(name: name).timeout == nil, "\(name)")
        }
        #expect(try RetryPolicy.make(name: "azure-dotnet", parameters: ["timeout": "0"]).timeout == .zero)
        #expect(try RetryPolicy.make(name: "azure-dotnet", parameters: ["timeout": "90s"]).timeout == .seconds(90))
        #expect(SDK.dotnet.timeLimits == SDK.TimeLimits(open: .seconds(240), reconnect: nil, check: .deadline))
        #expect(
            SDK.java.timeLimits == SDK.TimeLimits(open: .seconds(240), reconnect: .seconds(240), check: .atAttemptStart)
        )
        #expect(
            SDK.node.timeLimits == SDK.TimeLimits(open: .seconds(240), reconnect: .seconds(240), check: .afterFailure)
        )
        #expect(SDK.c.timeLimits.open == nil && SDK.c.timeLimits.reconnect == nil)
        #expect(SDK.python.timeLimits.open == nil && SDK.python.timeLimits.reconnect == nil)
        var rng = SplitMix64(seed: 2)
        let limited = try RetryPolicy.make(name: "azure-node", parameters: ["attempts": "3"])
        #expect(limited.delays(count: 5, using: &rng).map { $0 == nil } == [false, false, false, true, true])
    }

    @Test func badParametersNameTheKey() {
        for (name, params, key) in [
            ("bogus", [String: String](), "policy"),
            ("azure-dotnet", ["cap": "10x"], "cap"), ("azure-dotnet", ["colour": "red"], "colour"),
            ("full-jitter", ["attempts": "-1"], "attempts"), ("azure-node", ["ju": "2"], "ju"),
            ("azure-c", ["mode": "sometimes"], "mode"), ("custom", [:], "delays"),
            ("custom", ["delays": "1s,x"], "delays"),
            ("exponential", ["multiplier": "0.5"], "multiplier"), ("azure-c", ["base": "500ms"], "base"),
        ] {
            do {
                _ = try RetryPolicy.make(name: name, parameters: params)
                Issue.record("\(name) \(params) should fail")
            } catch {
                #expect(error.key == key, "\(name) \(params): \(error)")
            }
        }
    }

    @Test func catalogueListsEveryBuildablePolicy() throws {
        for info in RetryPolicy.catalogue where info.name != "custom" {
            let p = try RetryPolicy.make(name: info.name)
            #expect(p.name == info.name)
        }
        #expect(
            Set(RetryPolicy.catalogue.map(\.name)).isSuperset(of: [
                "azure-dotnet", "azure-java", "azure-node", "azure-c", "azure-python", "exponential", "full-jitter",
                "equal-jitter", "decorrelated-jitter", "fixed", "linear", "none", "custom",
            ])
        )
    }

    @Test func sameSeedSameDelays() throws {
        let p = try RetryPolicy.make(name: "decorrelated-jitter")
        var a = SplitMix64(seed: 77)
        var b = SplitMix64(seed: 77)
        #expect(p.delays(count: 20, using: &a) == p.delays(count: 20, using: &b))
    }
}

/// A strategy written in code: 1 s, 2 s, then give up.
struct TwoStepStrategy: RetryStrategy {
    var name: String { "two-step" }
    func delay(attempt: Int, previous: Duration?, using rng: inout some RandomNumberGenerator) -> Duration? {
        attempt <= 2 ? .seconds(Int64(attempt)) : nil
    }
}

@Suite("RetryStrategy in the library API")
struct RetryStrategyTests {
    @Test func aStrategyDrivesTheDeviceMachine() {
        var rng = SplitMix64(seed: 1)
        let policy = RetryPolicy.strategy(TwoStepStrategy())
        #expect(policy.name == "two-step")
        #expect(policy.delays(count: 3, using: &rng) == [.seconds(1), .seconds(2), nil])
        #expect(policy == RetryPolicy.strategy(TwoStepStrategy()))

        var s = Scenario()
        s.retry.policy = policy
        s.retry.throttled = policy
        var m = DeviceStateMachine(deviceID: "d", config: DeviceConfig(scenario: s), seed: 3)
        var actions: [DeviceAction] = []
        m.start(now: .zero, into: &actions)
        actions.removeAll()
        m.connectFailed(now: Instant(nanoseconds: 1_000_000), into: &actions)
        #expect(actions.last == .schedule(.backoff, Instant(nanoseconds: 1_001_000_000)))
    }
}
