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

    /// Descriptors open now (entries of /proc/self/fd but the listing's own; 0 where there is no /proc).
    static func openDescriptors() -> Int { max(0, entries(in: "/proc/self/fd") - 1) }

    /// Entries of a directory but "." and ".." (and other dot names, which /proc/self/fd never has), counted with
    /// readdir and no name kept: at 10,000 sockets Foundation's listing built 10,000 strings per sample.
    static func entries(in path: String) -> Int {
        guard let dir = opendir(path) else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != 0x2E { count += 1 }
        }
        return count
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
