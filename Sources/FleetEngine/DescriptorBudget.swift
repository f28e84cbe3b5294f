#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File-descriptor pre-flight: raise the soft limit to the hard one and check a fleet fits before any connect.
public enum DescriptorBudget {
    /// Descriptors the process needs beyond sockets (loops, eventfds, files, stdio, listeners).
    public static let overhead = 64

    /// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the limit now in force.
    @discardableResult
    public static func raiseLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// Descriptors a run needs: one socket per device, one more per device when the hub is in-process, two more
    /// when the fault proxy relays each connection.
    public static func needed(devices: Int, embeddedHub: Bool, proxy: Bool = false) -> Int {
        devices * (1 + (embeddedHub ? 1 : 0) + (proxy ? 2 : 0)) + overhead
    }
}
