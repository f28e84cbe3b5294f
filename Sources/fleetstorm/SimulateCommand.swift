import ArgumentParser
import FleetCore
import FleetHubCore
import FleetReport
import FleetService
import FleetSim
import Foundation

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a fleet profile in virtual time (FleetSim): the same device logic, no sockets, any size.",
        discussion: """
            Examples:
              fleetstorm simulate profiles/hub-outage.yaml
              fleetstorm simulate profiles/hub-outage.yaml --devices 1000000 --set fleet.ramp_rate=0 --output sim.pb
              fleetstorm simulate profiles/hub-outage.yaml --set simulation.rtt=80ms --set simulation.accept_rate=2000
              fleetstorm simulate profiles/thermostat-fleet.yaml --sample simulated.jsonl
            The report has the same schema as a run's (report, compare and merge read it); run.kind is "simulation".
            The network and the hub process are modelled by the profile's simulation: keys (see profiles/README.md).
            """
    )

    @Argument(help: "The fleet profile (YAML), e.g. profiles/hub-outage.yaml.")
    var profile: String

    @Option(help: "Number of devices, up to 10,000,000 (overrides fleet.devices).")
    var devices: String?

    @Option(help: "Simulated time bound, e.g. 5m (overrides duration).")
    var duration: String?

    @Option(help: "Seed of every random draw (overrides seed).")
    var seed: String?

    @Option(help: "Where to write the protobuf report.")
    var output: String = "fleetstorm-simulation.pb"

    @Option(name: .customLong("set"), help: "Override a profile value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "No live progress line.")
    var quiet = false

    @Option(
        help:
            "Write the messages devices sent to this file (JSON lines: the first 1,000 and each device's last; the same bodies as a run with the same seed)."
    )
    var sample: String?

    var profileOverrides: [String] {
        var all: [String] = []
        if let devices { all.append("fleet.devices=\(devices)") }
        if let duration { all.append("duration=\(duration)") }
        if let seed { all.append("seed=\(seed)") }
        return all + overrides
    }

    func run() async throws {
        let all = profileOverrides
        let scenario: Scenario
        do { scenario = try ScenarioLoader.files.load(path: profile, overrides: all) } catch { fail(error.description) }
        if let why = scenario.needsNetlab { fail(why) }
        var service = SimulateService(scenario: scenario, profile: profile, overrides: all)
        let line = SimulationProgressLine(quiet: quiet)
        service.progress = { line.update($0) }
        service.sample = sample.map { _ in MessageSample() }
        let configured = service
        let outcome: SimulateService.Outcome
        do { outcome = try await withSignalCancellation { await SimulationThread.run(configured) } } catch {
            fail("\(error)")
        }
        line.finish()
        print(TextSummary.render(outcome.report))
        print(
            "simulated \(outcome.result.duration.formatted) of \(scenario.fleet.devices) devices in "
                + "\(String(format: "%.1f", outcome.wallSeconds)) s wall (\(outcome.result.events) events)"
        )
        do { try ReportFile.write(outcome.report, to: output) } catch { fail(error.description) }
        print("report: \(output)")
        if let sample, let kept = configured.sample { HubCommand.writeSample(kept, to: sample) }
    }
}

/// Progress of a simulation on stderr, in the style of `run`'s line.
final class SimulationProgressLine: Sendable {
    let quiet: Bool
    let isTTY = isatty(STDERR_FILENO) == 1
    init(quiet: Bool) { self.quiet = quiet }

    func update(_ p: SimulationProgress) {
        guard !quiet else { return }
        let line =
            "[sim \(p.simulated.formattedSeconds) of \(p.duration.formattedSeconds)] connected \(p.connectedNow)/\(p.devices)"
            + "  attempts \(p.connectAttempts)  acked \(p.acked)  done \(p.finished)  events \(p.events)"
        if isTTY {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        } else {
            printErr(line)
        }
    }

    func finish() {
        if isTTY && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
