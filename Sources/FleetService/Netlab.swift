public import FleetCore
public import FleetEngine
public import FleetReport
internal import Foundation

/// Why netlab could not run (one line, with what to do).
public struct NetlabError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `fleetstorm netlab run`: the hub and the fleet in network namespaces of their own, joined by two veth uplinks
/// (`NetlabPlan`); the profile's network faults executed in the kernel at their times (nftables sets, routes,
/// addresses), its hub faults played by the hub; one report. Everything it creates is removed when it ends — also
/// after Ctrl-C (cancel the calling task) or an error; a crash leaves namespaces that `netlab clean` (or the next
/// netlab run) removes.
public struct NetlabService: Sendable {
    public var executable: String
    public var profile: String
    public var scenario: Scenario
    /// Profile overrides every child gets as `--set`.
    public var overrides: [String]
    public var directory: String
    public var progress: (@Sendable (FleetProgress) -> Void)?
    public var log: @Sendable (String) -> Void

    public init(
        executable: String,
        profile: String,
        scenario: Scenario,
        overrides: [String],
        directory: String,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.executable = executable
        self.profile = profile
        self.scenario = scenario
        self.overrides = overrides
        self.directory = directory
        self.log = log
    }

    public func run() async throws -> Fleetstorm_Report_V1_Report {
        if let problem = Self.prerequisites() { throw NetlabError(problem) }
        if scenario.fleet.devices > 9_000 {
            throw NetlabError(
                "netlab runs one fleet process: at most 9,000 devices (fleet.devices is \(scenario.fleet.devices))"
            )
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw NetlabError("cannot create \(directory) for the reports: \(error.localizedDescription)")
        }
        Self.clean(log: log)
        let plan = NetlabPlan(owner: getpid())
        for command in plan.setup {
            if let failure = Self.execute(command) {
                for c in plan.teardown { _ = Self.execute(c) }
                throw NetlabError("building the namespaces failed (\(command.joined(separator: " "))): \(failure)")
            }
        }
        do {
            let report = try await drive(plan)
            for c in plan.teardown { _ = Self.execute(c) }
            return report
        } catch {
            for c in plan.teardown { _ = Self.execute(c) }
            throw error
        }
    }

