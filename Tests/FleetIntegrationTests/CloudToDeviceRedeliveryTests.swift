import FleetHub
import FleetHubCore
import FleetMQTT
import NIOCore
import Testing

extension IntegrationTests {
    /// A C2D message sent but not acknowledged before the connection ends is delivered again to the next one.
    @Suite("C2D redelivery")
    struct CloudToDeviceRedeliveryTests {
        /// Connects as `id`, subscribes to its C2D topic and returns the first C2D PUBLISH it receives.
        static func firstMessage(port: Int, id: String) async throws -> (any Channel, MQTTPublish) {
            let (ch, handler) = try await HubRobustnessTests.connect(port: port)
            let enc = MQTTEncoder(version: .v311)
            var out = ByteBuffer()
            try enc.encode(.connect(MQTTConnect(version: .v311, clientID: id)), into: &out)
            let filter = MQTTSubscription(topicFilter: "devices/\(id)/messages/devicebound/#", qos: .atLeastOnce)
            try enc.encode(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [filter])), into: &out)
            try await ch.writeAndFlush(out).get()
            // CONNACK (4) + SUBACK (5) + a PUBLISH of well over 40 bytes.
            var bytes = ByteBuffer(bytes: try await handler.bytes(count: 60, on: ch.eventLoop).get())
            var dec = MQTTDecoder(version: .v311)
            while let packet = try dec.decode(buffer: &bytes) {
                if case .publish(let p) = packet { return (ch, p) }
            }
            throw TestFailure("no C2D message in the first bytes")
        }

        @Test func unacknowledgedMessageComesBackOnTheNextConnection() async throws {
            var configuration = HubConfiguration()
            configuration.cloudToDeviceInterval = .milliseconds(50)
            let hub = TestHub(configuration: configuration)
            let port = try await hub.start()[0].port
            // The hub queues C2D only for devices it has seen: connect once so it knows c2d-1.
            let (first, message) = try await Self.firstMessage(port: port, id: "c2d-1")
            #expect(message.qos == .atLeastOnce && message.topic.contains("%24.mid="))
            try await first.close()  // never acknowledged
            let (second, again) = try await Self.firstMessage(port: port, id: "c2d-1")
            #expect(again.topic == message.topic, "the same message id, delivered again")
            try await second.close()
            let stats = await hub.stop()
            #expect(stats.c2dAcked == 0 && stats.c2dSent >= 2)
        }
    }
}
