import FleetCore
import FleetMQTT
import FleetMetrics
import Glibc
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetEngine

/// The device handler on an EmbeddedChannel: events that arrive before the channel is active, after the device
/// ended, or twice. The socket connect is replaced by the test, which plays the network's late answers.
@Suite("Device handler: stop before active, late connects")
struct DeviceHandlerEdgeTests {
    final class Rig {
        let loop = EmbeddedEventLoop()
        let swarm: Swarm
        var connects = 0

        init() throws {
            var scenario = Scenario()
            scenario.fleet.devices = 1
            scenario.retry.policy = try RetryPolicy.make(name: "azure-dotnet", parameters: [:])
            let scheduler = LoopScheduler(loop: loop, origin: .now())
            swarm = Swarm(
                loop: loop,
                scheduler: scheduler,
                recorders: [Recorder()],
                scenario: scenario,
                unixNanosecondsAtZero: 0,
                hubAddress: try SocketAddress(ipAddress: "127.0.0.1", port: 1),
                serverName: nil,
                sourceAddresses: []
            )
            swarm.connectOverride = { [unowned self] _ in self.connects += 1 }
        }

        var handler: DeviceChannelHandler { swarm.handlers[0] }

        /// Ends the device (if it has not ended) so the swarm's completion promise is kept.
        func end() {
            handler.stop()
            handler.forceClose()
            swarm.scheduler.shutdown()
        }
        var counters: FleetCounters { swarm.recorders[0].snapshot.counters }
    }

    /// Ctrl-C while the connect is in flight and before the handler has a channel: the stop's close is remembered
    /// and carried out when the handler joins the (by then active) channel; nothing is written on it, and the
    /// device ends as stopped, once.
    @Test func stopBeforeTheChannelExists() throws {
        let rig = try Rig()
        defer { rig.end() }
        rig.handler.start()
        #expect(rig.connects == 1)
        rig.handler.stop()
        #expect(rig.handler.machine.outcome == nil, "the attempt is still open")
        let channel = EmbeddedChannel(loop: rig.loop)
        defer { _ = try? channel.finish() }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.pipeline.syncOperations.addHandler(rig.handler)
        rig.loop.run()
        #expect(!channel.isActive, "the late channel must be closed")
        let written = try channel.readOutbound(as: ByteBuffer.self)
        #expect(written == nil, "nothing may be written on a connection the device no longer wants")
        #expect(rig.handler.machine.outcome == .stopped)
        #expect(rig.counters.outcomes == ["stopped": 1])
    }

    /// Stop while the channel exists but is not active yet (TCP handshake in flight): closed through the context.
    @Test func stopWhileConnecting() throws {
        let rig = try Rig()
        defer { rig.end() }
        rig.handler.start()
        let channel = EmbeddedChannel(loop: rig.loop)
        try channel.pipeline.syncOperations.addHandler(rig.handler)
        rig.handler.stop()
        rig.loop.run()
        // A channel that never became active: the connect future's failure reports the end.
        rig.handler.connectionClosed(error: .reset)
        #expect(rig.handler.machine.outcome == .stopped)
        #expect(rig.counters.outcomes == ["stopped": 1])
        _ = try? channel.finish()
        let written = try? channel.readOutbound(as: ByteBuffer.self)
        #expect(written == nil)
    }

    /// The device ended (stopped, its grace ran out) and only then the connect succeeds: closed and counted.
    @Test func connectAfterTheDeviceEnded() throws {
        let rig = try Rig()
        defer { rig.end() }
        rig.handler.start()
        rig.handler.stop()
        rig.handler.forceClose()
        #expect(rig.handler.machine.outcome == .stopped)
        let channel = EmbeddedChannel(loop: rig.loop)
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandler(rig.handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        rig.loop.run()
        #expect(!channel.isActive)
        #expect(rig.counters.lateConnects == 1)
        #expect(rig.counters.outcomes == ["stopped": 1], "the device finished once")
    }

    /// A connect refused by the kernel reaches the machine as `refused` and the SDK retries (.NET: transient).
    @Test func refusedConnectIsClassifiedAndRetried() throws {
        let rig = try Rig()
        defer { rig.end() }
        rig.handler.start()
        rig.handler.connectionClosed(error: ConnectionError(IOError(errnoCode: ECONNREFUSED, reason: "connect")))
        #expect(rig.counters.connectionErrors == ["refused": 1])
        #expect(rig.handler.machine.status == .disconnectedRetrying)
        #expect(rig.counters.retries == 1)
    }
}
