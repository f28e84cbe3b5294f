import FleetReport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SecondLaneTests {
    /// Ctrl-C in the middle of a reconnect storm (the crash seen before: a stop during a connect, then the late
    /// connect success trapped). The process must exit by itself and leave a valid report whose books balance.
    @Suite("Interrupting a storm")
    struct InterruptTests {
        @Test(
            "SIGINT during the storm writes a balanced report",
            arguments: [5_300, 6_800]
        )
        func interruptMidStorm(afterMilliseconds: Int) throws {
            let report = CLITests.temp("interrupt-\(afterMilliseconds).pb")
            defer { try? FileManager.default.removeItem(atPath: report) }
            // Every device is dropped at 5 s and refused for 15 s; 10 ms exponential retries keep hundreds of
            // connects in flight at any moment of the storm.
            let run = try BackgroundFleetstorm(
                [
                    "run", "profiles/hub-outage.yaml", "--devices", "400", "--set", "retry.policy=exponential",
                    "--set", "retry.base=10ms", "--set", "retry.cap=200ms", "--set", "fleet.ramp_rate=0", "--quiet",
                    "--metrics", "127.0.0.1:0", "--output", report,
                ],
                until: "/metrics"  // printed just before the run starts
            )
            usleep(useconds_t(afterMilliseconds * 1000))
            kill(run.process.processIdentifier, SIGINT)
            let status = run.wait()
            #expect(run.stderrText.contains("stopping (signal received)"))
            #expect(status == 0, "the interrupted run must exit cleanly, got \(status)")
            let r = try ReportFile.read(report)
            #expect(r.run.cancelled)
            #expect(r.accounting.imbalance == 0, "books off by \(r.accounting.imbalance)")
            #expect(
                r.accounting.generated
                    == r.accounting.acked + r.accounting.sent + r.accounting.failed + r.accounting.pending
            )
            let ended = r.outcomes.values.reduce(0, +)
            #expect(ended == 400, "every device ended exactly once: \(r.outcomes)")
            #expect(r.connections.attempts > 400, "the interrupt came after the storm began")
        }
    }
}
