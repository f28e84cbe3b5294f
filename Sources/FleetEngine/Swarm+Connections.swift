internal import FleetCore
internal import FleetWebSocket
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import NIOWebSocket

/// Connections that are not one device's own: pooled AMQP connections, and the WebSocket upgrade both kinds use.
extension Swarm {
    /// The pool a device of a pooled cohort rides; nil for a device with its own connection.
    func pool(of device: Int) -> DeviceAMQPPool? {
        for c in pooledCohorts where device >= c.start && device < c.start + c.devices {
            return pools[c.first + (device - c.start) % c.count]
        }
        return nil
    }

    /// Opens a pooled AMQP connection: TLS when the run has it, then the pool's handler.
    func openPoolConnection(_ pool: DeviceAMQPPool, attempt: Int) {
        guard let baseBootstrap else { return pool.connectFailed(.other) }
        let bound = NIOLoopBound(pool, eventLoop: loop)
        let upgradeTimeout = TimeAmount.nanoseconds(connectTimeout.nanoseconds)
        let source = socket.source(turn: pool.index + attempt)
        let bootstrap = baseBootstrap.channelInitializer { [socket, tls, tlsName, webSocket] channel in
            socket.initialize(channel, source: source) {
                if let tls {
                    try channel.pipeline.syncOperations.addHandler(tls.handler(verifying: tlsName))
                }
                if let webSocket {
                    // AMQP over WebSockets: the pool's handler joins behind the framing once the upgrade is done.
                    try Self.upgradeToWebSocket(
                        channel,
                        path: webSocket.path,
                        host: webSocket.host,
                        timeout: upgradeTimeout,
                        amqp: true,
                        then: NIOLoopBound([bound.value], eventLoop: channel.eventLoop),
                        failed: NIOLoopBound({ bound.value.connectFailed(.webSocket) }, eventLoop: channel.eventLoop)
                    )
                    return
                }
                try channel.pipeline.syncOperations.addHandler(bound.value)
            }
        }
        bootstrap.connect(to: hubAddress).assumeIsolated().whenFailure { error in
            pool.connectFailed(ConnectionError(error))
        }
    }

    /// MQTT (or, with `amqp`, AMQP) over WebSockets: the HTTP upgrade first (path, subprotocol `mqtt` or
    /// `AMQPWSB10`), then `handlers` behind a framing handler (a device's handler and its AMQP bridge, or a pooled
    /// connection's). A refused upgrade, or one that does not finish within the connect timeout, ends the attempt
    /// as a WebSocket failure (`failed`; the SDKs retry it, reference §10.1).
    static func upgradeToWebSocket(
        _ channel: any Channel,
        path: String,
        host: String,
        timeout: TimeAmount,
        amqp: Bool,
        then handlers: NIOLoopBound<[any ChannelHandler]>,
        failed: NIOLoopBound<() -> Void>
    ) throws {
        let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(maxFrameSize: 1 << 20) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(MQTTWebSocketFraming(role: .client))
                return true
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(
            name: "Sec-WebSocket-Protocol",
            value: amqp ? amqpWebSocketSubprotocol : mqttWebSocketSubprotocol
        )
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
            upgradeRequestHead: head,
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(false) }
        )
        let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: configuration)
        )
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        upgraded.whenComplete { result in
            deadline.cancel()
            // The device joins once the upgrade handler has left: its CONNECT is the first frame.
            if case .success(true) = result {
                do {
                    for handler in handlers.value { try channel.pipeline.syncOperations.addHandler(handler) }
                    return
                } catch {
                    // Falls through: the connection ends as a failed upgrade.
                }
            }
            channel.close(promise: nil)
            failed.value()
        }
    }
}

extension Swarm {
    /// The devices' AMQP settings, authenticating as `AMQPDeviceBridge.authentication` says.
    static func amqpConfiguration(hubHost: String, auth: DeviceAuth?) -> AMQPDeviceBridge.Configuration {
        let (cbs, sasl) = AMQPDeviceBridge.authentication(auth)
        var configuration = AMQPDeviceBridge.Configuration(
            hubHost: hubHost,
            cbs: cbs,
            mechanism: "ANONYMOUS",
            // Set per device from its SDK's ping interval (see `connect`).
            idleTimeOut: nil
        )
        configuration.sasl = sasl
        return configuration
    }
}
