import FleetReport
import Testing

/// A run in which no device connected ends with one line naming the most common cause and its fix.
@Suite("No device connected")
struct NoConnectionTests {
    static func report(
        attempts: UInt64,
        accepted: UInt64 = 0,
        refused: [UInt32: UInt64] = [:],
        errors: [String: UInt64] = [:]
    ) -> Fleetstorm_Report_V1_Report {
        var r = Fleetstorm_Report_V1_Report()
        r.connections.attempts = attempts
        r.connections.accepted = accepted
        r.connections.refusedByCode = refused
        r.connections.connectionErrors = errors
        return r
    }

    @Test func refusedCredentialsNameTheKeysToSet() throws {
        var r = Self.report(attempts: 1000, refused: [5: 1000])
        var series = Fleetstorm_Report_V1_Series()
        series.name = "hub_refused:bad_username"
        series.values = [0, 600, 400]
        r.series.series = [series]
        let line = try #require(NoConnection.explain(r))
        #expect(line.hasPrefix("no device connected (1000 attempts): 1000 refused with CONNACK 5 (not authorized)"))
        #expect(line.contains("the hub's reason: bad_username"))
        #expect(line.contains("--set auth.mode=sas --set auth.hub_host=HOST --set auth.group_key=KEY"))
        #expect(!line.contains("\n"))
        // X.509 devices: the fix is the hub's CA, not SAS keys; a refusal that is not about credentials keeps its own.
        let x509 = try #require(NoConnection.explain(r, x509: true))
        #expect(x509.contains("--x509-ca") && !x509.contains("auth.group_key"), "\(x509)")
        let busy = try #require(NoConnection.explain(Self.report(attempts: 9, refused: [3: 9]), x509: true))
        #expect(busy.contains("check its faults and tier") && !busy.contains("x509"), "\(busy)")
    }

    @Test func theMostCommonCauseWins() throws {
        let r = Self.report(attempts: 50, refused: [3: 10], errors: ["refused": 40])
        let line = try #require(NoConnection.explain(r))
        #expect(line.contains("40 ended with connection refused") && line.contains("check --hub"), "\(line)")
        let tls = try #require(NoConnection.explain(Self.report(attempts: 5, errors: ["tls_untrusted": 5])))
        #expect(tls.contains("--ca-file"))
    }

    @Test func aRunWhereOneDeviceConnectedOrNothingWasTriedSaysNothing() {
        #expect(NoConnection.explain(Self.report(attempts: 100, accepted: 1, refused: [5: 99])) == nil)
        #expect(NoConnection.explain(Self.report(attempts: 0)) == nil)
        var cancelled = Self.report(attempts: 10, errors: ["timed_out": 10])
        cancelled.run.cancelled = true
        #expect(NoConnection.explain(cancelled) == nil, "Ctrl-C before any connect finished is the user's choice")
    }
}
