public import FleetHub
internal import FleetHubCore
public import FleetReport
internal import Foundation
internal import Synchronization

/// `fleetstorm hub --workers N`: N hub processes (the same binary as `hub --worker I/N`) on the same listen
/// addresses with SO_REUSEPORT, so the kernel spreads connections over them. Every worker loads the same
/// registry or group key (shared, read-only), enforces 1/N of the tier's rate and daily quota, and plays the whole
/// fault timeline on its own connections from the same start instant. On Ctrl-C (cancel the calling task) or when
/// their --duration ends, their reports are merged into one hub report (`hub_workers` N).
public struct HubWorkersService: Sendable {
    public var executable: String
    /// The hub's own arguments for every worker (`hub ...` without --workers, --listen, --tls-listen, --output,
    /// --start-at).
    public var arguments: [String]
    public var listen: [String]
    public var tlsListen: [String]
    public var workers: Int
    public var startAtUnixNanoseconds: Int64?
    /// Where the workers' own reports go.
    public var directory: String
    public var log: @Sendable (String) -> Void

    public init(
        executable: String,
        arguments: [String],
        listen: [String],
        tlsListen: [String],
        workers: Int,
        directory: String,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.executable = executable
        self.arguments = arguments
        self.listen = listen
        self.tlsListen = tlsListen
        self.workers = workers
        self.directory = directory
        self.log = log
    }

    public func serve() async throws(HubError) -> Fleetstorm_Report_V1_Report {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw HubError(address: "-", reason: "cannot create \(directory) for the workers' reports")
        }
        let startAt = startAtUnixNanoseconds ?? Int64(Date().timeIntervalSince1970 * 1e9) + 2_000_000_000
        let seconds = startAtArgument(startAt)
        let expected = listen.count + tlsListen.count
        let bound = ListeningLines()
        var children: [ChildProcess] = []
        func start(_ i: Int, listen: [String], tlsListen: [String]) throws(HubError) {
            let output = "\(directory)/hub-worker-\(i).pb"
            try? FileManager.default.removeItem(atPath: output)
            let args =
                arguments + listen.flatMap { ["--listen", $0] } + tlsListen.flatMap { ["--tls-listen", $0] }
                + ["--worker", "\(i)/\(workers)", "--start-at", seconds, "--output", output]
            let log = self.log
            do {
                children.append(
                    try ChildProcess(label: "worker \(i)", executable: executable, arguments: args) { line in
                        if i == 0, bound.note(line) { return }
                        if line.hasPrefix("hub listening on ") || quietLine(line) { return }
                        log("[worker \(i)] \(line)")
                    }
                )
            } catch {
                for c in children { c.interrupt() }
                throw HubError(address: "-", reason: "cannot start hub worker \(i): \(error.localizedDescription)")
            }
        }
        try start(0, listen: listen, tlsListen: tlsListen)
        guard let urls = await bound.wait(count: expected, child: children[0], timeout: .seconds(60)) else {
            children[0].interrupt()
            let exit = await children[0].exit()
            throw HubError(
                address: listen.first ?? tlsListen.first ?? "-",
                reason: "hub worker 0 did not start (\(exit))"
            )
        }
        // The other workers join the addresses worker 0 bound (its port 0 resolved).
        let addresses = urls.map { String($0.split(separator: "/").last ?? "") }
        for i in 1..<max(1, workers) {
            try start(
                i,
                listen: Array(addresses.prefix(listen.count)),
                tlsListen: Array(addresses.dropFirst(listen.count))
            )
        }
        for url in urls { log("hub listening on \(url) (\(workers) workers; Ctrl-C to stop)") }
        let all = children
        var exits: [ChildProcess.Exit] = []
        await withTaskCancellationHandler {
            for c in all { exits.append(await c.exit()) }
        } onCancel: {
            for c in all { c.interrupt() }
        }
        var reports: [(name: String, report: Fleetstorm_Report_V1_Report)] = []
        for (i, exit) in exits.enumerated() {
            let path = "\(directory)/hub-worker-\(i).pb"
            if let r = try? ReportFile.read(path) {
                reports.append((path, r))
            } else {
                log("hub worker \(i) \(exit) without a report: its connections are missing from the hub report")
            }
        }
        guard !reports.isEmpty else { throw HubError(address: "-", reason: "no hub worker wrote a report") }
        do { return try ReportMerge.merge(reports) } catch {
            throw HubError(address: "-", reason: "merging the workers' reports: \(error.description)")
        }
    }
}

/// Command-line arguments without some options (`--name value` and `--name=value` forms), for children that get
/// them back with their own values.
public func removingOptions(_ names: Set<String>, from arguments: [String]) -> [String] {
    var out: [String] = []
    var skip = false
    for a in arguments {
        if skip {
            skip = false
            continue
        }
        if names.contains(a) {
            skip = true
            continue
        }
        if let eq = a.firstIndex(of: "="), names.contains(String(a[..<eq])) { continue }
        out.append(a)
    }
    return out
}
