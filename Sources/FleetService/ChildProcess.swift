internal import Foundation
internal import Synchronization

/// A FleetStorm process started by another (a shard, a hub worker): the same binary with its own arguments, its
/// stderr read line by line, its stdout discarded. Foundation starts it in its own process group, so a Ctrl-C at the
/// terminal reaches only the parent, which forwards it once (`interrupt`).
final class ChildProcess: Sendable {
    /// How a child ended.
    enum Exit: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var succeeded: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case .exited(let code): "exited \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    let label: String
    let pid: Int32
    private let state = Mutex<(exit: Exit?, outputClosed: Bool, waiters: [CheckedContinuation<Exit, Never>])>(
        (nil, false, [])
    )

    /// Starts `executable arguments...`; every complete stderr line goes to `onLine` (from a reader thread).
    init(
        label: String,
        executable: String,
        arguments: [String],
        onLine: @escaping @Sendable (String) -> Void
    ) throws {
        self.label = label
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardError = pipe
        // Foundation reports the exit from its own SIGCHLD source (waitUntilExit would poll a run loop that has
        // nothing to wait for, spinning a core per child).
        let exited = Mutex<(@Sendable (Exit) -> Void)?>(nil)
        process.terminationHandler = { p in
            let exit: Exit =
                p.terminationReason == .uncaughtSignal ? .signalled(p.terminationStatus) : .exited(p.terminationStatus)
            exited.withLock { $0 }?(exit)
        }
        try process.run()
        pid = process.processIdentifier
        let reading = pipe.fileHandleForReading
        let thread = Thread { [self] in
            var pending = Data()
            while true {
                let chunk = reading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    onLine(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
            withExtendedLifetime(process) {}
            self.outputClosed()
        }
        thread.start()
        exited.withLock { $0 = { [self] exit in self.exited(exit) } }
        if !process.isRunning, state.withLock({ $0.exit == nil }) {
            // It ended before the handler above was in place.
            let exit: Exit =
                process.terminationReason == .uncaughtSignal
                ? .signalled(process.terminationStatus) : .exited(process.terminationStatus)
            self.exited(exit)
        }
    }

    /// Sends SIGINT (the child stops its devices or hub and writes its report), once it still runs.
    func interrupt() {
        if state.withLock({ $0.exit == nil }) { kill(pid, SIGINT) }
    }

    /// Waits until the child has exited and its stderr is fully read.
    func exit() async -> Exit {
        await withCheckedContinuation { c in
            let ready: Exit? = state.withLock { s in
                if let e = s.exit, s.outputClosed { return e }
                s.waiters.append(c)
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    /// The exit status if the child has ended.
    var ended: Exit? { state.withLock { $0.exit } }

    private func exited(_ exit: Exit) {
        let waiters = state.withLock { s in
            s.exit = exit
            return s.outputClosed ? s.waiters.removeAllAndReturn() : []
        }
        for w in waiters { w.resume(returning: exit) }
    }

    private func outputClosed() {
        let (waiters, exit) = state.withLock { s in
            s.outputClosed = true
            return (s.exit != nil ? s.waiters.removeAllAndReturn() : [], s.exit)
        }
        if let exit { for w in waiters { w.resume(returning: exit) } }
    }
}

extension Array {
    fileprivate mutating func removeAllAndReturn() -> [Element] {
        defer { removeAll() }
        return self
    }
}

/// The path of the running executable (children are the same binary).
public func currentExecutablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

/// A hub child's "hub listening on URL" lines (one per listener, in order), awaited by its parent.
final class ListeningLines: Sendable {
    private let urls = Mutex<[String]>([])

    /// True when `line` was a listening line (the parent does not show it again).
    func note(_ line: String) -> Bool {
        guard line.hasPrefix("hub listening on "), let u = line.split(separator: " ").dropFirst(3).first else {
            return false
        }
        urls.withLock { $0.append(String(u)) }
        return true
    }

    /// The first `count` URLs, or nil when the child ended or `timeout` passed first.
    func wait(count: Int, child: ChildProcess, timeout: Duration) async -> [String]? {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            let now = urls.withLock { $0 }
            if now.count >= count { return Array(now.prefix(count)) }
            if child.ended != nil { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}

/// `--start-at`'s value for a child: Unix seconds with milliseconds.
func startAtArgument(_ unixNanoseconds: Int64) -> String {
    String(format: "%.3f", Double(unixNanoseconds) / 1e9)
}
