internal import CoreMetrics
public import FleetEngine
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import Prometheus
internal import Synchronization

/// Live metrics of a run in Prometheus text format at `http://HOST:PORT/metrics` (`fleetstorm run --metrics`):
/// swift-metrics counters and gauges, backed by swift-prometheus' registry, fed from the runner's progress samples.
public final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let server = Mutex<(any Channel)?>(nil)
    private let last = Mutex<FleetProgress?>(nil)
    private let meters: Meters

    /// swift-metrics handles, made by the Prometheus factory (no global bootstrap: a process may run several).
    struct Meters: Sendable {
        let devices, started, connected, publishAckP99, loopLagP99, lateSends, descriptors, headroom: CoreMetrics.Gauge
        let attempts, refused, reconnects, retries, generated, acked, failed: CoreMetrics.Counter

        init(_ factory: PrometheusMetricsFactory) {
            func g(_ name: String) -> CoreMetrics.Gauge { CoreMetrics.Gauge(label: name, factory: factory) }
            func c(_ name: String) -> CoreMetrics.Counter { CoreMetrics.Counter(label: name, factory: factory) }
            devices = g("fleetstorm_devices")
            started = g("fleetstorm_devices_started")
            connected = g("fleetstorm_devices_connected")
            publishAckP99 = g("fleetstorm_publish_ack_p99_seconds")
            loopLagP99 = g("fleetstorm_loop_lag_p99_seconds")
            lateSends = g("fleetstorm_late_send_ratio")
            descriptors = g("fleetstorm_open_descriptors")
            headroom = g("fleetstorm_descriptor_headroom")
            attempts = c("fleetstorm_connect_attempts_total")
            refused = c("fleetstorm_connects_refused_total")
            reconnects = c("fleetstorm_reconnects_total")
            retries = c("fleetstorm_retries_total")
            generated = c("fleetstorm_messages_generated_total")
            acked = c("fleetstorm_messages_acked_total")
            failed = c("fleetstorm_messages_failed_total")
        }
    }

    public init() {
        meters = Meters(PrometheusMetricsFactory(registry: registry))
    }

    /// Listens on `host:port`; returns the bound port. Errors say what to do.
    public func start(host: String, port: Int) async throws -> Int {
        let registry = self.registry
        let channel = try await SmallHTTP.listen(group: group, host: host, port: port) {
            MetricsHTTPHandler(registry: registry)
        }
        server.withLock { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    /// Feeds one progress sample: gauges set, counters advanced by what changed since the last sample.
    public func update(_ p: FleetProgress) {
        let previous = last.withLock { old in
            defer { old = p }
            return old
        }
        let m = meters
        m.devices.record(Int64(p.devices))
        m.started.record(Int64(p.started))
        m.connected.record(Int64(p.connectedNow))
        m.publishAckP99.record(Double(p.publishAckP99Nanoseconds) / 1e9)
        m.loopLagP99.record(Double(p.loopLagP99Nanoseconds) / 1e9)
        m.lateSends.record(p.lateSendFraction)
        m.descriptors.record(Int64(p.openDescriptors))
        m.headroom.record(Int64(p.descriptorLimit - p.openDescriptors))
        func advance(_ c: CoreMetrics.Counter, _ now: UInt64, _ before: UInt64?) {
            let delta = now &- (before ?? 0)
            if delta > 0 && delta < UInt64(Int64.max) { c.increment(by: Int64(delta)) }
        }
        advance(m.attempts, p.connectAttempts, previous?.connectAttempts)
        advance(m.refused, p.refused, previous?.refused)
        advance(m.reconnects, p.reconnects, previous?.reconnects)
        advance(m.retries, p.retries, previous?.retries)
        advance(m.generated, p.generated, previous?.generated)
        advance(m.acked, p.acked, previous?.acked)
        advance(m.failed, p.failed, previous?.failed)
    }

    /// The current exposition text (what /metrics serves).
    public func text() -> String { registry.emitToString() }

    public func stop() async {
        if let s = server.withLock({ $0 }) { try? await s.close() }
        try? await group.shutdownGracefully()
    }
}

/// GET /metrics → the registry's text; anything else → 404.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let registry: PrometheusCollectorRegistry
    private var path = ""

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): path = head.uri
        case .body: break
        case .end:
            let found = path == "/metrics" || path.hasPrefix("/metrics?")
            let body = found ? registry.emitToBuffer() : Array("not found: try /metrics\n".utf8)
            let type = found ? "text/plain; version=0.0.4" : "text/plain"
            SmallHTTP.reply(context, status: found ? .ok : .notFound, type: type, body: body)
        }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
