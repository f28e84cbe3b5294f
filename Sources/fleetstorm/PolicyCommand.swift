import ArgumentParser
import FleetCore
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show a retry policy's delays per attempt (sampled, seeded) before using it in a run.",
        discussion: """
            Examples:
              fleetstorm policy --list
              fleetstorm policy azure-dotnet --attempts 10 --samples 1000
              fleetstorm policy full-jitter --set base=200ms --set cap=20s --format json
            Delays are nominal: the .NET 1 s floor between attempt starts and the C SDK's "wait counts from the
            attempt start" depend on how long each attempt took, and are applied during runs.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "A preset or family (see --list).")
    var name: String?

    @Flag(help: "List every preset and family with its parameters and defaults.")
    var list = false

    @Option(name: .customLong("set"), help: "A policy parameter: key=value (repeatable).")
    var parameters: [String] = []

    @Option(help: "How many retries to show.")
    var attempts: Int = 12

    @Option(help: "Draws per attempt.")
    var samples: Int = 1000

    @Option(help: "Seed of the draws.")
    var seed: UInt64 = 1

    @Option(help: "text or json.")
    var format: Format = .text

    func validate() throws {
        guard list || name != nil else { throw ValidationError("name a policy, or use --list") }
        guard (1...1000).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 1000") }
        guard (1...1_000_000).contains(samples) else {
            throw ValidationError("--samples must be between 1 and 1000000")
        }
    }

    func run() throws {
        if list {
            for info in RetryPolicy.catalogue {
                print("\(info.name): \(info.summary)")
                for p in info.parameters {
                    print("    \(p.key) = \(p.defaultValue)" + (p.meaning.isEmpty ? "" : "   (\(p.meaning))"))
                }
            }
            return
        }
        guard let name else { return }
        var values: [String: String] = [:]
        for item in parameters {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                fail("--set \(item): expected key=value, e.g. --set cap=10s")
            }
            values[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        let policy: RetryPolicy
        do { policy = try RetryPolicy.make(name: name, parameters: values) } catch { fail("policy \(name): \(error)") }
        var rng = SplitMix64(seed: seed)
        var perAttempt: [[Double?]] = Array(repeating: [], count: attempts)
        for _ in 0..<samples {
            for (i, d) in policy.delays(count: attempts, using: &rng).enumerated() {
                perAttempt[i].append(d.map { Double($0.nanoseconds) / 1e6 })
            }
        }
        switch format {
        case .json: printJSON(policy: policy, perAttempt: perAttempt)
        case .text: printTable(policy: policy, perAttempt: perAttempt)
        }
    }

    private func printJSON(policy: RetryPolicy, perAttempt: [[Double?]]) {
        var parts: [String] = []
        for (i, draws) in perAttempt.enumerated() {
            let values = draws.compactMap { $0 }.map { v in v == v.rounded() ? String(Int64(v)) : String(v) }
            parts.append("{\"attempt\":\(i + 1),\"delays_ms\":[\(values.joined(separator: ","))]}")
        }
        print("{\"policy\":\"\(policy.name)\",\"seed\":\(seed),\"attempts\":[\(parts.joined(separator: ","))]}")
    }

    static func cell(_ v: Double) -> String {
        let text: String = v >= 100 ? String(Int64(v.rounded())) : String(Double(Int(v * 100)) / 100)
        return text.padding(toLength: 11, withPad: " ", startingAt: 0)
    }

    private func printTable(policy: RetryPolicy, perAttempt: [[Double?]]) {
        var header = "\(policy.name): nominal wait before retry n, ms (\(samples) draws each, seed \(seed))"
        if let t = policy.timeout { header += "; gives up \(t.formatted) after the failure" }
        if let m = policy.maxAttempts { header += "; at most \(m) retries" }
        if let floor = policy.attemptStartFloor { header += "; attempt starts ≥ \(floor.formatted) apart" }
        if policy.waitIncludesAttempt { header += "; waits count from the previous attempt's start" }
        print(header)
        let cols = ["attempt", "min", "p50", "p90", "p99", "max"]
        print(cols.map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined())
        for (i, draws) in perAttempt.enumerated() {
            let values = draws.compactMap { $0 }.sorted()
            let n = String(i + 1).padding(toLength: 11, withPad: " ", startingAt: 0)
            guard !values.isEmpty else {
                print(n + "gives up (no retry)")
                continue
            }
            func q(_ p: Double) -> Double { values[min(values.count - 1, Int(Double(values.count - 1) * p))] }
            let stats: [Double] = [values[0], q(0.5), q(0.9), q(0.99), values[values.count - 1]]
            var line = n
            for v in stats { line += Self.cell(v) }
            print(line)
        }
    }
}
