import Foundation
import Testing

@testable import FleetEngine

/// The descriptor count behind the report's fd headroom: the kernel's size of /proc/PID/fd, or its entries counted
/// with readdir, dot names left out.
@Suite("System probe: descriptors")
struct SystemProbeTests {
    @Test("a directory's entries are counted, '.' and '..' not; /proc/self/fd gives a count within the limit")
    func countsEntries() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(SystemProbe.entries(in: dir.path) == 0)
        for k in 0..<37 {
            try Data().write(to: dir.appendingPathComponent(String(k)))
        }
        #expect(SystemProbe.entries(in: dir.path) == 37)
        #expect(SystemProbe.entries(in: dir.appendingPathComponent("missing").path) == 0)
        // Standard input, output and error at least; never more than the process may open.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let open = SystemProbe.openDescriptors()
        #expect(open >= 3 && UInt64(open) <= UInt64(limit.rlim_cur), "\(open) of \(limit.rlim_cur)")
    }

    @Test("another process's descriptors: the directory's size and its entries agree, and follow what it opens")
    func sizeAndEntriesAgree() throws {
        // A shell of our own whose descriptors we set (the test process's own change under the other tests' feet):
        // standard input, output and error, then 40 more, then it waits to be counted.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", "for i in $(seq 10 49); do eval \"exec $i</dev/null\"; done; exec sleep 30"]
        shell.standardInput = FileHandle.nullDevice
        shell.standardOutput = FileHandle.nullDevice
        shell.standardError = FileHandle.nullDevice
        try shell.run()
        defer { shell.terminate() }
        let directory = "/proc/\(shell.processIdentifier)/fd"
        // Until it is sleeping with all of them open (exec keeps them: no close-on-exec).
        var listed = 0
        for _ in 0..<200 where listed != 43 {
            listed = SystemProbe.openDescriptors(in: directory, own: false, bySize: false)
            if listed != 43 { usleep(20_000) }
        }
        #expect(listed == 43, "entries of \(directory)")
        var info = stat()
        if stat(directory, &info) == 0, info.st_size > 0 {
            #expect(SystemProbe.openDescriptors(in: directory, own: false) == 43, "size of \(directory)")
        }
    }
}
