public import FleetCore
public import FleetEngine
public import FleetReport
internal import Foundation
internal import Synchronization

/// How `run --processes N` splits a fleet over this host: N shard processes, and hub worker processes when the
/// profile's hub is the embedded one (each hub worker holds one socket per device it serves). Pure arithmetic: a
/// plan that cannot fit is refused naming the limit and what to change.
public struct LocalShardPlan: Sendable, Hashable {
    public var shards: Int
    /// Hub worker processes (0: the devices use an external hub).
    public var hubWorkers: Int
    /// The most devices one shard gets.
    public var devicesPerShard: Int

    /// Share of a hub worker's descriptors the plan fills: SO_REUSEPORT spreads connections by hash, not evenly.
    public static let hubFill = 0.8

    public static func make(
        scenario: Scenario,
        processes: Int,
        hubWorkers: Int?,
        limits: Preflight.Limits
    ) throws(FleetRunError) -> LocalShardPlan {
        let devices = scenario.fleet.devices
        guard processes >= 1, processes <= devices else {
            throw FleetRunError(.shard, "--processes \(processes): use 1 … \(devices) (at most one per device)")
        }
        let perShard = (devices + processes - 1) / processes
        // Each shard's plan as it will check it itself (no in-process hub: the shards share the hub workers).
        let sources = scenario.fleet.sourceAddresses.count
        let shardSources = sources >= processes ? (sources + processes - 1) / processes : sources
        let loopbackHub = scenario.hub.isEmbedded || scenario.hub.hostAndPort?.host.hasPrefix("127.") == true
        try Preflight.check(
            devices: perShard,
            sourceAddresses: shardSources == 0 && loopbackHub ? SourcePool.count(devices: perShard) : shardSources,
            embeddedHub: false,
            proxy: scenario.faultProxy,
            limits: limits
        )
        guard scenario.hub.isEmbedded else {
            if let hubWorkers, hubWorkers > 0 {
                throw FleetRunError(
                    .shard,
                    "--hub-workers \(hubWorkers) needs the embedded hub: drop --hub, or drop --hub-workers"
                )
            }
            return LocalShardPlan(shards: processes, hubWorkers: 0, devicesPerShard: perShard)
        }
        if scenario.tls != nil || scenario.hub.webSocketPath != nil || scenario.hub.https || scenario.anyAMQP {
            // The hub workers listen for plain MQTT only (they are started with --listen).
            throw FleetRunError(
                .shard,
                "--processes with the embedded hub serves plain MQTT: for TLS, WebSockets, HTTPS or AMQP start "
                    + "`fleetstorm hub --workers W` with those listeners and give the run --hub"
            )
        }
        let perWorker = Int(Double(limits.descriptors - DescriptorBudget.overhead) * hubFill)
        let needed = max(1, (devices + perWorker - 1) / perWorker)
        let workers = hubWorkers ?? needed
        guard workers >= needed else {
            throw FleetRunError(
                .descriptorLimit,
                "--hub-workers \(workers): \(devices) devices need at least \(needed) hub workers "
                    + "(each holds ≤ \(perWorker) connections under the descriptor limit \(limits.descriptors))"
            )
        }
        return LocalShardPlan(shards: processes, hubWorkers: workers, devicesPerShard: perShard)
    }
}

/// `fleetstorm run --processes N`: the same binary as N shard processes (`run --shard I/N --start-at T`), and for
/// the embedded hub one `hub --workers W --profile` process they all connect to; one combined progress line; Ctrl-C
/// (cancelling the calling task) forwarded to every child; their reports merged into one, with a shard that died
/// named in it with its exit status and the others' data kept.
public struct LocalShardsService: Sendable {
    public var executable: String
    public var profile: String
    /// The whole fleet (validated), for the plan.
    public var scenario: Scenario
    /// Profile overrides (`key=value`) every child gets as `--set`.
    public var overrides: [String]
    public var plan: LocalShardPlan
    public var startAtUnixNanoseconds: Int64?
    /// Where the children's reports go (kept for the user: each shard's own report, the hub's).
    public var directory: String
    public var progress: (@Sendable (FleetProgress) -> Void)?
    /// Lines for the user: children's errors and notes, prefixed with their name.
    public var log: @Sendable (String) -> Void

