public import FleetCore
internal import FleetMQTT
public import FleetMetrics
internal import NIOCore
internal import NIOPosix
internal import Synchronization

/// A TCP relay between the devices and an external broker that injects the faults a broker cannot be told to:
/// `drop` and `flap` (close relayed connections), `outage` (refuse new ones: TCP reset, or CONNACK 3 / 0x88 read
/// from the client's CONNECT), `blackhole` (relay nothing, both ways) and `slow-connack` / `slow-puback` (hold the
/// broker's first packet, or all its bytes, for the delay, in order). It sees bytes, not device identities, so its
/// faults apply to every connection. Runs on its own loop.
public final class FaultProxy: EmbeddedHub, Sendable {
    let upstreamHost: String
    let upstreamPort: Int
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let state: NIOLoopBoundBox<ProxyState>
    private let server = Mutex<(any Channel)?>(nil)

    /// `link`: shape every relayed byte as that link would (rate, delay, jitter, loss), seeded by `seed`.
    public init(upstreamHost: String, upstreamPort: Int, link: Scenario.Link? = nil, seed: UInt64 = 1) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        let proxyState = ProxyState()
        proxyState.link = link.map { LinkShaper(link: $0, seed: seed) }
        state = NIOLoopBoundBox.makeBoxSendingValue(proxyState, eventLoop: group.next())
    }

    public func start() async throws -> (host: String, port: Int) {
        let state = self.state
        let (host, port) = (upstreamHost, upstreamPort)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    let relay = Relay(state: state.value, inbound: inbound)
                    try inbound.pipeline.syncOperations.addHandler(relay.downstreamHandler)
                    relay.open(upstreamHost: host, upstreamPort: port)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        server.withLock { $0 = channel }
        return ("127.0.0.1", channel.localAddress?.port ?? 0)
    }

    public func inject(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) async -> Int {
        let state = self.state
        return (try? await group.next().submit { state.value.apply(step, fault: fault) }.get()) ?? 0
    }

    public func resetClock() async {}

    public func stop() async -> HubStats? {
        if let s = server.withLock({ $0 }) { try? await s.close() }
        let state = self.state
        _ = try? await group.next().submit { state.value.closeAll() }.get()
        try? await group.shutdownGracefully()
        return nil
    }
}

/// The proxy's faults and relays, on its loop.
final class ProxyState {
    var relays: [ObjectIdentifier: Relay] = [:]
    /// The emulated link every byte crosses (nil: none).
    var link: LinkShaper?
    var outage: Scenario.Fault.Refusal?
    var flapDown = false
    var blackhole = false
    var slowConnack: Duration?
    var slowPuback: Duration?
    /// Connections refused, delayed or silenced during the open windows.
    var windowAffected = 0

    func apply(_ step: FaultPlan.Step, fault: Scenario.Fault) -> Int {
        switch (fault.kind, step) {
        case (.drop, .pulse), (.flap, .pulse):
            if fault.kind == .flap { flapDown = fault.down > .zero }
            let n = relays.count
            closeAll()
            return n
        case (.flap, .release): flapDown = false
        case (.flap, .end): flapDown = false
        case (.outage, .start): outage = fault.refusal
        case (.outage, .end): outage = nil
        case (.blackhole, .start):
            blackhole = true
            return relays.count
        case (.blackhole, .end): blackhole = false
        case (.slowConnack, .start): slowConnack = fault.delay
        case (.slowConnack, .end): slowConnack = nil
        case (.slowPuback, .start): slowPuback = fault.delay
        case (.slowPuback, .end): slowPuback = nil
        default: return 0
        }
        if step == .end {
            defer { windowAffected = 0 }
            return windowAffected
        }
        return 0
    }

    func closeAll() {
        for r in Array(relays.values) { r.close() }
    }
}

@available(*, unavailable)
extension ProxyState: Sendable {}

/// One relayed connection: the device's side (inbound) and the broker's (upstream).
final class Relay {
    let state: ProxyState
    let inbound: any Channel
    var upstream: (any Channel)?
    /// Bytes from the device before the upstream connection is up.
    var early: [ByteBuffer] = []
    var sawBrokerPacket = false
    var releaseNotBefore = NIODeadline.distantPast
    var upReleaseNotBefore = NIODeadline.distantPast
    var closed = false
    var refusing = false
    lazy var downstreamHandler = Forward(relay: self, fromDevice: true)

    init(state: ProxyState, inbound: any Channel) {
        self.state = state
        self.inbound = inbound
        state.relays[ObjectIdentifier(self)] = self
    }

