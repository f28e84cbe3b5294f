import FleetCore
import FleetEngine
import FleetHub
import FleetHubCore
import FleetMetrics
import FleetService
import Testing

extension IntegrationTests {
    /// One variable at a time: two cohorts on the same full-jitter curve, one imitating the .NET SDK and one the
    /// Python SDK, publishing into a hub that goes silent (blackhole). Reference §4.5: .NET pings only after a quarter
    /// of the keep-alive without *sending*, so a device that keeps publishing never notices; paho (Python) also
    /// pings after a keep-alive without *receiving*, so it notices the dead link. The report shows each cohort's own
    /// behaviour although the curve is the same.
    @Suite("SDK identity apart from the retry curve")
    struct SDKIdentityTests {
        @Test func sameCurveEachSDKKeepsItsKeepAlive() async throws {
            let s = try ScenarioLoader().load(
                yaml: """
                    duration: 9s
                    fleet: {devices: 20, ramp_rate: 0}
                    mqtt: {keep_alive: 2s}
                    telemetry: {messages: 1000, interval: 200ms}
                    retry: {policy: full-jitter, base: 200ms, cap: 1s}
                    cohorts:
                      - {name: dotnet, share: 0.5, sdk: azure-dotnet}
                      - {name: python, share: 0.5, sdk: azure-python}
                    faults: [{at: 1s, kind: blackhole, for: 6s}]
                    """,
                source: "sdk-identity"
            )
            #expect(s.cohorts.map(\.retry.policy.name) == ["full-jitter", "full-jitter"], "the same curve")
            let result = try await FleetRunner(scenario: s, hub: EmbeddedTestHub(hub: TestHub())).run()
            let byName = Dictionary(uniqueKeysWithValues: result.cohorts.map { ($0.name, $0) })
            let noticed: (CohortResult?) -> UInt64 = { c in
                c?.snapshot.counters.transitions.filter {
                    $0.key.from == "Connected" && $0.key.to == "Disconnected_Retrying"
                }.values.reduce(0, +) ?? 0
            }
            #expect(byName["python"]?.sdk == "azure-python" && byName["dotnet"]?.sdk == "azure-dotnet")
            #expect(noticed(byName["python"]) >= 10, "every Python device noticed the silent hub by keep-alive")
            #expect(noticed(byName["dotnet"]) == 0, ".NET devices kept sending and never pinged")
        }
    }
}
