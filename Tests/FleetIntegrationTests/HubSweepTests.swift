import FleetHubCore
import FleetMQTT
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetHub

extension IntegrationTests {
    /// The hub's one sweep (`HubState.sweep`) in virtual time: what a timer per connection used to do, each limit
    /// acted on within two sweep intervals and never before it is reached.
    @Suite("Hub sweep: CONNECT timeout and keep-alive")
    struct HubSweepTests {
        static func connection(_ state: HubState, _ loop: EmbeddedEventLoop) throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(handler: HubConnectionHandler(state: state), loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            return channel
        }

        static func send(_ packet: MQTTPacket, to channel: EmbeddedChannel) throws {
            var b = ByteBuffer()
            try MQTTEncoder(version: .v311).encode(packet, into: &b)
            try channel.writeInbound(b)
        }

        @Test func limitsAreKeptToTheSweep() throws {
            var configuration = HubConfiguration()
            configuration.connectTimeout = .seconds(2)  // the sweep runs every 250 ms (a quarter, at most 250 ms)
            let loop = EmbeddedEventLoop()
            let state = HubState(configuration: configuration)
            #expect(state.sweepInterval == .milliseconds(250))
            // One connection never sends CONNECT; one connects with a 2 s keep-alive (idle limit 3 s) and goes
            // silent; one connects alike and pings every 2 s.
            let mute = try Self.connection(state, loop)
            let silent = try Self.connection(state, loop)
            let pinging = try Self.connection(state, loop)
            try Self.send(.connect(MQTTConnect(version: .v311, clientID: "silent", keepAliveSeconds: 2)), to: silent)
            try Self.send(.connect(MQTTConnect(version: .v311, clientID: "pinging", keepAliveSeconds: 2)), to: pinging)
            loop.advanceTime(by: .milliseconds(1_900))
            #expect(mute.isActive, "before its CONNECT timeout")
            loop.advanceTime(by: .milliseconds(350))
            #expect(!mute.isActive, "closed within two sweeps of its CONNECT timeout")
            #expect(silent.isActive, "2.25 s silent: before its idle limit")
            try Self.send(.pingreq, to: pinging)
            loop.advanceTime(by: .milliseconds(1_000))  // 3.25 s: the silent one is past its limit (3 s)
            #expect(!silent.isActive, "closed within two sweeps of its idle limit")
            for _ in 0..<5 {
                #expect(pinging.isActive)
                try Self.send(.pingreq, to: pinging)
                loop.advanceTime(by: .seconds(2))
            }
            #expect(pinging.isActive, "a connection heard within its limit is never closed")
            #expect(state.stats.protocolErrors == 2, "the CONNECT timeout and the idle close")
            _ = try pinging.finish()
            // The last connection gone, the sweep stops: the loop is left with no scheduled work (EmbeddedEventLoop
            // refuses to be freed otherwise).
            #expect(state.connections.isEmpty)
            try loop.syncShutdownGracefully()
        }
    }
}
