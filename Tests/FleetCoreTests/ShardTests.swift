import Testing

@testable import FleetCore

/// `--shard I/N`: every device of the fleet in exactly one shard, with the id, seed index and cohort it has in one
/// big run; 1/N of the pacing; flags and Kubernetes' environment read as documented.
@Suite("Shards of a fleet")
struct ShardTests {
    func scenario(devices: Int, cohorts: [Int]) -> Scenario {
        var s = Scenario()
        s.fleet.devices = devices
        s.fleet.rampRate = 500
        s.fleet.maxInFlight = 500
        s.cohorts = cohorts.enumerated().map { i, n in
            Scenario.Cohort(name: "c\(i)", devices: n, retry: Scenario.Retry())
        }
        return s
    }

    /// Seeded random fleets, cohort splits and shard counts: the shards' ids, counted one by one, are the whole
    /// fleet's ids, each exactly once, in order; each cohort's devices over the shards add up to the cohort.
    @Test func shardsPartitionTheFleetExactly() throws {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<300 {
            let devices = 1 + Int(rng.next() % 3000)
            var cohorts: [Int] = []
            var left = devices
            while left > 0 && cohorts.count < 4 {
                let n = cohorts.count == 3 ? left : Int(rng.next() % UInt64(left + 1))
                cohorts.append(n)
                left -= n
            }
            if left > 0 { cohorts.append(left) }
            let whole = scenario(devices: devices, cohorts: rng.next() % 3 == 0 ? [] : cohorts)
            let n = 1 + Int(rng.next() % UInt64(min(devices, 40)))
            var ids: [String] = []
            var perCohort = Array(repeating: 0, count: whole.cohorts.count)
            var nextFirst = 0
            for i in 0..<n {
                let part = try whole.sharded(Shard(index: i, count: n))
                #expect(part.fleet.firstIndex == nextFirst, "shards are contiguous")
                nextFirst += part.fleet.devices
                for d in 0..<part.fleet.devices { ids.append(part.fleet.deviceID(d)) }
                #expect(part.effectiveCohorts.reduce(0) { $0 + $1.devices } == part.fleet.devices)
                for (c, cohort) in part.cohorts.enumerated() { perCohort[c] += cohort.devices }
                #expect(abs(part.fleet.rampRate * Double(n) - whole.fleet.rampRate) < 1e-9)
                #expect(part.fleet.maxInFlight >= 1 && part.fleet.maxInFlight * n >= whole.fleet.maxInFlight)
                #expect(part.fleet.shard == Shard(index: i, count: n))
            }
            let expected = (0..<devices).map { whole.fleet.deviceID($0) }
            #expect(ids == expected, "\(devices) devices over \(n) shards")
            #expect(perCohort == whole.cohorts.map(\.devices))
        }
    }

    @Test func aShardCohortKeepsItsPlaceInTheFleet() throws {
        // Devices 0..<10 are cohort a, 10..<30 cohort b; shard 1/3 holds 10..<20: all of it cohort b.
        let part = try scenario(devices: 30, cohorts: [10, 20]).sharded(Shard(index: 1, count: 3))
        #expect(part.cohorts.map(\.devices) == [0, 10])
        #expect(part.fleet.deviceID(0) == "device-00010")
    }

    @Test func explicitSourceAddressesAreSplitWhenThereAreEnough() throws {
        var s = scenario(devices: 100, cohorts: [])
        s.fleet.sourceAddresses = (2...9).map { "127.0.0.\($0)" }
        #expect(try s.sharded(Shard(index: 1, count: 4)).fleet.sourceAddresses == ["127.0.0.4", "127.0.0.5"])
        s.fleet.sourceAddresses = ["127.0.0.2"]
        #expect(try s.sharded(Shard(index: 3, count: 4)).fleet.sourceAddresses == ["127.0.0.2"], "too few: shared")
    }

    @Test func moreShardsThanDevicesIsRefused() {
        #expect(throws: ShardError.self) { try scenario(devices: 3, cohorts: []).sharded(Shard(index: 0, count: 4)) }
    }

    @Test func parseAcceptsIOverNOnly() throws {
        #expect(try Shard.parse("2/4").get() == Shard(index: 2, count: 4))
        for bad in ["4/4", "-1/4", "1", "1/0", "a/b", "1/2/3", ""] {
            guard case .failure(let e) = Shard.parse(bad) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(e.description.contains("\"\(bad)\""), "\(e)")
        }
    }

