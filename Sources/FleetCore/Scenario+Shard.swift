/// One process's share of a fleet split over several (`fleetstorm run --shard I/N`): a contiguous range of device
/// indices, so ids, keys, seeds and cohorts are exactly those of the same devices in one big run.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// 0-based.
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    /// Parses `I/N` (0 ≤ I < N). Errors say what was expected.
    public static func parse(_ text: String) -> Result<Shard, ShardError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            return .failure(ShardError("\"\(text)\" is not I/N, e.g. 0/4 for the first of four shards"))
        }
        guard n >= 1, (0..<n).contains(i) else {
            return .failure(
                ShardError(
                    "\"\(text)\": the index counts from 0 and must be below the count (0/\(max(n, 1)) … \(max(n, 1) - 1)/\(max(n, 1)))"
                )
            )
        }
        return .success(Shard(index: i, count: n))
    }

    /// The device indices of this shard among `devices`: `devices·I/N ..< devices·(I+1)/N`.
    public func range(of devices: Int) -> Range<Int> {
        (devices * index / count)..<(devices * (index + 1) / count)
    }
}

/// A shard that cannot be taken (one line for the user).
public struct ShardError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Scenario {
    /// The scenario one shard runs: its devices (ids and per-device seeds from their place in the whole fleet), each
    /// cohort cut to the shard's range (a cohort outside it stays, with 0 devices, so merged reports line up), and a
    /// 1/N share of the ramp rate and of the connect window, so N shards together pace like one process.
    public func sharded(_ shard: Shard) throws(ShardError) -> Scenario {
        guard shard.count <= fleet.devices else {
            throw ShardError(
                "\(shard.count) shards for \(fleet.devices) devices: use at most as many shards as devices"
            )
        }
        let range = shard.range(of: fleet.devices)
        var s = self
        s.fleet.shard = shard
        s.fleet.firstIndex = fleet.firstIndex + range.lowerBound
        s.fleet.wholeFleetDevices = fleet.wholeFleetDevices ?? fleet.devices
        s.fleet.devices = range.count
        let pace = fleet.pace(share: shard.count)
        s.fleet.rampRate = pace.rampRate
        // A fixed window is split; an adaptive one keeps 1/N of what may wait at the hub (`ConnectWindow(cap:share:)`).
        if !fleet.adaptiveWindow { s.fleet.maxInFlight = pace.window }
        if !cohorts.isEmpty {
            var start = 0
            s.cohorts = cohorts.map { c in
                let own = start..<(start + c.devices)
                start += c.devices
                var cut = c
                cut.devices = max(0, min(own.upperBound, range.upperBound) - max(own.lowerBound, range.lowerBound))
                return cut
            }
        }
        // Explicit source addresses: each shard takes its contiguous share when there are enough to go round.
        let sources = fleet.sourceAddresses
        if sources.count >= shard.count {
            s.fleet.sourceAddresses = Array(sources[shard.range(of: sources.count)])
        }
        return s
    }
}

extension Shard {
    /// The environment variable a Kubernetes Indexed Job sets to each pod's index.
    public static let indexVariable = "JOB_COMPLETION_INDEX"
    /// The environment variable that gives the shard count when no flag does.
    public static let countVariable = "FLEETSTORM_SHARDS"

    /// This process's shard from `--shard I/N`, or from `--shards N` (else `FLEETSTORM_SHARDS`) with the index in
    /// `JOB_COMPLETION_INDEX`; nil when none of them says the fleet is sharded.
    public static func resolve(
        shard: String?,
        shards: String?,
        environment: [String: String]
    ) -> Result<Shard?, ShardError> {
        if let shard {
            if shards != nil { return .failure(ShardError("use --shard I/N or --shards N, not both")) }
            return parse(shard).map { $0 }
        }
        let (countText, source) = shards.map { ($0, "--shards") } ?? (environment[countVariable], countVariable)
        guard let countText else { return .success(nil) }
        guard let n = Int(countText), n >= 1 else {
            return .failure(ShardError("\(source) \(countText): expected the number of shards, e.g. 4"))
        }
        guard let indexText = environment[indexVariable] else {
            return .failure(
                ShardError(
                    "\(source) \(n): the shard index comes from \(indexVariable) (a Kubernetes Indexed Job sets it), "
                        + "which is not set; on one host use --shard I/\(n) or --processes \(n)"
                )
            )
        }
        guard let i = Int(indexText), (0..<n).contains(i) else {
            return .failure(ShardError("\(indexVariable)=\(indexText) is not a shard index below \(n)"))
        }
        return .success(Shard(index: i, count: n))
    }
}

extension Scenario {
    /// Why this scenario cannot run here without `fleetstorm netlab`: its network faults (link-down, switch-uplink,
    /// ...) need the fleet and the hub in namespaces netlab builds. nil when it has none, or when a hub in another
    /// process (`hub.serves_profile`) and netlab play them.
    public var needsNetlab: String? {
        let network = faults.filter(\.kind.isNetwork)
        guard !network.isEmpty, !hubServesProfile else { return nil }
        return
            "\(network.map(\.label).joined(separator: ", ")) \(network.count == 1 ? "is a network fault" : "are network faults"): "
            + "run the profile with `fleetstorm netlab run` (root), which puts the fleet and the hub in network "
            + "namespaces and breaks their links in the kernel"
    }
}

extension Scenario.Fleet {
    /// One of `parts` equal shares of the fleet's pace — shards of a run, partitions of a simulation: 1/parts of the
    /// ramp rate, and of the connect window rounded up (at least 1), so the parts together never pace slower than the
    /// whole. The one rule both use.
    public func pace(share parts: Int) -> (rampRate: Double, window: Int) {
        let n = max(1, parts)
        return (rampRate / Double(n), max(1, (maxInFlight + n - 1) / n))
    }
}
