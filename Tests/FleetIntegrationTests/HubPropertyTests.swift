import FleetCore
import FleetFuzz
import FleetHub
import FleetHubCore
import FleetMQTT
import Foundation
import NIOCore
import NIOEmbedded
import Testing

extension IntegrationTests {
    /// The hub under random event orders, seeded: many connections of one hub on one embedded loop, faults starting
    /// and ending in any order, each connection sent CONNECTs of a few device ids (tokens signed for any expiry), QoS 1 PUBLISHes, garbage, closes at any moment,
    /// with time moving between events. It never traps, and what the clients read (counted by the test, packet by
    /// packet) agrees with what the hub counted: CONNACKs accepted and refused, PUBACKs and messages; at most one live
    /// session per device id.
    @Suite("Hub under random event orders")
    struct HubPropertyTests {
        /// One client connection and what the test read from it.
        final class Client {
            let channel: EmbeddedChannel
            var decoder = MQTTDecoder(version: .v311, maxPacketSize: 1 << 20)
            var pending = ByteBuffer()
            var accepted = 0
            var refused = 0
            var pubacks = 0
            /// The device id of the last CONNECT sent, and of the one the hub accepted on this connection.
            var connected: String?
            var session: String?

            init(channel: EmbeddedChannel) { self.channel = channel }

            /// Reads what the hub wrote; a close the hub made ends the session.
            func drain() throws {
                while true {
                    guard let out = try channel.readOutbound(as: ByteBuffer.self) else { break }
                    var b = out
                    pending.writeBuffer(&b)
                }
                while let packet = try decoder.decode(buffer: &pending) {
                    switch packet {
                    case .connack(let ack):
                        if ack.code == 0 {
                            accepted += 1
                            session = connected
                        } else {
                            refused += 1
                        }
                    case .puback: pubacks += 1
                    default: break
                    }
                }
                if !channel.isActive { session = nil }
            }
        }

        static func encode(_ packet: MQTTPacket) -> ByteBuffer {
            var b = ByteBuffer()
            try? MQTTEncoder(version: .v311).encode(packet, into: &b)
            return b
        }

        @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
        func countsAgreeAndOneSessionPerDevice(seed: UInt64) throws {
            var rng = SplitMix64(seed: seed)
            var configuration = HubConfiguration()
            configuration.auth = HubAuthenticator(keys: .groupKey(SignedDevice.groupKey), hostName: SignedDevice.host)
            configuration.connectTimeout = .seconds(2)
            configuration.quotas = HubQuotas(tier: .s1, units: 1)
            let hub = HubAttachment(configuration: configuration)
            let loop = EmbeddedEventLoop()
            var clients: [Client] = []
            var closed: [Client] = []
            func open() throws -> Client {
                let channel = EmbeddedChannel(loop: loop)
                try hub.attach(.mqtt, to: channel)
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
                return Client(channel: channel)
            }
            for _ in 0..<8 { clients.append(try open()) }
            let now = Int64(Date().timeIntervalSince1970)
            let expiries: [Int64] = [now + 3600, now + 3600, now + 86_400, now - 10, -1, 0, .max, .min, 1 << 62]
            var packetID: UInt16 = 0
            for _ in 0..<1500 {
                let i = Int(rng.next() % UInt64(clients.count))
                if !clients[i].channel.isActive {
                    // A device whose connection ended (the hub closed it, or it did) comes back on a new one.
                    try clients[i].drain()
                    closed.append(clients[i])
                    clients[i] = try open()
                }
                let client = clients[i]
                switch rng.next() % 10 {
                case 0...2:
                    let id = "dev-\(rng.next() % 4)"
                    let expiry = expiries[Int(rng.next() % UInt64(expiries.count))]
                    let connect = try #require(SignedDevice.connect(id: id, expiry: expiry))
                    if client.channel.isActive {
                        client.connected = id
                        _ = try? client.channel.writeInbound(Self.encode(.connect(connect)))
                    }
                case 3...6:
                    packetID = packetID == .max ? 1 : packetID + 1
                    let topic = "devices/\(client.session ?? "dev-0")/messages/events/"
                    let publish = MQTTPublish(
                        topic: topic,
                        payload: ByteBuffer(),
                        qos: .atLeastOnce,
                        packetID: packetID
                    )
                    if client.channel.isActive { _ = try? client.channel.writeInbound(Self.encode(.publish(publish))) }
                case 7:
                    let garbage = (0..<(1 + rng.next() % 6)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    if client.channel.isActive { _ = try? client.channel.writeInbound(ByteBuffer(bytes: garbage)) }
                case 8 where rng.next() % 3 == 0:
                    // Faults start and end at any moment: a drop, an outage or a reject-auth window, a disable.
                    let kinds: [Scenario.Fault.Kind] = [.drop, .outage, .rejectAuth, .disable, .expireTokens]
                    let fault = Scenario.Fault(at: .zero, kind: kinds[Int(rng.next() % UInt64(kinds.count))])
                    let steps: [FaultPlan.Step] = [.start, .pulse, .end, .release]
                    hub.apply(steps[Int(rng.next() % UInt64(steps.count))], fault: fault, index: Int(rng.next() % 3))
                case 8:
                    // The device goes away at any moment: its connection closes, a new one takes its place.
                    _ = try? client.channel.close().wait()
                    try client.drain()
                    closed.append(client)
                    clients[i] = try open()
                default:
                    loop.advanceTime(by: .milliseconds(Int64(rng.next() % 2000)))
                }
                for c in clients { try c.drain() }
                // At most one live session per device id (a newer CONNECT takes the older one over).
                let live = clients.filter { $0.channel.isActive }.compactMap(\.session)
                #expect(Set(live).count == live.count, "two live sessions for one device: \(live.sorted())")
            }
            loop.advanceTime(by: .seconds(120))  // shaped answers go out, timeouts fire
            for c in clients { try c.drain() }
            let all = clients + closed
            let stats = hub.stats
            #expect(UInt64(all.map(\.accepted).reduce(0, +)) == stats.connectionsAccepted, "accepted CONNACKs")
            #expect(UInt64(all.map(\.refused).reduce(0, +)) == stats.connectionsRefused, "refused CONNACKs")
            #expect(stats.connectionsRefused == stats.refusedByReason.values.reduce(0, +), "every refusal has a reason")
            #expect(UInt64(all.map(\.pubacks).reduce(0, +)) <= stats.messagesReceived, "a PUBACK for a counted message")
            #expect(stats.connectionsAccepted + stats.connectionsRefused > 100, "the run reached the hub's answers")
            for c in clients { _ = try? c.channel.finish() }
        }
    }
}