    func open(upstreamHost: String, upstreamPort: Int) {
        if let refusal = state.outage ?? (state.flapDown ? .connack : nil) {
            state.windowAffected += 1
            refusing = true
            if refusal == .reset {
                reset()
            } else {
                inbound.read()  // the CONNECT, answered with CONNACK 3 in `refuse(_:)`
            }
            return
        }
        // The relay is loop-bound: the initializer runs on the upstream channel's loop, which is the relay's.
        let bound = NIOLoopBound(self, eventLoop: inbound.eventLoop)
        let bootstrap = ClientBootstrap(group: inbound.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Forward(relay: bound.value, fromDevice: false))
                }
            }
        let loop = inbound.eventLoop
        bootstrap.connect(host: upstreamHost, port: upstreamPort).hop(to: loop).assumeIsolated().whenComplete {
            [self] result in
            switch result {
            case .success(let channel):
                if closed {
                    channel.close(promise: nil)
                    return
                }
                upstream = channel
                for b in early { deliver(b, to: channel, extra: nil, up: true) }
                early.removeAll()
                inbound.setOption(.autoRead, value: true).whenComplete { _ in }
            case .failure:
                close()
            }
        }
        inbound.read()
    }

    /// Bytes from one side, relayed to the other unless a fault says otherwise.
    func relay(_ bytes: ByteBuffer, fromDevice: Bool) {
        if closed || state.blackhole { return }
        if fromDevice {
            if refusing {
                refuse(bytes)
            } else if let upstream {
                deliver(bytes, to: upstream, extra: nil, up: true)
            } else {
                early.append(bytes)
            }
            return
        }
        var delay: Duration?
        if !sawBrokerPacket {
            sawBrokerPacket = true
            delay = state.slowConnack
        } else {
            delay = state.slowPuback
        }
        if delay != nil { state.windowAffected += 1 }
        deliver(bytes, to: inbound, extra: delay, up: false)
    }

    /// Writes `bytes` to `channel` when the link (if any) and `extra` let them arrive, never before bytes sent
    /// earlier in the same direction.
    private func deliver(_ bytes: ByteBuffer, to channel: any Channel, extra: Duration?, up: Bool) {
        let now = NIODeadline.now()
        let arrival = state.link?.arrival(bytes: bytes.readableBytes, up: up, now: now) ?? now
        let release = max(arrival + .nanoseconds(extra?.nanoseconds ?? 0), up ? upReleaseNotBefore : releaseNotBefore)
        guard release > now else {
            channel.writeAndFlush(bytes, promise: nil)
            return
        }
        if up { upReleaseNotBefore = release } else { releaseNotBefore = release }
        channel.eventLoop.scheduleTask(deadline: release) { channel.writeAndFlush(bytes, promise: nil) }
    }

    /// An outage with `refuse: connack`: answer the client's CONNECT with CONNACK 3 (0x88 in MQTT 5), then close.
    private var refusalBuffer: ByteBuffer?
    private func refuse(_ bytes: ByteBuffer) {
        var buffer = bytes
        if var pending = refusalBuffer {
            pending.writeBuffer(&buffer)
            buffer = pending
        }
        var decoder = MQTTDecoder(version: .v311, maxPacketSize: 1 << 16)
        var probe = buffer
        switch Result(catching: { try decoder.decode(buffer: &probe) }) {
        case .success(nil):
            refusalBuffer = buffer
            inbound.read()
        case .success(.connect(let c)?):
            let encoder = MQTTEncoder(version: c.version)
            var out = inbound.allocator.buffer(capacity: 8)
            try? encoder.encode(.connack(MQTTConnAck(code: c.version == .v5 ? 0x88 : 3)), into: &out)
            inbound.writeAndFlush(out).assumeIsolated().whenComplete { [self] _ in close() }
        default:
            close()
        }
    }

    private func reset() {
        closed = true
        state.relays[ObjectIdentifier(self)] = nil
        let channel = inbound
        guard let socket = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    func close() {
        guard !closed else { return }
        closed = true
        state.relays[ObjectIdentifier(self)] = nil
        inbound.close(promise: nil)
        upstream?.close(promise: nil)
    }
}

@available(*, unavailable)
extension Relay: Sendable {}

/// Reads one side of a relay.
final class Forward: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let relay: Relay
    let fromDevice: Bool

    init(relay: Relay, fromDevice: Bool) {
        self.relay = relay
        self.fromDevice = fromDevice
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.relay(unwrapInboundIn(data), fromDevice: fromDevice)
    }

    func channelInactive(context: ChannelHandlerContext) { relay.close() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { relay.close() }
}

@available(*, unavailable)
extension Forward: Sendable {}

/// An emulated link, each way: a segment waits for the link to be free and for its own transmission at the bit
/// rate (shared by every connection), then travels rtt/2 plus up to `jitter`; a lost one (probability `loss`)
/// arrives one retransmission timeout later, as TCP recovers it (so the bytes still arrive, in order: losing them
/// here would corrupt the stream, not emulate the link).
struct LinkShaper {
    let link: Scenario.Link
    var random: SplitMix64
    /// When each direction's link is free again: [device → hub, hub → device].
    var free: [NIODeadline] = [.distantPast, .distantPast]

    init(link: Scenario.Link, seed: UInt64) {
        self.link = link
        random = SplitMix64(seed: seed ^ 0x6C69_6E6B)
    }

    /// Linux's retransmission timeout for this path: at least 200 ms, else the round trip plus four jitters.
    var retransmissionTimeout: Duration { max(.milliseconds(200), link.rtt + link.jitter * 4) }

    mutating func arrival(bytes: Int, up: Bool, now: NIODeadline) -> NIODeadline {
        let i = up ? 0 : 1
        var sent = now
        if let bits = link.bitsPerSecond {
            // Each segment carries ~40 bytes of TCP/IP headers on the wire.
            let seconds = Double((bytes + 40) * 8) / bits
            sent = max(now, free[i]) + .nanoseconds(Int64(seconds * 1e9))
            free[i] = sent
        }
        var delay = link.rtt / 2
        if link.jitter > .zero { delay += link.jitter * unit() }
        if link.loss > 0 && unit() < link.loss { delay += retransmissionTimeout }
        return sent + .nanoseconds(delay.nanoseconds)
    }

    private mutating func unit() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
}
