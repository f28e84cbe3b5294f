import FleetEngine
import FleetHub
import FleetHubCore
import FleetMQTT
import NIOCore
import NIOPosix
import Testing

/// A TCP server that accepts and never answers (for CONNACK timeouts).
struct SilentServer {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start() async throws -> SilentServer {
        let ch = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: try Env.freePort()).get()
        return SilentServer(channel: ch)
    }

    func stop() async { try? await channel.close() }
}

/// Collects whatever the hub sends and notices the close.
final class RawClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let closed: EventLoopPromise<Void>
    var received = ByteBuffer()
    private var waiter: (count: Int, promise: EventLoopPromise<[UInt8]>)?
    init(closed: EventLoopPromise<Void>) { self.closed = closed }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        received.writeBuffer(&b)
        if let w = waiter, received.readableBytes >= w.count {
            waiter = nil
            w.promise.succeed(Array(received.readableBytesView))
        }
    }

    /// Completes once `count` bytes have arrived in total.
    func bytes(count: Int, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        loop.flatSubmit {
            let p = loop.makePromise(of: [UInt8].self)
            if self.received.readableBytes >= count {
                p.succeed(Array(self.received.readableBytesView))
            } else {
                self.waiter = (count, p)
            }
            return p.futureResult
        }
    }
    func channelInactive(context: ChannelHandlerContext) { closed.succeed() }
}

extension IntegrationTests {
    @Suite("Hub faces misbehaving clients", .serialized)
    struct HubRobustnessTests {
        static func connect(port: Int) async throws -> (any Channel, RawClientHandler) {
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let handler = RawClientHandler(closed: loop.makePromise())
            let ch = try await ClientBootstrap(group: loop).channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(handler) }
            }.connect(host: "127.0.0.1", port: port).get()
            return (ch, handler)
        }

        static func send(_ ch: any Channel, _ bytes: [UInt8]) async throws {
            try await ch.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        }

        static func connectBytes(_ id: String) throws -> [UInt8] {
            Array(
                try MQTTEncoder(version: .v311).encode(.connect(MQTTConnect(version: .v311, clientID: id)))
                    .readableBytesView
            )
        }

        @Test func malformedAndHugePacketsCloseOnlyTheirConnection() async throws {
            var config = HubConfiguration()
            config.connectTimeout = .seconds(30)
            let hub = TestHub(configuration: config)
            let port = try await hub.start()[0].port

            let (good, goodHandler) = try await Self.connect(port: port)
            try await Self.send(good, try Self.connectBytes("good"))

            let (garbage, garbageHandler) = try await Self.connect(port: port)
            try await Self.send(garbage, [0x00, 0x00, 0xFF])
            try await garbageHandler.closed.futureResult.get()

            let (huge, hugeHandler) = try await Self.connect(port: port)
            try await Self.send(huge, try Self.connectBytes("huge"))
            try await Self.send(huge, [0x30, 0xFF, 0xFF, 0xFF, 0x7F])  // PUBLISH announcing 268 MB
            try await hugeHandler.closed.futureResult.get()

            let (qos2, qos2Handler) = try await Self.connect(port: port)
            try await Self.send(qos2, try Self.connectBytes("qos2"))
            let publish2 = try MQTTEncoder(version: .v311).encode(
                .publish(
                    MQTTPublish(
                        topic: "devices/qos2/messages/events/",
                        payload: ByteBuffer(),
                        qos: .exactlyOnce,
                        packetID: 1
                    )
                )
            )
            try await Self.send(qos2, Array(publish2.readableBytesView))
            try await qos2Handler.closed.futureResult.get()

            // The well-behaved client is still served: PINGREQ → PINGRESP.
            try await Self.send(good, [0xC0, 0x00])
            let got = try await goodHandler.bytes(count: 6, on: good.eventLoop).get()
            #expect(got == [0x20, 0x02, 0x00, 0x00, 0xD0, 0x00], "CONNACK then PINGRESP")
            let stats = await hub.stop()
            #expect(stats.protocolErrors == 3)
            #expect(stats.connectionsAccepted == 3)
        }

        @Test func connectionWithoutConnectIsClosedAfterTheTimeout() async throws {
            var config = HubConfiguration()
            config.connectTimeout = .milliseconds(100)
            let hub = TestHub(configuration: config)
            let port = try await hub.start()[0].port
            let (_, handler) = try await Self.connect(port: port)
            try await handler.closed.futureResult.get()
            let stats = await hub.stop()
            #expect(stats.protocolErrors == 1)
        }

        @Test func portInUseIsAClearError() async throws {
            let first = TestHub()
            let port = try await first.start()[0].port
            var config = HubConfiguration()
            config.listen = [("127.0.0.1", port)]
            do {
                _ = try await TestHub(configuration: config).start()
                Issue.record("expected an error")
            } catch {
                #expect(
                    error.description
                        == "cannot listen on 127.0.0.1:\(port): address already in use (pick another port, or stop what listens there)"
                )
            }
            _ = await first.stop()
        }

        @Test func embeddedPortIsBelowTheEphemeralRange() async throws {
            let hub = TestHub()
            let port = try await hub.start()[0].port
            #expect(port > 0 && port < 32768)
            _ = await hub.stop()
        }
    }
}

/// Answers every client read with bytes that are not MQTT.
final class GarbageHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [0x00, 0x00, 0xFF, 0xFF])), promise: nil)
    }
}

extension IntegrationTests {
    @Suite("Devices facing a broken broker")
    struct DeviceRobustnessTests {
        @Test func malformedBytesFromTheBrokerEndDevicesWithProtocolError() async throws {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(GarbageHandler()) }
                }
                .bind(host: "127.0.0.1", port: try Env.freePort()).get()
            var s = try FleetRunTests.scenario(devices: 10, messages: 1, policy: "none")
            s.hub = .mqtt(host: "127.0.0.1", port: server.localAddress?.port ?? 0)
            let result = try await FleetEngine.FleetRunner(scenario: s, hub: nil).run()
            #expect(result.snapshot.counters.outcomes == ["protocol_error": 10])
            #expect(result.malformedPackets == 10)
            try await server.close()
        }
    }
}