    private func drive(_ plan: NetlabPlan) async throws -> Fleetstorm_Report_V1_Report {
        let url = "mqtt://\(NetlabPlan.hubAddress):\(NetlabPlan.hubPort)"
        let sets = (overrides + ["hub.url=\(url)", "hub.serves_profile=true"]).flatMap { ["--set", $0] }
        let startAt = Int64(Date().timeIntervalSince1970 * 1e9) + 3_000_000_000
        let seconds = startAtArgument(startAt)
        let (hubOutput, fleetOutput) = (directory + "/hub.pb", directory + "/fleet.pb")
        for f in [hubOutput, fleetOutput] { try? FileManager.default.removeItem(atPath: f) }
        let log = self.log
        let listening = ListeningLines()
        let hub: ChildProcess
        do {
            hub = try ChildProcess(
                label: "hub",
                executable: "/usr/sbin/ip",
                arguments: ["netns", "exec", plan.hubNamespace, executable, "hub", "--profile", profile] + sets + [
                    "--listen", "\(NetlabPlan.hubAddress):\(NetlabPlan.hubPort)", "--start-at", seconds,
                    "--duration", LocalShardsService.seconds(scenario.duration + .seconds(120)), "--output", hubOutput,
                ],
                onLine: { line in if !listening.note(line) && !quietLine(line) { log("[hub] \(line)") } }
            )
        } catch { throw NetlabError("cannot start the hub in \(plan.hubNamespace): \(error.localizedDescription)") }
        guard await listening.wait(count: 1, child: hub, timeout: .seconds(30)) != nil else {
            hub.interrupt()
            throw NetlabError(
                "the hub did not start in \(plan.hubNamespace) (\(await hub.exit())): see the [hub] lines"
            )
        }
        let board = ProgressBoard(shards: 1)
        let fleet: ChildProcess
        do {
            fleet = try ChildProcess(
                label: "fleet",
                executable: "/usr/sbin/ip",
                arguments: ["netns", "exec", plan.fleetNamespace, executable, "run", profile] + sets + [
                    "--start-at", seconds, "--output", fleetOutput, "--progress-json",
                ],
                onLine: { line in if !board.note(line, shard: 0) && !quietLine(line) { log("[fleet] \(line)") } }
            )
        } catch {
            hub.interrupt()
            throw NetlabError("cannot start the fleet in \(plan.fleetNamespace): \(error.localizedDescription)")
        }
        let progress = self.progress
        let faults = scenario.faults
        await withTaskGroup(of: Void.self) { group in
            if let progress {
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if let p = board.combined() { progress(p) }
                    }
                }
            }
            group.addTask {
                await Self.playNetwork(faults, plan: plan, startAt: startAt) { log($0) }
            }
            await withTaskCancellationHandler {
                _ = await fleet.exit()
            } onCancel: {
                fleet.interrupt()
            }
            group.cancelAll()
        }
        let fleetExit = await fleet.exit()
        hub.interrupt()
        _ = await hub.exit()
        guard var report = try? ReportFile.read(fleetOutput) else {
            throw NetlabError(
                "the fleet wrote no report (\(fleetExit)\(board.lastErrors()[0].map { ": \($0)" } ?? ""))"
            )
        }
        if let hubReport = try? ReportFile.read(hubOutput) {
            report.hub = hubReport.hub
            // The hub's own fault records (when they acted, what they affected) replace the fleet's marks of them.
            for f in hubReport.faults {
                if let i = report.faults.firstIndex(where: { $0.label == f.label }) {
                    report.faults[i].affected = f.affected
                }
            }
        } else {
            log("[hub] no hub report: the report has no hub side")
        }
        // A network fault touches no hub connection: what it affected are the devices its storm record counts.
        for (i, f) in report.faults.enumerated() where f.affected == 0 {
            if let storm = report.storms.first(where: { $0.fault == f.label }) {
                report.faults[i].affected = storm.affected
            }
        }
        report.run.target = "netlab \(url) (fleet in \(plan.fleetNamespace), hub in \(plan.hubNamespace))"
        return report
    }

    /// Executes the network faults' steps at their times from `startAt` (Unix ns), logging each.
    static func playNetwork(
        _ faults: [Scenario.Fault],
        plan: NetlabPlan,
        startAt: Int64,
        note: @Sendable (String) -> Void
    ) async {
        let network = FaultPlan(faults.filter(\.kind.isNetwork))
        var state = NetlabState()
        var chosen: [Int: Int] = [:]
        for event in network.events {
            let wait = startAt + event.at.nanoseconds - Int64(Date().timeIntervalSince1970 * 1e9)
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
            if Task.isCancelled { return }
            let fault = network.faults[event.fault]
            var uplink = chosen[event.fault]
            let commands = state.commands(for: fault, step: event.step, plan: plan, chosen: &uplink)
            chosen[event.fault] = uplink
            var failures: [String] = []
            for c in commands { if let f = execute(c) { failures.append(f) } }
            let at = Double(Int64(Date().timeIntervalSince1970 * 1e9) - startAt) / 1e9
            note(
                "netlab \(String(format: "%.2f", at))s: \(fault.label) \(event.step) on uplink \(uplink ?? 0)"
                    + (failures.isEmpty ? "" : " FAILED: \(failures.joined(separator: "; "))")
            )
        }
    }

    /// What is missing to run netlab here, in one line (nil: nothing).
    public static func prerequisites() -> String? {
        guard getuid() == 0 else {
            return
                "netlab creates network namespaces: run it as root (with CAP_NET_ADMIN; in a container --cap-add NET_ADMIN)"
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
            return "netlab needs the ip command (apt-get install iproute2)"
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else {
            return "netlab breaks links with nftables: apt-get install nftables"
        }
        return nil
    }

    /// Removes the namespaces of netlab runs whose owner process is gone (`all`: every netlab namespace). Returns
    /// their names.
    @discardableResult
    public static func clean(all: Bool = false, log: (String) -> Void = { _ in }) -> [String] {
        guard let listing = output(["ip", "netns", "list"]) else { return [] }
        var removed: [String] = []
        for line in listing.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard let owner = NetlabPlan.owner(ofNamespace: name) else { continue }
            if !all && kill(owner, 0) == 0 && owner != getpid() { continue }
            if owner == getpid() && !all { continue }
            if execute(["ip", "netns", "del", name]) == nil {
                removed.append(name)
                log("removed network namespace \(name) (left by netlab process \(owner))")
            }
        }
        return removed
    }

    /// Runs one command; nil when it succeeded, else its error output.
    static func execute(_ argv: [String]) -> String? {
        let r = tool(argv)
        return r.status == 0 ? nil : r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What one command printed, when it succeeded.
    static func output(_ argv: [String]) -> String? {
        let r = tool(argv)
        return r.status == 0 ? r.stdout : nil
    }

    /// Runs `argv` (a bare name is looked up in /usr/sbin) to its end: exit status, standard output and error.
    static func tool(_ argv: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/sbin/" + argv[0])
        p.arguments = Array(argv.dropFirst())
        let (out, err) = (Pipe(), Pipe())
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", error.localizedDescription) }
        // Both pipes are small (ip and nft print a few lines), so reading one after the other cannot block.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        while p.isRunning { usleep(1000) }
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
