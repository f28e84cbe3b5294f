public import FleetCore
internal import FleetEngine
public import FleetHub
internal import FleetHubCore
public import FleetReport
internal import Foundation

/// `fleetstorm hub` as one library entry point: the test hub on its listeners, its fault timeline, a status line
/// every 10 s, the refusals explained as they happen, and the report when it stops (its `limit` ran out, or the
/// calling task was cancelled). The CLI parses flags, calls `serve`, prints.
public struct HubService: Sendable {
    public var configuration: HubConfiguration
    public var faults: [Scenario.Fault]
    /// How long to listen (nil: until cancelled).
    public var limit: Duration?
    /// Wall-clock instant (Unix nanoseconds) the hub's clock and fault timeline start at: the same in every hub worker
    /// and every shard (nil: when it starts listening).
    public var startAtUnixNanoseconds: Int64?
    /// Lines for the operator (listening addresses, faults as they act, refusals, the 10 s status line).
    public var log: @Sendable (String) -> Void

    public init(
        configuration: HubConfiguration,
        faults: [Scenario.Fault] = [],
        limit: Duration? = nil,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.configuration = configuration
        self.faults = faults
        self.limit = limit
        self.log = log
    }

    /// Listens until `limit` or cancellation; returns the hub's report.
    public func serve() async throws(HubError) -> Fleetstorm_Report_V1_Report {
        var configuration = self.configuration
        let log = self.log
        let refusals = RefusalLog(write: log)
        configuration.onRefusal = { refusals.note($0, $1) }
        let hub = TestHub(configuration: configuration)
        var started = Date()
        let bound = try await hub.start()
        let urls = bound.enumerated().map { i, b in
            HubService.url(index: i, bound: b, configuration: configuration)
        }
        for url in urls { log("hub listening on \(url) (Ctrl-C to stop)") }
        if let at = startAtUnixNanoseconds {
            // Listening already (devices may connect early); the clock and the faults start at the shared instant.
            let wait = Double(at) / 1e9 - Date().timeIntervalSince1970
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) }
            await hub.resetClock()
            started = Date(timeIntervalSince1970: Double(at) / 1e9)
        }
        let origin = started
        let timeline = FaultTimeline(faults)
        let front = EmbeddedTestHub(hub: hub)
        let elapsed: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince(origin) * 1e9) }
        let limit = self.limit
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await Self.statusLines(hub, started: origin, log: log) }
            group.addTask {
                await timeline.play(
                    on: front,
                    elapsed: elapsed,
                    applied: { event, n in
                        log("fault \(timeline.plan.faults[event.fault].label): \(event.step) (\(n) connections)")
                    }
                )
            }
            // Until the limit, or until the caller is cancelled (SIGINT/SIGTERM in the CLI).
            try? await Task.sleep(for: limit ?? .seconds(365 * 86400))
            group.cancelAll()
        }
        await timeline.closeOpenWindows(on: front, elapsed: elapsed)
        let stats = await hub.stop()
        let end = elapsed()
        let facts = RunFacts(
            profileName: "hub",
            seed: 0,
            devices: Int(stats.devicesSeen),
            startedUnixNanoseconds: Int64(origin.timeIntervalSince1970 * 1e9),
            durationNanoseconds: end,
            target: urls.joined(separator: " "),
            mqttVersion: "3.1.1/5",
            kind: "hub"
        )
        return ReportBuilder.build(facts: facts, snapshot: nil, hub: stats, faults: timeline.records(runEnd: end))
    }

    /// One status line every 10 s while the hub runs.
    static func statusLines(_ hub: TestHub, started: Date, log: @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(10)) } catch { return }
            let s = await hub.stats()
            log(
                "[\(Int(Date().timeIntervalSince(started)))s] hub: \(s.connectionsAccepted) accepted, "
                    + "\(s.connectionsRefused) refused, \(s.messagesReceived) messages from \(s.devicesSeen) devices"
            )
        }
    }

    /// The URL of bound listener `index` (plain, TLS, WebSocket, WebSocket over TLS, HTTPS, AMQP, AMQP over TLS: the
    /// order TestHub binds).
    static func url(index i: Int, bound b: (host: String, port: Int), configuration c: HubConfiguration) -> String {
        let counts = [
            c.listen.count, c.tlsListen.count, c.wsListen.count, c.wssListen.count, c.httpsListen.count,
            c.amqpListen.count, c.amqpsListen.count,
        ]
        let schemes = ["mqtt", "mqtts", "ws", "wss", "https", "amqp", "amqps"]
        var k = 0
        var start = 0
        while k < schemes.count - 1 && i >= start + counts[k] {
            start += counts[k]
            k += 1
        }
        return "\(schemes[k])://\(b.host):\(b.port)\(k == 2 || k == 3 ? c.webSocketPath : "")"
    }
}
