public import FleetCore
internal import FleetEngine
internal import FleetHub
internal import FleetHubCore
public import FleetReport
internal import FleetSim
internal import Foundation
internal import Synchronization

/// Why a sweep cannot run, in one line that names the flag, key or value.
public struct TuneError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where a sweep is, for the progress line.
public struct TuneProgress: Sendable {
    /// Runs finished and planned.
    public var done: Int
    public var total: Int
    /// The setting and seed running now.
    public var setting: String
    public var seed: UInt64
}

/// `fleetstorm tune` as one library entry point: a grid of settings (any profile keys) × seeds, each run simulated
/// (FleetSim) or real (sequential, each bounded by the profile's duration), ranked under an objective into one
/// report (`run.kind` "tune") that `report` renders as text or HTML.
public struct TuneService: Sendable {
    /// One swept key and its values.
    public struct Axis: Sendable, Hashable {
        public var key: String
        public var values: [String]

        public init(key: String, values: [String]) {
            self.key = key
            self.values = values
        }

        /// `--vary key=v1,v2,...` (commas inside brackets belong to a value: `retry.delays=[1s,2s],[5s]`).
        public static func parse(_ text: String) throws(TuneError) -> Axis {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw TuneError(
                    "--vary \(Scenario.redactOverride(text)): expected key=value1,value2 (e.g. retry.base=100ms,1s)"
                )
            }
            let key = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
            guard !Scenario.isSecret(key: key) else {
                throw TuneError("--vary \(key): a secret cannot be swept (its values would appear in the report)")
            }
            var values: [String] = []
            var current = ""
            var depth = 0
            for ch in text[text.index(after: eq)...] {
                switch ch {
                case "[", "{": depth += 1
                case "]", "}": depth -= 1
                default: break
                }
                if ch == "," && depth == 0 {
                    values.append(current.trimmingCharacters(in: .whitespaces))
                    current = ""
                } else {
                    current.append(ch)
                }
            }
            values.append(current.trimmingCharacters(in: .whitespaces))
            guard !values.contains(where: \.isEmpty) else {
                throw TuneError("--vary \(key): an empty value in \"\(text[text.index(after: eq)...])\"")
            }
            guard Set(values).count == values.count else {
                throw TuneError("--vary \(key): a value is listed twice")
            }
            return Axis(key: key, values: values)
        }
    }

    public enum Mode: String, Sendable, CaseIterable {
        case simulate
        case real
    }

    public var profile: String
    /// Overrides every point shares (`--devices`, `--seed`, `--set`), before the swept keys.
    public var overrides: [String]
    public var axes: [Axis]
    public var repeats = 3
    public var mode = Mode.simulate
    /// nil: `recovery` when a connect limit is known, else `t99`.
    public var objective: TuneObjective?
    /// `--max-connect-rate`; or `--tier`/`--units` (the tier's connect throttle); else the profile's `hub.tier`.
    public var maxConnectRate: Double?
    public var tier: (name: String, units: Int)?
    public var progress: (@Sendable (TuneProgress) -> Void)?

    public init(profile: String, overrides: [String], axes: [Axis]) {
        self.profile = profile
        self.overrides = overrides
        self.axes = axes
    }

    /// One grid point: its values and its scenario (validated), before seeds.
    public struct Point: Sendable {
        public var values: [String]
        public var overrides: [String]
        public var scenario: Scenario
    }

    /// Every grid point, each loaded once so a bad key or value is one error before anything runs.
    public func plan() throws(TuneError) -> [Point] {
        guard !axes.isEmpty else { throw TuneError("nothing to sweep: give at least one --vary key=v1,v2") }
        let keys = axes.map(\.key)
        if let dup = keys.first(where: { k in keys.filter { $0 == k }.count > 1 }) {
            throw TuneError("--vary \(dup) is given twice: list all its values in one --vary")
        }
        for key in keys where ["seed", "fleet.devices"].contains(key) {
            throw TuneError(
                "--vary \(key): \(key == "seed" ? "seeds are the repeats (--repeat K)" : "sweep settings at one fleet size (--devices N)")"
            )
        }
        guard repeats >= 1 && repeats <= 100 else { throw TuneError("--repeat \(repeats): expected 1 to 100") }
        var grid: [[String]] = [[]]
        for axis in axes { grid = grid.flatMap { prefix in axis.values.map { prefix + [$0] } } }
        guard grid.count * repeats <= 10_000 else {
            throw TuneError("the grid has \(grid.count) settings × \(repeats) seeds; keep it under 10,000 runs")
        }
        return try grid.map { values throws(TuneError) in
            let items = zip(keys, values).map { "\($0)=\($1)" }
            do {
                let scenario = try ScenarioLoader.files.load(path: profile, overrides: overrides + items)
                if let why = scenario.needsNetlab { throw TuneError(why) }
                if mode == .real && scenario.fleet.devices > 19_000 {
                    throw TuneError(
                        "--real runs one process of at most ~19,000 devices; use --simulate for \(scenario.fleet.devices)"
                    )
                }
                return Point(values: values, overrides: overrides + items, scenario: scenario)
            } catch let error as TuneError {
                throw error
            } catch {
                throw TuneError("--vary \(items.joined(separator: " ")): \(error)")
            }
        }
    }

    /// The connect limit the ranking respects, and where it came from.
    func limit(base: Scenario) throws(TuneError) -> (Double, String)? {
        if let maxConnectRate {
            guard maxConnectRate > 0 else { throw TuneError("--max-connect-rate must be above 0") }
            return (maxConnectRate, "--max-connect-rate")
        }
        if let tier {
            guard let t = HubQuotas.Tier(rawValue: tier.name.uppercased()) else {
                throw TuneError("--tier \(tier.name): expected one of \(Scenario.Quota.tiers.joined(separator: ", "))")
            }
            guard tier.units >= 1 && tier.units <= 200 else {
                throw TuneError("--units \(tier.units): expected 1 to 200")
            }
            return (HubQuotas(tier: t, units: tier.units).rate, "\(t.rawValue) × \(tier.units) units")
        }
        if let quotas = HubQuotas(base.quota) {
            return (quotas.rate, "the profile's \(quotas.tier.rawValue) × \(quotas.units) units")
        }
        return nil
    }

    /// Runs the grid and builds the report. Cancelling the task stops after the run in progress (simulations
    /// stop at once); the report ranks what finished.
    public func run() async throws(TuneError) -> Fleetstorm_Report_V1_Report {
        let points = try plan()
        let base = points[0].scenario
        let limit = try limit(base: base)
        let objective = objective ?? (limit == nil ? .t99 : .recovery)
        if objective == .recovery && limit == nil {
            throw TuneError(
                "--objective recovery needs the hub's connect limit: --max-connect-rate R, or --tier S1 --units N"
            )
        }
        var results: [TunePointRuns] = []
        var done = 0
        let total = points.count * repeats
        outer: for point in points {
            var runs = TunePointRuns(values: point.values)
            for k in 0..<repeats {
                if Task.isCancelled { break outer }
                var scenario = point.scenario
                scenario.seed = point.scenario.seed &+ UInt64(k)
                let setting = zip(axes.map(\.key), point.values).map { "\($0)=\($1)" }.joined(separator: " ")
                progress?(TuneProgress(done: done, total: total, setting: setting, seed: scenario.seed))
                let report = try await runOne(scenario, overrides: point.overrides + ["seed=\(scenario.seed)"])
                guard let storm = TuneRanking.mainStorm(report) else {
                    throw TuneError("\(setting): the run produced no storm record")
                }
                runs.runs.append(.init(seed: scenario.seed, storm: storm, lost: report.accounting.failed))
                done += 1
            }
            if !runs.runs.isEmpty { results.append(runs) }
        }
        progress?(TuneProgress(done: done, total: total, setting: "", seed: 0))
        let setup = TuneRanking.Setup(
            keys: axes.map(\.key),
            objective: objective,
            limit: limit?.0,
            limitSource: limit?.1 ?? "",
            mode: mode.rawValue,
            repeats: repeats,
            devices: base.fleet.devices
        )
        var report = Fleetstorm_Report_V1_Report()
        report.run.kind = "tune"
        report.run.profileName = base.name
        report.run.devices = UInt64(base.fleet.devices)
        report.run.seed = base.seed
        report.run.mqttVersion = base.mqtt.version.description
        report.run.toolVersion = ReportBuilder.toolVersion
        report.run.schemaVersion = ReportBuilder.schemaVersion
        report.run.cancelled = done < total
        report.run.target = mode == .simulate ? SimulateService.modelDescription(base) : base.hub.description
        report.scenario.yaml = base.redactedYAML
        report.scenario.profile = profile
        report.scenario.overrides = Scenario.redactOverrides(overrides)
        report.tune = TuneRanking.build(setup, points: results)
        return report
    }

    private func runOne(
        _ scenario: Scenario,
        overrides: [String]
    ) async throws(TuneError) -> Fleetstorm_Report_V1_Report {
        switch mode {
        case .simulate:
            let service = SimulateService(scenario: scenario, profile: profile, overrides: overrides)
            return await SimulationThread.run(service).report
        case .real:
            do {
                return try await RunService(scenario: scenario, profile: profile, overrides: overrides).run().report
            } catch {
                throw TuneError("\(overrides.suffix(axes.count + 1).joined(separator: " ")): \(error)")
            }
        }
    }
}

/// Runs a simulation on a thread of its own (it is one long computation, not to be run on the cooperative pool);
/// cancelling the calling task stops it as Ctrl-C stops a run: devices stop and the report is kept.
public enum SimulationThread {
    public static func run(_ service: SimulateService) async -> SimulateService.Outcome {
        let stop = StopFlag()
        var configured = service
        let outer = service.shouldCancel
        configured.shouldCancel = { stop.isSet || outer() }
        let job = configured
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: job.run()) }
            }
        } onCancel: {
            stop.set()
        }
    }
}

final class StopFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
