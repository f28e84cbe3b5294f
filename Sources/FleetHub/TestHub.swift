public import FleetCore
internal import FleetHubCore
public import FleetMetrics
internal import NIOCore
internal import NIOPosix
internal import Synchronization

/// The embedded MQTT test hub: its own event loop (one thread), never the devices' loop.
public final class TestHub: Sendable {
    public let configuration: HubConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let state: NIOLoopBoundBox<HubState>
    private let servers: NIOLockedServers
    private let cloudToDeviceTask = Mutex<RepeatedTask?>(nil)

    public init(configuration: HubConfiguration = HubConfiguration()) {
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
        self.state = NIOLoopBoundBox.makeBoxSendingValue(
            HubState(configuration: configuration),
            eventLoop: loop
        )
        self.servers = NIOLockedServers()
    }

    /// Starts every listener; returns their bound addresses (host, port) in order: plain, TLS, WebSocket, WebSocket
    /// over TLS, HTTPS, AMQP, AMQP over TLS.
    public func start() async throws(HubError) -> [(host: String, port: Int)] {
        var bound: [(String, Int)] = []
        let tlsListeners =
            configuration.tlsListen + configuration.wssListen + configuration.httpsListen + configuration.amqpsListen
        if !tlsListeners.isEmpty && configuration.tls == nil {
            throw HubError(address: "-", reason: "TLS listeners need a certificate and key (--tls-cert, --tls-key)")
        }
        let mqttFront: HubFront = configuration.mqttListenersServeAMQP ? .mqttOrAMQP : .mqtt
        for (host, port) in configuration.listen {
            let channel = try await listen(host: host, port: port, tls: nil, front: mqttFront)
            servers.append(channel)
            bound.append((host, channel.localAddress?.port ?? port))
        }
        for (host, port) in configuration.tlsListen {
            let channel = try await listen(host: host, port: port, tls: configuration.tls, front: mqttFront)
            servers.append(channel)
            bound.append((host, channel.localAddress?.port ?? port))
        }
        for (list, tls) in [(configuration.wsListen, nil), (configuration.wssListen, configuration.tls)] {
            for (host, port) in list {
                let channel = try await listen(host: host, port: port, tls: tls, webSocket: true)
                servers.append(channel)
                bound.append((host, channel.localAddress?.port ?? port))
            }
        }
        for (host, port) in configuration.httpsListen {
            let channel = try await listen(host: host, port: port, tls: configuration.tls, https: true)
            servers.append(channel)
            bound.append((host, channel.localAddress?.port ?? port))
        }
        for (list, tls) in [(configuration.amqpListen, nil), (configuration.amqpsListen, configuration.tls)] {
            for (host, port) in list {
                let channel = try await listen(host: host, port: port, tls: tls, front: .amqp)
                servers.append(channel)
                bound.append((host, channel.localAddress?.port ?? port))
            }
        }
        if let interval = configuration.cloudToDeviceInterval {
            let state = self.state
            let amount = TimeAmount.nanoseconds(interval.nanoseconds)
            let task = loop.scheduleRepeatedTask(initialDelay: amount, delay: amount) { _ in
                state.value.sendCloudToDevice()
            }
            cloudToDeviceTask.withLock { $0 = task }
        }
        return bound
    }

    private func listen(
        host: String,
        port: Int,
        tls: HubTLS?,
        webSocket: Bool = false,
        https: Bool = false,
        front chosen: HubFront? = nil
    ) async throws(HubError)
        -> any Channel
    {
        let state = self.state
        let configuration = self.configuration
        let front: HubFront = chosen ?? (https ? .https : webSocket ? .webSocket : .mqtt)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: Self.soReusePort)),
                value: configuration.reusePort ? 1 : 0
            )
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .childChannelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 128, maximum: 65536)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if state.value.stopping { throw ChannelError.ioOnClosedChannel }
                    if let size = configuration.socketSendBuffer {
                        try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: size)
                    }
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.handler()) }
                    try front.install(on: channel, configuration: configuration, state: state.value)
                }
            }
        if port != 0 {
            do { return try await bootstrap.bind(host: host, port: port).get() } catch {
                throw HubError(address: "\(host):\(port)", reason: Self.explain(error))
            }
        }
        // A free port below 32768 (ephemeral ports start there), starting at a per-process offset.
        var candidate = 20000 + Int(UInt32(truncatingIfNeeded: getpid()) % 12000)
        var lastError: (any Error)?
        for _ in 0..<64 {
            do { return try await bootstrap.bind(host: host, port: candidate).get() } catch {
                lastError = error
                candidate = candidate >= 32767 ? 20000 : candidate + 1
            }
        }
        throw HubError(address: "\(host):0", reason: lastError.map(Self.explain) ?? "no free port below 32768")
    }

    /// SO_REUSEPORT (Linux's value; NIO names no constant for it).
    static let soReusePort: CInt = 15

    /// A listening error in our words (a port in use, an address not this machine's).
    public static func explain(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") || text.contains("EADDRINUSE") || text.contains("errno: 98") {
            return "address already in use (pick another port, or stop what listens there)"
        }
        if text.contains("Cannot assign requested address") || text.contains("errno: 99") {
            return "not a local address"
        }
        return text
    }

    /// Closes every client connection at once, without a DISCONNECT (a hub-wide drop). Returns how many it closed.
    @discardableResult
    public func dropAll() async -> Int {
        await inject(.pulse, fault: Scenario.Fault(at: .zero, kind: .drop), index: -1)
    }

    /// Applies one step of a fault plan on the hub loop; returns how many connections it affected.
    @discardableResult
    public func inject(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) async -> Int {
        let state = self.state
        return (try? await loop.submit { state.value.apply(step, fault: fault, index: index) }.get()) ?? 0
    }

    /// Applies one step of a fault plan on the hub loop without waiting for it, and hands the number of connections
    /// it affected to `reporting` (on the hub loop). For callers that must not wait on the concurrency pool: the step is
    /// queued on the hub loop before this returns, so it lands before a later `stop`.
    public func inject(
        _ step: FaultPlan.Step,
        fault: Scenario.Fault,
        index: Int,
        reporting: @escaping @Sendable (Int) -> Void
    ) {
        let state = self.state
        loop.execute { reporting(state.value.apply(step, fault: fault, index: index)) }
    }

    /// Restarts the hub's clock: its time series count from now (the runner calls this at the run's start).
    public func resetClock() async {
        let state = self.state
        _ = try? await loop.submit { state.value.origin = .now() }.get()
    }

    /// What the hub has seen so far.
    public func stats() async -> HubStats {
        let state = self.state
        return (try? await loop.submit { state.value.stats }.get()) ?? HubStats()
    }

    /// Stops accepting, closes every connection, returns the final statistics and releases the loop.
    public func stop() async -> HubStats {
        let state = self.state
        for server in servers.takeAll() { try? await server.close() }
        cloudToDeviceTask.withLock { $0?.cancel() }
        let closing = try? await loop.submit {
            state.value.stopping = true
            return state.value.connections.values.compactMap { $0.closeFuture() }
        }.get()
        for f in closing ?? [] { try? await f.get() }
        let stats = await self.stats()
        try? await group.shutdownGracefully()
        return stats
    }
}

/// The listening channels, guarded for use from any task.
final class NIOLockedServers: Sendable {
    private let storage = Mutex<[any Channel]>([])
    func append(_ c: any Channel) { storage.withLock { $0.append(c) } }
    func takeAll() -> [any Channel] {
        storage.withLock { channels in
            defer { channels = [] }
            return channels
        }
    }
}
