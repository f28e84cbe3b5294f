import ArgumentParser
import FleetCore
import FleetEngine
import FleetReport
import FleetService
import Foundation

struct NetlabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netlab",
        abstract:
            "Real network faults: the fleet and the hub in network namespaces of their own, links broken in the kernel.",
        discussion: """
            Examples (as root):
              fleetstorm netlab run profiles/network-switch-real.yaml
              fleetstorm netlab run profiles/network-switch-real.yaml --devices 200 --output netlab.pb
              fleetstorm netlab clean
            The fleet's namespace has two uplinks (10.200.1.2 and 10.200.2.2) to the hub's (10.200.0.1:1883);
            the profile's faults link-down, link-up, link-reset, switch-uplink and link-flap act on them (nftables,
            routes, addresses), its other faults are played by the hub. Nothing leaves these namespaces.
            """,
        subcommands: [NetlabRunCommand.self, NetlabCleanCommand.self]
    )
}

struct NetlabRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a profile with the fleet and the hub in network namespaces (root, CAP_NET_ADMIN).",
        discussion: """
            Example:
              fleetstorm netlab run profiles/network-switch-real.yaml --output netlab.pb
            Everything netlab creates is removed when the run ends, also after Ctrl-C.
            """
    )

    @Argument(help: "The fleet profile (YAML), e.g. profiles/network-switch-real.yaml.")
    var profile: String

    @Option(help: "Number of devices (overrides fleet.devices; at most 9,000).")
    var devices: String?

    @Option(help: "Hard bound on the run, e.g. 90s (overrides duration).")
    var duration: String?

    @Option(help: "Seed of every random draw (overrides seed).")
    var seed: String?

    @Option(name: .customLong("set"), help: "Override a profile value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "Where to write the protobuf report (the hub's and the fleet's own go to OUTPUT.parts/).")
    var output: String = "netlab-report.pb"

    @Flag(help: "No live progress line.")
    var quiet = false

    func run() async throws {
        var all: [String] = []
        if let devices { all.append("fleet.devices=\(devices)") }
        if let duration { all.append("duration=\(duration)") }
        if let seed { all.append("seed=\(seed)") }
        all += overrides
        let scenario: Scenario
        do {
            // Validated as the children will read it: the hub in the other namespace plays the faults.
            scenario = try ScenarioLoader.files.load(
                path: profile,
                overrides: all + [
                    "hub.url=mqtt://\(NetlabPlan.hubAddress):\(NetlabPlan.hubPort)", "hub.serves_profile=true",
                ]
            )
        } catch { fail(error.description) }
        if scenario.tls != nil { fail("netlab runs plain MQTT: drop hub.tls from the profile") }
        let directory = (output.hasSuffix(".pb") ? String(output.dropLast(3)) : output) + ".parts"
        var service = NetlabService(
            executable: currentExecutablePath(),
            profile: profile,
            scenario: scenario,
            overrides: all,
            directory: directory
        ) { printErr($0) }
        let line = ProgressLine()
        if !quiet { service.progress = { line.update($0) } }
        let configured = service
        let report: Fleetstorm_Report_V1_Report
        do { report = try await withSignalCancellation { try await configured.run() } } catch let error as NetlabError {
            fail(error.description)
        }
        if !quiet { line.finish() }
        print(TextSummary.render(report))
        do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
        print("report: \(output)")
    }
}

struct NetlabCleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove network namespaces left by netlab runs that ended abnormally (idempotent).",
        discussion: """
            Example:
              fleetstorm netlab clean          # namespaces whose netlab process is gone
              fleetstorm netlab clean --all    # every fsnl-* namespace, even of a running netlab
            """
    )

    @Flag(help: "Also remove the namespaces of netlab runs still running.")
    var all = false

    func run() throws {
        if getuid() != 0 { fail("netlab clean removes network namespaces: run it as root") }
        let removed = NetlabService.clean(all: all) { print($0) }
        if removed.isEmpty { print("nothing to remove") }
    }
}
