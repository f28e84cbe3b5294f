import FleetCore
import FleetFuzz
import FleetHub
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

extension IntegrationTests {
    /// Found by the FleetSim-vs-real sweep (scripts/differential.sh, generated scenario 24): a blackhole that selects
    /// devices by id let a blackholed device's NEW connection through, because the connection had no id until its
    /// CONNECT; the simulated hub (and a real network path) swallowed it.
    @Suite("A device-selecting blackhole swallows new connections' CONNECTs")
    struct BlackholeConnectTests {
        @Test("during a blackhole of dev-1: dev-1's CONNECT gets no answer, dev-2's is accepted")
        func connectOfABlackholedDeviceVanishes() throws {
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .anonymous, hostName: "hub.local")
            let hub = HubAttachment(configuration: configuration)
            var fault = try #require(
                try ScenarioLoader().load(
                    yaml: "faults: [{at: 1s, kind: blackhole, for: 10s, devices: \"dev-1\"}]",
                    source: "blackhole"
                ).faults.first
            )
            fault.at = .zero
            hub.apply(.start, fault: fault, index: 0)
            func answer(to id: String) throws -> [UInt8] {
                var bytes = ByteBuffer()
                try MQTTEncoder(version: .v311).encode(
                    .connect(MQTTConnect(version: .v311, clientID: id, keepAliveSeconds: 30)),
                    into: &bytes
                )
                let (problem, written) = HubFrontHarness.drive(
                    Array(bytes.readableBytesView),
                    chunk: 64,
                    front: .mqtt,
                    hub: hub
                )
                #expect(problem == nil)
                return written
            }
            #expect(try answer(to: "dev-1").isEmpty, "the blackholed device's CONNECT vanished")
            #expect(try answer(to: "dev-2") == [0x20, 0x02, 0x00, 0x00], "another device is accepted")
        }
    }
}
