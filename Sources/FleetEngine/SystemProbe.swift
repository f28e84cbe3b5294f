import Foundation

/// What the kernel says about this process: open descriptors and a thread's CPU time (Linux /proc).
enum SystemProbe {
    /// The calling thread's kernel id (from /proc/thread-self → "PID/task/TID"; 0 when unknown).
    static func threadID() -> Int32 {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"),
            let last = link.split(separator: "/").last, let tid = Int32(last)
        else { return 0 }
        return tid
    }

    /// Descriptors open now (entries of /proc/self/fd; 0 where there is no /proc).
    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    /// User + system CPU seconds of one thread of this process (0 when unknown).
    static func cpuSeconds(thread: Int32) -> Double {
        guard thread > 0, let stat = try? String(contentsOfFile: "/proc/self/task/\(thread)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