    @Test func kubernetesIndexComesFromTheEnvironment() throws {
        let env = ["JOB_COMPLETION_INDEX": "3"]
        #expect(try Shard.resolve(shard: nil, shards: "4", environment: env).get() == Shard(index: 3, count: 4))
        #expect(
            try Shard.resolve(
                shard: nil,
                shards: nil,
                environment: env.merging(["FLEETSTORM_SHARDS": "5"]) { a, _ in a }
            )
            .get() == Shard(index: 3, count: 5)
        )
        #expect(
            try Shard.resolve(shard: nil, shards: nil, environment: env).get() == nil,
            "an index alone shards nothing"
        )
        #expect(try Shard.resolve(shard: "1/2", shards: nil, environment: env).get() == Shard(index: 1, count: 2))
        let failures: [(String?, String?, [String: String], String)] = [
            (nil, "4", [:], "JOB_COMPLETION_INDEX"),
            (nil, "4", ["JOB_COMPLETION_INDEX": "4"], "below 4"),
            (nil, "zero", env, "number of shards"),
            ("1/2", "2", env, "not both"),
            (nil, nil, ["FLEETSTORM_SHARDS": "0", "JOB_COMPLETION_INDEX": "0"], "FLEETSTORM_SHARDS 0"),
        ]
        for (shard, shards, environment, words) in failures {
            guard case .failure(let e) = Shard.resolve(shard: shard, shards: shards, environment: environment) else {
                Issue.record("accepted \(String(describing: shard)) \(String(describing: shards)) \(environment)")
                continue
            }
            #expect(e.description.contains(words), "\(e)")
        }
    }

    @Test func sourceAddressRangesExpandInOrder() throws {
        let all = try SourceAddresses.expand(["127.0.0.2-127.0.0.4", "::1", "10.0.0.255-10.0.1.1"]).get()
        #expect(all == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "::1", "10.0.0.255", "10.0.1.0", "10.0.1.1"])
        let bad: [(String, String)] = [
            ("127.0.0.9-127.0.0.2", "above its last"), ("127.0.0.1-x", "range of IPv4"), ("host", "not an IP"),
            ("10.0.0.0-10.255.255.255", "more than"),
        ]
        for (item, words) in bad {
            guard case .failure(let e) = SourceAddresses.expand(["127.0.0.1", item]) else {
                Issue.record("\(item) accepted")
                continue
            }
            #expect(e.item == 2 && e.message.contains(words), "\(e.message)")
        }
    }

    @Test func profileRangesAndTheirErrorsNameTheKey() throws {
        let yaml = "fleet: {devices: 10, source_addresses: [\"127.0.0.2-127.0.0.5\"]}\n"
        let s = try ScenarioLoader().load(yaml: yaml, source: "p.yaml")
        #expect(s.fleet.sourceAddresses.count == 4)
        do {
            _ = try ScenarioLoader().load(
                yaml: "fleet: {source_addresses: [\"127.0.0.5-127.0.0.2\"]}\n",
                source: "p.yaml"
            )
            Issue.record("a reversed range loaded")
        } catch {
            #expect(error.description.contains("source_addresses") && error.description.contains("item 1"))
        }
    }

    @Test func servesProfileNeedsAnExternalHubAndAllowsHubSideKeys() throws {
        let ok = """
            hub: {url: "mqtt://127.0.0.1:1883", serves_profile: true, c2d_interval: 5s, tier: S1}
            faults: [{at: 1s, kind: outage, for: 2s, fraction: 0.5}]
            """
        let s = try ScenarioLoader().load(yaml: ok, source: "p.yaml")
        #expect(s.hubServesProfile && s.faults.count == 1)
        for bad in [
            "hub: {serves_profile: true}", "hub: {url: \"mqtt://h:1\", serves_profile: true, fault_proxy: true}",
        ] {
            do {
                _ = try ScenarioLoader().load(yaml: bad, source: "p.yaml")
                Issue.record("\(bad) loaded")
            } catch { #expect(error.description.contains("serves_profile"), "\(error)") }
        }
    }

    /// Shards of a run and partitions of a simulation take one rule for their share of the pace: the ramp rate
    /// divided, the connect window divided and rounded up (never below 1), so the parts never pace slower together.
    @Test("one pace share for shards and simulation partitions", arguments: [1, 2, 3, 7, 500, 2_000])
    func paceShare(parts: Int) throws {
        var fleet = Scenario.Fleet()
        fleet.devices = 10_000
        fleet.rampRate = 1_000
        fleet.maxInFlight = 500
        let pace = fleet.pace(share: parts)
        #expect(abs(pace.rampRate * Double(parts) - 1_000) < 1e-9)
        #expect(pace.window >= 1 && pace.window * parts >= 500 && (pace.window - 1) * parts < 500)
        var whole = try ScenarioLoader().load(
            yaml: "fleet: {devices: 10000, ramp_rate: 1000, max_in_flight: 500}\n",
            source: "p.yaml"
        )
        whole.fleet.adaptiveWindow = false
        let shard = try whole.sharded(Shard(index: 0, count: parts))
        #expect(shard.fleet.maxInFlight == pace.window && shard.fleet.rampRate == pace.rampRate)
        #expect(fleet.pace(share: 0) == fleet.pace(share: 1), "no share of zero parts")
    }
}
