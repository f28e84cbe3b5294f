import FleetCore
import FleetMetrics
import NIOCore
import NIOEmbedded

@testable import FleetHub

/// The fuzz harnesses' common part: one of the hub's fronts (WebSocket upgrade, HTTPS API) on an embedded channel with
/// an anonymous hub, fed `input` in chunks with time moving 10 ms per chunk, then 5 minutes (every timeout passes).
enum EmbeddedHubFront {
    /// Everything the hub wrote, the hub's counters, or the setup problem.
    static func run(
        _ input: [UInt8],
        chunk: Int,
        configure: (EmbeddedChannel, HubConfiguration, NIOLoopBound<HubState>) throws -> Void
    ) -> (problem: String?, written: [UInt8], stats: HubStats) {
        var configuration = HubConfiguration()
        configuration.auth = HubAuthenticator(keys: .anonymous, hostName: "fuzz.local")
        configuration.connectTimeout = .seconds(1)
        let loop = EmbeddedEventLoop()
        let state = NIOLoopBound(HubState(quotas: nil), eventLoop: loop)
        let channel = EmbeddedChannel(loop: loop)
        do {
            try configure(channel, configuration, state)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        } catch { return ("setup failed: \(error)", [], HubStats()) }
        var written: [UInt8] = []
        func drain() {
            while true {
                if let d = try? channel.readOutbound(as: IOData.self) {
                    if case .byteBuffer(let b) = d { written += Array(b.readableBytesView) }
                } else if let b = try? channel.readOutbound(as: ByteBuffer.self) {
                    written += Array(b.readableBytesView)
                } else {
                    break
                }
            }
        }
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + chunk)
            if channel.isActive { _ = try? channel.writeInbound(ByteBuffer(bytes: input[offset..<end])) }
            offset = end
            loop.advanceTime(by: .milliseconds(10))
            drain()
        }
        loop.advanceTime(by: .seconds(300))
        drain()
        let stats = state.value.stats
        _ = try? channel.finish()
        return (nil, written, stats)
    }
}
