import Foundation
import Testing

@testable import FleetEngine

/// The descriptor count behind the report's fd headroom: entries counted with readdir, dot names left out.
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
}
