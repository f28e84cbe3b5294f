import ArgumentParser
import FleetCore
import FleetReport
import FleetService
import Foundation

struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract:
            "Sweep retry settings (any profile keys) over seeds and rank them: which recovers fastest within the hub's limits.",
        discussion: """
            Examples:
              fleetstorm tune profiles/hub-outage.yaml --devices 10000 --vary retry.policy=azure-dotnet,full-jitter,decorrelated-jitter
              fleetstorm tune profiles/hub-outage.yaml --devices 100000 --tier S1 --units 10 --vary retry.policy=full-jitter,equal-jitter --vary retry.base=100ms,1s,5s --output tune.pb
              fleetstorm report tune.pb --format html > tune.html
            Each setting runs --repeat times with seeds seed, seed+1, ...; the table shows mean ± sample spread.
            --simulate (default) runs FleetSim; --real runs each point over sockets, one after another.
            Objectives: t99, peak, attempts, recovery (fastest t99 among the settings whose busiest second stays
            within the hub's connect limit; the default when a limit is known).
            """
    )

    @Argument(help: "The fleet profile (YAML), e.g. profiles/hub-outage.yaml.")
    var profile: String

    @Option(
        name: .customLong("vary"),
        help: "A profile key and its values: key=v1,v2,... (repeatable; the grid is their product)."
    )
    var vary: [String] = []

    @Option(help: "Number of devices (overrides fleet.devices).")
    var devices: String?

    @Option(help: "First seed (overrides seed); repeats use the next ones.")
    var seed: String?

    @Flag(help: "Simulate every point (FleetSim, the default) or run it over real sockets against the profile's hub.")
    var mode: TuneModeFlag = .simulate

    @Option(name: .customLong("repeat"), help: "Seeds per setting (1 to 100).")
    var repeats: Int = 3

    @Option(help: "t99, peak, attempts or recovery (default: recovery with a connect limit, else t99).")
    var objective: String?

    @Option(help: "The hub's new-connection limit per second the recovery objective respects.")
    var maxConnectRate: Double?

    @Option(help: "The limit as an IoT Hub tier's connect throttle: F1, B1, S1, B2, S2, B3, S3 (with --units).")
    var tier: String?

    @Option(help: "Units of --tier.")
    var units: Int = 1

    @Option(name: .customLong("set"), help: "Override a profile value for every point: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "Where to write the protobuf report.")
    var output: String = "fleetstorm-tune.pb"

    @Flag(help: "No live progress line.")
    var quiet = false

    func run() async throws {
        var base: [String] = []
        if let devices { base.append("fleet.devices=\(devices)") }
        if let seed { base.append("seed=\(seed)") }
        var service: TuneService
        do {
            service = TuneService(
                profile: profile,
                overrides: base + overrides,
                axes: try vary.map(TuneService.Axis.parse)
            )
        } catch { fail(error.description) }
        if let objective {
            guard let o = TuneObjective(rawValue: objective) else {
                fail(
                    "--objective \(objective): expected one of \(TuneObjective.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            service.objective = o
        }
        if maxConnectRate != nil && tier != nil { fail("give the connect limit once: --max-connect-rate or --tier") }
        service.maxConnectRate = maxConnectRate
        service.tier = tier.map { ($0, units) }
        service.repeats = repeats
        service.mode = mode.mode
        let quiet = quiet
        let tty = isatty(STDERR_FILENO) == 1
        service.progress = { p in
            guard !quiet, !p.setting.isEmpty else { return }
            let line = "[tune \(p.done + 1)/\(p.total)] \(p.setting) seed \(p.seed)"
            if tty { FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8)) } else { printErr(line) }
        }
        let configured = service
        let report: Fleetstorm_Report_V1_Report
        do {
            report = try await withSignalCancellation { try await configured.run() }
        } catch let error as TuneError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
        if tty && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        print(TextSummary.render(report))
        do { try ReportFile.write(report, to: output) } catch { fail(error.description) }
        print("report: \(output)")
    }
}

/// `--simulate` or `--real`.
enum TuneModeFlag: String, EnumerableFlag {
    case simulate
    case real

    var mode: TuneService.Mode { self == .real ? .real : .simulate }
}
