import Foundation
import NIOCore
import NIOPosix
import Testing

enum Env {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func which(_ tool: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for dir in dirs + ["/usr/sbin", "/sbin"] {
            let path = "\(dir)/\(tool)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    /// A loopback TCP port nobody listens on, below 32768.
    static func freePort() throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        var candidate = 21000 + Int(getpid() % 9000) + Int.random(in: 0..<1000)
        for _ in 0..<200 {
            if let channel = try? ServerBootstrap(group: group).bind(host: "127.0.0.1", port: candidate).wait() {
                try channel.close().wait()
                return candidate
            }
            candidate = candidate >= 32000 ? 21000 : candidate + 7
        }
        throw TestFailure("no free port")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A mosquitto broker started by the test on a free loopback port; stopped (by PID) when the test ends.
final class Mosquitto {
    let process = Process()
    let port: Int
    let dir: URL

    /// `tls`: PEM files for a TLS listener (mosquitto's own TLS, OpenSSL) instead of plain TCP; `extra`: more lines
    /// of configuration (e.g. `require_certificate true`).
    init(binary: String, tls: (ca: String, cert: String, key: String)? = nil, extra: String = "") throws {
        port = try Env.freePort()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetstorm-mosq-\(getpid())-\(port)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let conf = dir.appendingPathComponent("mosquitto.conf")
        var text = "listener \(port) 127.0.0.1\nallow_anonymous true\nmax_connections -1\nmax_inflight_messages 0\n"
        if let tls {
            // The key is ours (mode 0600): as root, mosquitto would switch to its own user and fail to read it.
            text += "cafile \(tls.ca)\ncertfile \(tls.cert)\nkeyfile \(tls.key)\nuser \(NSUserName())\n"
        }
        text += extra
        try text.write(to: conf, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-c", conf.path]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        try waitUntilListening()
    }

    /// Connects until the broker accepts (bounded: 10 s), failing early if mosquitto exits.
    private func waitUntilListening() throws {
        let group = MultiThreadedEventLoopGroup.singleton
        for _ in 0..<500 {
            guard process.isRunning else { throw TestFailure("mosquitto exited with \(process.terminationStatus)") }
            if let c = try? ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait() {
                try? c.close().wait()
                return
            }
            usleep(20_000)
        }
        throw TestFailure("mosquitto did not listen on \(port) within 10 s")
    }

    deinit {
        if process.isRunning {
            // SIGKILL: a child spawned from a Swift concurrency thread can inherit a mask that blocks SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dir)
    }
}

/// `fleetstorm ARGS` in the background: stderr is read (a blocking read, no sleeps) until `marker` shows, so the
/// test goes on once the process says it is ready. Killed (SIGKILL) if the test leaves it running.
final class BackgroundFleetstorm {
    let process = Process()
    let stdout = Pipe()
    let stderr = Pipe()
    private(set) var banner = ""

    init(_ args: [String], until marker: String) throws {
        process.executableURL = URL(fileURLWithPath: Env.repo.appendingPathComponent(".build/debug/fleetstorm").path)
        process.currentDirectoryURL = Env.repo
        process.arguments = args
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        while !banner.contains(marker) {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            banner += String(decoding: chunk, as: UTF8.self)
        }
    }

    /// SIGTERM, then everything it printed on stdout and its exit status.
    func terminate() -> (status: Int32, stdout: String) {
        kill(process.processIdentifier, SIGTERM)
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, out)
    }

    /// What it printed on stderr after the banner (read once it has ended).
    var stderrText: String {
        banner + String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Waits for it to end by itself; returns its exit status.
    func wait() -> Int32 {
        let drain = stdout.fileHandleForReading
        _ = drain.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
