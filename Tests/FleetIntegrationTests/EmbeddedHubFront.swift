import FleetFuzz
import FleetHub
import FleetHubCore
import FleetMetrics

/// The front fuzz tests' common part: one of the hub's fronts (WebSocket upgrade, HTTPS API) on an embedded channel
/// with an anonymous hub, driven by the fuzz harness's driver (input in chunks, 10 ms per chunk, then 5 minutes).
enum EmbeddedHubFront {
    /// Everything the hub wrote, the hub's counters, or the problem found.
    static func run(
        _ input: [UInt8],
        chunk: Int,
        front: HubFront
    ) -> (problem: String?, written: [UInt8], stats: HubStats) {
        var configuration = HubConfiguration()
        configuration.auth = HubAuthenticator(keys: .anonymous, hostName: "fuzz.local")
        configuration.connectTimeout = .seconds(1)
        let hub = HubAttachment(configuration: configuration)
        let (problem, written) = HubFrontHarness.drive(input, chunk: chunk, front: front, hub: hub)
        return (problem, written, hub.stats)
    }
}
