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

    /// Descriptors open now (0 where there is no /proc).
    static func openDescriptors() -> Int { openDescriptors(in: "/proc/self/fd", own: true) }

    /// Descriptors open in the process whose descriptor directory (/proc/PID/fd) is `directory`: the directory's
    /// size where the kernel gives it (Linux 6.2 and later: one `stat`), else its entries counted (`bySize` false, or
    /// an older kernel's size of 0), less the listing's own descriptor when it is this process's (`own`). Counting
    /// the entries makes the kernel build one entry per descriptor: about 10 ms at 10,000 sockets, 8 % of the client
    /// process's samples in a 10,000-device storm sampled every 250 ms (2026-12-07).
    static func openDescriptors(in directory: String, own: Bool, bySize: Bool = true) -> Int {
        var info = stat()
        if bySize, stat(directory, &info) == 0, info.st_size > 0 { return Int(info.st_size) }
        return max(0, entries(in: directory) - (own ? 1 : 0))
    }

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