    public init(
        executable: String,
        profile: String,
        scenario: Scenario,
        overrides: [String],
        plan: LocalShardPlan,
        directory: String,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.executable = executable
        self.profile = profile
        self.scenario = scenario
        self.overrides = overrides
        self.plan = plan
        self.directory = directory
        self.log = log
    }

    /// How long the children get to start before the shared start instant.
    static let startupAllowance: Duration = .seconds(4)

    public func run() async throws -> Fleetstorm_Report_V1_Report {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw FleetRunError(
                .shard,
                "cannot create \(directory) for the shard reports: \(error.localizedDescription)"
            )
        }
        let startAt =
            startAtUnixNanoseconds
            ?? Int64(Date().timeIntervalSince1970 * 1e9) + Self.startupAllowance.nanoseconds
        let sets = overrides.flatMap { ["--set", $0] }
        let seconds = startAtArgument(startAt)
        var hub: ChildProcess?
        var hubURL: String?
        let hubOutput = directory + "/hub.pb"
        if plan.hubWorkers > 0 {
            try? FileManager.default.removeItem(atPath: hubOutput)
            let listening = ListeningLines()
            let log = self.log
            let child: ChildProcess
            do {
                child = try ChildProcess(
                    label: "hub",
                    executable: executable,
                    arguments: ["hub", "--profile", profile] + sets + [
                        "--workers", String(plan.hubWorkers), "--listen", "127.0.0.1:0", "--start-at", seconds,
                        "--duration", Self.seconds(scenario.duration + .seconds(120)), "--output", hubOutput,
                    ],
                    onLine: { line in
                        if !listening.note(line) && !quietLine(line) { log("[hub] \(line)") }
                    }
                )
            } catch { throw FleetRunError(.hubFailed, "cannot start the hub process: \(error.localizedDescription)") }
            hub = child
            guard let url = await listening.wait(count: 1, child: child, timeout: .seconds(60))?.first else {
                child.interrupt()
                let exit = await child.exit()
                throw FleetRunError(.hubFailed, "the hub workers did not start (\(exit)): see the [hub] lines above")
            }
            hubURL = url
        }
        let board = ProgressBoard(shards: plan.shards)
        var shards: [ChildProcess] = []
        for i in 0..<plan.shards {
            let output = "\(directory)/shard-\(i).pb"
            try? FileManager.default.removeItem(atPath: output)
            var arguments = ["run", profile] + sets
            if let hubURL { arguments += ["--set", "hub.url=\(hubURL)", "--set", "hub.serves_profile=true"] }
            arguments += [
                "--shard", "\(i)/\(plan.shards)", "--start-at", seconds, "--output", output, "--progress-json",
            ]
            let log = self.log
            do {
                shards.append(
                    try ChildProcess(label: "shard \(i)", executable: executable, arguments: arguments) { line in
                        if !board.note(line, shard: i) && !quietLine(line) { log("[shard \(i)] \(line)") }
                    }
                )
            } catch {
                for s in shards { s.interrupt() }
                hub?.interrupt()
                throw FleetRunError(.shard, "cannot start shard \(i): \(error.localizedDescription)")
            }
        }
        let children = shards
        let progress = self.progress
        var exits: [ChildProcess.Exit] = []
        await withTaskGroup(of: Void.self) { group in
            if let progress {
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if let p = board.combined() { progress(p) }
                    }
                }
            }
            await withTaskCancellationHandler {
                for s in children { exits.append(await s.exit()) }
            } onCancel: {
                for s in children { s.interrupt() }
            }
            group.cancelAll()
        }
        hub?.interrupt()
        let hubExit = await hub?.exit()
        return try collect(exits: exits, errors: board.lastErrors(), hub: hub == nil ? nil : (hubOutput, hubExit))
    }

    /// Reads every report there is and merges them; shards that failed are named with their exit status.
    private func collect(
        exits: [ChildProcess.Exit],
        errors: [Int: String],
        hub: (path: String, exit: ChildProcess.Exit?)?
    ) throws -> Fleetstorm_Report_V1_Report {
        var reports: [(name: String, report: Fleetstorm_Report_V1_Report)] = []
        var failed: [Int: (status: String, detail: String)] = [:]
        for (i, exit) in exits.enumerated() {
            let path = "\(directory)/shard-\(i).pb"
            if let r = try? ReportFile.read(path) { reports.append((path, r)) }
            if !exit.succeeded { failed[i] = (exit.description, errors[i] ?? "") }
        }
        guard !reports.isEmpty else {
            let first = failed.sorted { $0.key < $1.key }.first
            throw FleetRunError(
                .shard,
                "no shard wrote a report (shard \(first?.key ?? 0) \(first?.value.status ?? "failed")"
                    + "\((first?.value.detail).map { $0.isEmpty ? "" : ": \($0)" } ?? ""))"
            )
        }
        if let hub {
            if let r = try? ReportFile.read(hub.path) {
                reports.append((hub.path, r))
            } else {
                log(
                    "[hub] no hub report (\(hub.exit?.description ?? "did not end")): the merged report has no hub side"
                )
            }
        }
        do { return try ReportMerge.merge(reports, failed: failed) } catch {
            throw FleetRunError(.shard, "merging the shard reports: \(error.description)")
        }
    }

    static func seconds(_ d: Duration) -> String { "\(d.components.seconds)s" }
}

