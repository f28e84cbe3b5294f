import FleetHub
import FleetHubCore
import FleetMQTT
import NIOCore
import NIOPosix
import Testing

extension IntegrationTests {
    /// Clients that never read, flood pings, or open thousands of sockets and say nothing.
    @Suite("Hub bounds what misbehaving clients cost", .serialized)
    struct HubAbuseTests {
        /// Counts bytes it is told were written; never reads (autoRead off, small receive buffer).
        static func deafClient(port: Int) async throws -> (any Channel, EventLoopFuture<Void>) {
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let closed = loop.makePromise(of: Void.self)
            let handler = RawClientHandler(closed: closed)
            let ch = try await ClientBootstrap(group: loop)
                .channelOption(.autoRead, value: false)
                .channelOption(.socketOption(.so_rcvbuf), value: 4096)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(handler) }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return (ch, closed.futureResult)
        }

        @Test func slowReaderIsClosedWithABoundedBacklog() async throws {
            var config = HubConfiguration()
            config.maxBacklogBytes = 64 * 1024
            config.slowConsumerTimeout = .milliseconds(500)
            config.socketSendBuffer = 8192
            let hub = TestHub(configuration: config)
            let port = try await hub.start()[0].port
            let (deaf, _) = try await Self.deafClient(port: port)
            try await HubRobustnessTests.send(deaf, try HubRobustnessTests.connectBytes("deaf"))
            // QoS 1 PUBLISHes whose PUBACKs the client never reads, in batches, until the hub gives up on it
            // (bounded: 64 MB of PUBLISHes at most).
            let encoder = MQTTEncoder(version: .v311)
            var batch = ByteBuffer()
            for i in 0..<1000 {
                let p = MQTTPublish(
                    topic: "devices/deaf/messages/events/",
                    payload: ByteBuffer(repeating: 0x41, count: 8),
                    qos: .atLeastOnce,
                    packetID: UInt16(i % 60000 + 1)
                )
                try encoder.encode(.publish(p), into: &batch)
            }
            var sent = 0
            var closedByHub = false
            while sent < 64 << 20 {
                do {
                    try await deaf.writeAndFlush(batch).get()
                    sent += batch.readableBytes
                } catch {
                    closedByHub = true
                    break
                }
                if await hub.stats().slowConsumers > 0 {
                    closedByHub = true
                    break
                }
            }
            #expect(closedByHub, "the hub closed the deaf client after \(sent) bytes")
            // Others are still served.
            let (good, goodHandler) = try await HubRobustnessTests.connect(port: port)
            try await HubRobustnessTests.send(good, try HubRobustnessTests.connectBytes("good"))
            #expect(try await goodHandler.bytes(count: 4, on: good.eventLoop).get() == [0x20, 0x02, 0x00, 0x00])
            let stats = await hub.stop()
            #expect(stats.slowConsumers == 1)
            try? await deaf.close()
        }

        @Test func pingFloodClosesOnlyTheFlooder() async throws {
            let hub = TestHub()
            let port = try await hub.start()[0].port
            let (flood, floodHandler) = try await HubRobustnessTests.connect(port: port)
            try await HubRobustnessTests.send(flood, try HubRobustnessTests.connectBytes("flood"))
            try await HubRobustnessTests.send(
                flood,
                Array(repeating: [UInt8]([0xC0, 0x00]), count: 500).flatMap { $0 }
            )
            try await floodHandler.closed.futureResult.get()
            let (calm, calmHandler) = try await HubRobustnessTests.connect(port: port)
            try await HubRobustnessTests.send(calm, try HubRobustnessTests.connectBytes("calm") + [0xC0, 0x00])
            #expect(
                try await calmHandler.bytes(count: 6, on: calm.eventLoop).get() == [0x20, 0x02, 0x00, 0x00, 0xD0, 0x00]
            )
            let stats = await hub.stop()
            #expect(stats.pingFloods == 1 && stats.protocolErrors == 1)
            #expect(floodHandler.received.readableBytes <= 4 + 2 * 10, "CONNACK and at most the allowance of PINGRESPs")
        }

        /// 2,000 sockets that never send CONNECT: the hub keeps serving, then closes each at the connect timeout.
        @Test func thousandsOfSilentSocketsTimeOut() async throws {
            var config = HubConfiguration()
            config.connectTimeout = .milliseconds(1500)
            let hub = TestHub(configuration: config)
            let port = try await hub.start()[0].port
            var silent: [(any Channel, RawClientHandler)] = []
            for _ in 0..<2000 { silent.append(try await HubRobustnessTests.connect(port: port)) }
            let (good, goodHandler) = try await HubRobustnessTests.connect(port: port)
            try await HubRobustnessTests.send(good, try HubRobustnessTests.connectBytes("good"))
            #expect(try await goodHandler.bytes(count: 4, on: good.eventLoop).get() == [0x20, 0x02, 0x00, 0x00])
            for (_, h) in silent { try await h.closed.futureResult.get() }
            let stats = await hub.stop()
            #expect(stats.protocolErrors == 2000)
            #expect(stats.connectionsAccepted == 1)
        }
    }
}
