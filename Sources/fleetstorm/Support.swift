import Dispatch
import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMetrics
import Foundation

/// Prints one error line to stderr and exits non-zero (no stack trace).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

func printErr(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A rendered report or page: to standard output, or into `path` (`--output`) with a "wrote" line on stderr.
func writeOutput(_ text: String, to path: String?) {
    guard let path else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
        fail("--output \(path): cannot write the file (does the directory exist?)")
    }
    printErr("wrote \(path)")
}

/// Live progress on stderr: rewritten in place on a terminal, one line every few seconds otherwise.
final class ProgressLine: Sendable {
    let isTTY = isatty(STDERR_FILENO) == 1
    private let state = LockedState()

    func update(_ p: FleetProgress) {
        let attemptsPerSecond = state.rate(attempts: p.connectAttempts, at: p.elapsed)
        let line =
            "[\(p.elapsed.formattedSeconds)] connected \(p.connectedNow)/\(p.devices)  "
            + "attempts/s \(Int(attemptsPerSecond.rounded()))  acked \(p.acked)/\(p.generated)  "
            + "failed \(p.failed)  p99 publish→ack \(formatMs(p.publishAckP99Nanoseconds))  done \(p.finished)"
        if isTTY {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        } else if state.shouldPrint(at: p.elapsed) {
            printErr(line)
        }
    }

    func finish() {
        if isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func formatMs(_ ns: UInt64) -> String {
        let ms = Double(ns) / 1e6
        return ms >= 100 ? "\(Int(ms))ms" : "\(Double(Int(ms * 100)) / 100)ms"
    }
}

final class LockedState: @unchecked Sendable {
    private let lock = NSLock()
    private var lastAttempts: UInt64 = 0
    private var lastElapsed: Duration = .zero
    private var lastPrinted: Duration = .seconds(-100)

    func rate(attempts: UInt64, at elapsed: Duration) -> Double {
        lock.lock()
        defer { lock.unlock() }
        let dt = Double((elapsed - lastElapsed).nanoseconds) / 1e9
        let r = dt > 0 ? Double(attempts &- lastAttempts) / dt : 0
        lastAttempts = attempts
        lastElapsed = elapsed
        return r
    }

    func shouldPrint(at elapsed: Duration) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard elapsed - lastPrinted >= .seconds(5) else { return false }
        lastPrinted = elapsed
        return true
    }
}

extension Duration {
    var formattedSeconds: String {
        let s = Double(nanoseconds) / 1e9
        return "\(Double(Int(s * 10)) / 10)s"
    }
}

/// --start-at / FLEETSTORM_START_AT: Unix seconds (fractions allowed) → Unix nanoseconds; nil when not given.
func parseStartAt(_ text: String?, flag: String) -> Int64? {
    guard let text else { return nil }
    guard let seconds = Double(text), seconds >= 1e9, seconds < 1e11 else {
        fail("\(flag) \(text): expected a Unix time in seconds, e.g. $(( $(date +%s) + 30 ))")
    }
    let late = Date().timeIntervalSince1970 - seconds
    if late < -86400 {
        fail(
            "\(flag) \(text) is \(Int(-late / 3600)) hours away: give the instant every shard starts at, "
                + "a minute or two ahead, e.g. $(( $(date +%s) + 120 ))"
        )
    }
    if late > 1 { printErr("warning: \(flag) is \(Int(late)) s in the past: starting now") }
    return Int64(seconds * 1e9)
}

/// `--progress-json`: one `progress {...}` line per update on stderr, read by a parent process.
enum JSONProgress {
    static func write(_ p: FleetProgress) {
        guard let data = try? JSONEncoder().encode(p) else { return }
        FileHandle.standardError.write(Data("progress ".utf8) + data + Data("\n".utf8))
    }
}
