import FleetCore
import FleetHub
import FleetHubCore
import Foundation
import Testing

extension IntegrationTests {
    /// The tier's twin throttles (reference §5.1: S1 twin reads 100/s, twin updates 50/s), apart from the D2C one,
    /// against paho-mqtt (a client nobody here wrote) sending twin GETs and reported PATCHes faster than the tier allows.
    @Suite("Twin throttles with a real client", .serialized)
    struct TwinThrottleTests {
        @Test(.enabled(if: TLSAndCloudToDeviceTests.pahoAvailable))
        func twinRequestsPastTheirThrottleAre429AndSendsAreUntouched() async throws {
            let python = try #require(Env.which("python3"))
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey(RealClientTests.groupKey), hostName: "myhub.local")
            var quotas = HubQuotas(tier: .s1, units: 1)
            quotas.burstSeconds = 0.05  // bursts of 5 reads, 2 updates
            quotas.maxDelay = .milliseconds(100)  // queues of 10 reads, 5 updates
            configuration.quotas = quotas
            let hub = TestHub(configuration: configuration)
            let port = try await hub.start()[0].port
            let (gets, patches, sends) = (300, 150, 5)
            let r = try RealClientTests.run(
                python,
                [
                    RealClientTests.script, "twin-burst", "127.0.0.1", String(port), "myhub.local", "burst-1",
                    RealClientTests.groupKey, String(gets), String(patches), String(sends),
                ]
            )
            let stats = await hub.stop()
            #expect(r.status == 0, "\(r.err)")
            struct Result: Decodable {
                let connack: Int?
                let statuses: [String: UInt64]
                let answered: Int
                let acked: Int
            }
            let result = try JSONDecoder().decode(Result.self, from: Data(r.out.utf8))
            #expect(result.connack == 0)
            // Every request answered once, the connection kept: a refused twin request is an answer, not a close.
            #expect(result.answered == gets + patches, "\(r.out)")
            #expect(result.statuses.values.reduce(0, +) == UInt64(gets + patches), "\(r.out)")
            #expect(Set(result.statuses.keys).isSubset(of: ["200", "204", "429"]), "\(r.out)")
            let refused = result.statuses["429", default: 0]
            #expect(refused > 0, "450 requests at once into 100/s and 50/s throttles: \(r.out)")
            // The client's count of each answer and the hub's own counters agree.
            #expect(stats.throttledTwinRequests == refused)
            #expect(stats.twinGets == result.statuses["200", default: 0])
            #expect(stats.twinPatches == result.statuses["204", default: 0])
            #expect(stats.shapedTwinRequests > 0, "beyond the burst, answers wait their turn")
            // D2C sends meet their own throttle, which the twin requests left whole.
            #expect(result.acked == sends)
            #expect(stats.messagesReceived == UInt64(sends))
            #expect(stats.throttledSends == 0 && stats.shapedSends == 0)
            #expect(stats.protocolErrors == 0 && stats.connectionsAccepted == 1)
        }
    }
}
