import Foundation
import Testing

/// The committed generated Swift must match what apt's protoc + the pinned protoc-gen-swift produce from the .proto.
@Suite("Committed protobuf code is current")
struct ProtoFreshnessTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @discardableResult
    static func sh(_ command: String, in dir: URL = repo, env: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = dir
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Builds protoc-gen-swift from the resolved swift-protobuf checkout in its own scratch folder (the outer
    /// `swift test` holds .build's lock).
    static func protocGenSwift() throws -> String {
        if let given = ProcessInfo.processInfo.environment["PROTOC_GEN_SWIFT"] { return given }
        let checkout = repo.appendingPathComponent(".build/checkouts/swift-protobuf").path
        guard FileManager.default.fileExists(atPath: checkout) else {
            throw Failure("swift-protobuf checkout not found at \(checkout); set PROTOC_GEN_SWIFT")
        }
        let (status, out) = try sh(
            "swift build -c release --package-path \(checkout) --scratch-path .build-protoc --product protoc-gen-swift 2>&1 | tail -5"
        )
        guard status == 0 else { throw Failure("building protoc-gen-swift failed: \(out)") }
        return repo.appendingPathComponent(".build-protoc/release/protoc-gen-swift").path
    }

    /// Runs blocking work on a new thread and returns its result.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static let hasProtoc = (try? sh("command -v protoc").0) == 0
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Skipped on a machine without protoc; in CI (which installs it) a missing protoc fails.
    @Test(
        .timeLimit(.minutes(10)),
        .enabled(if: hasProtoc || isCI, "protoc not installed (apt-get install protobuf-compiler)")
    )
    func generatedCodeIsCurrent() async throws {
        #expect(Self.hasProtoc, "protoc not found: apt-get install protobuf-compiler (.ci/run does)")
        guard Self.hasProtoc else { return }
        // Building the plugin takes minutes: on a thread of its own, not one of the concurrency pool's (two on a
        // 2-core machine), which the tests running beside this one need.
        let plugin = try await Self.onOwnThread { try Self.protocGenSwift() }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-proto-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, log) = try Self.sh("scripts/generate-proto.sh \(out.path)", env: ["PROTOC_GEN_SWIFT": plugin])
        #expect(status == 0, "\(log)")
        let (diff, diffOut) = try Self.sh("diff -r Sources/FleetReport/Generated \(out.path)")
        #expect(diff == 0, "committed generated code is stale; run scripts/generate-proto.sh\n\(diffOut)")
    }
}