/// The shards' latest progress (`--progress-json` lines) and last error lines.
final class ProgressBoard: Sendable {
    static let prefix = "progress "
    private let state: Mutex<(latest: [FleetProgress?], errors: [Int: String])>

    init(shards: Int) { state = Mutex((Array(repeating: nil, count: shards), [:])) }

    /// True when `line` was a progress line.
    func note(_ line: String, shard: Int) -> Bool {
        if line.hasPrefix(Self.prefix) {
            if let p = try? JSONDecoder().decode(FleetProgress.self, from: Data(line.dropFirst(Self.prefix.count).utf8))
            {
                state.withLock { $0.latest[shard] = p }
            }
            return true
        }
        if line.hasPrefix("error: ") { state.withLock { $0.errors[shard] = String(line.dropFirst(7)) } }
        return false
    }

    /// The fleet's progress: counts summed, the slowest elapsed, the worst p99 and health.
    func combined() -> FleetProgress? {
        let all = state.withLock { $0.latest.compactMap { $0 } }
        guard var total = all.first else { return nil }
        for p in all.dropFirst() {
            total.elapsed = max(total.elapsed, p.elapsed)
            total.devices += p.devices
            total.started += p.started
            total.finished += p.finished
            total.connectedNow += p.connectedNow
            total.connectAttempts += p.connectAttempts
            total.generated += p.generated
            total.acked += p.acked
            total.failed += p.failed
            total.refused += p.refused
            total.reconnects += p.reconnects
            total.retries += p.retries
            total.publishAckP99Nanoseconds = max(total.publishAckP99Nanoseconds, p.publishAckP99Nanoseconds)
            total.loopLagP99Nanoseconds = max(total.loopLagP99Nanoseconds, p.loopLagP99Nanoseconds)
            total.lateSendFraction = max(total.lateSendFraction, p.lateSendFraction)
            total.openDescriptors = max(total.openDescriptors, p.openDescriptors)
        }
        return total
    }

    func lastErrors() -> [Int: String] { state.withLock { $0.errors } }
}

/// Lines of a child not worth repeating: blank ones, and the note it prints when the parent stops it.
func quietLine(_ line: String) -> Bool {
    line.allSatisfy(\.isWhitespace) || line.hasPrefix("stopping (signal received)")
}
