internal import FleetCore
internal import FleetHubCore
internal import FleetMQTT
internal import FleetMetrics
import Foundation
internal import NIOCore

/// The hub's state on its loop: statistics, open connections, faults in force, throttles, twins and C2D queues.
/// Loop-bound.
final class HubState {
    let configuration: HubConfiguration
    /// `configuration.sample`, read for every telemetry message.
    let sample: MessageSample?
    /// What every session checks (authentication, topic rules), shared by all of them.
    let sessionPolicy: HubSession.Policy
    /// The hub-wide rules (throttles, daily quota, faults) and the counters.
    var core: HubCore
    var connections: [ObjectIdentifier: HubConnectionHandler] = [:]
    /// The live connection of each device id (IoT Hub allows one; a new CONNECT takes over).
    var byDevice: [String: HubConnectionHandler] = [:]
    /// Device ids that ever connected (C2D goes to them, online or not).
    var knownDevices: Set<String> = []
    var stopping = false
    var twins = TwinStore()
    var cloudToDevice = CloudToDeviceQueues()
    /// The hub's clock origin (the run's start when embedded: the runner resets it), and the wall clock then.
    var origin = NIODeadline.now() {
        didSet { originUnixSeconds = Int64(Date().timeIntervalSince1970) }
    }
    private(set) var originUnixSeconds = Int64(Date().timeIntervalSince1970)

    /// Wall-clock seconds at hub time `at`, without reading the wall clock (for the daily quota's UTC day).
    func unixSeconds(at: Instant) -> Int64 { originUnixSeconds + at.nanoseconds / 1_000_000_000 }

    /// The one array connections run their session's answers in while they handle a read (`HubConnectionHandler`
    /// swaps it in and out), so no connection keeps array storage of its own.
    var scratch: [HubAction] = []
    /// The CONNECT being answered, while its answer runs and only when someone listens for refusals (to explain
    /// them): one at a time on the hub's loop, so no connection keeps its CONNECT.
    var answering: MQTTConnect?
    /// One periodic sweep checks every connection's CONNECT timeout, keep-alive and token expiry, instead of a
    /// timer per connection: NIO cancels a scheduled task by searching its whole queue, so a timer per connection
    /// made every CONNECT cost time in proportion to the connections open, and each timer kept memory.
    private var sweepTask: Scheduled<Void>?
    /// A quarter of the connect timeout, between 10 ms and 250 ms: what is due is acted on at most two of these late.
    let sweepInterval: TimeAmount
    /// The loop's clock when the sweep last ran (or started): what a connection stamps as the time it was opened or
    /// last heard from, so a read costs no clock call. It is at most one sweep behind, so the sweep allows one
    /// interval more than each limit and never acts before a limit is reached.
    private(set) var sweepNow = NIODeadline.now()

    init(configuration: HubConfiguration) {
        sample = configuration.sample
        self.configuration = configuration
        sessionPolicy = HubSession.Policy(authenticator: configuration.auth, rules: configuration.rules)
        core = HubCore(quotas: configuration.quotas, parts: configuration.workers, bin: configuration.seriesBin)
        let quarter = configuration.connectTimeout.nanoseconds / 4
        sweepInterval = .nanoseconds(min(250_000_000, max(10_000_000, quarter)))
        scratch.reserveCapacity(8)
    }

    func instant(_ at: NIODeadline = .now()) -> Instant {
        Instant(nanoseconds: Int64(at.uptimeNanoseconds) - Int64(origin.uptimeNanoseconds))
    }

    var stats: HubStats {
        var s = core.recorder.stats
        s.twinGets = twins.gets
        s.twinPatches = twins.patches
        return s
    }

    func record(_ event: HubEvent, peer: String?, at: Instant) {
        core.recorder.record(event, peer: peer, at: at)
    }

    func opened(_ handler: HubConnectionHandler, at: Instant, loop: any EventLoop) {
        connections[ObjectIdentifier(handler)] = handler
        core.recorder.connections(connections.count, at: at)
        if sweepTask == nil {
            sweepNow = loop.now
            scheduleSweep(on: loop)
        }
    }

    func closed(_ handler: HubConnectionHandler, deviceID: String?, at: Instant) {
        connections[ObjectIdentifier(handler)] = nil
        if let deviceID, byDevice[deviceID] === handler { byDevice[deviceID] = nil }
        core.recorder.connections(connections.count, at: at)
        if connections.isEmpty {
            sweepTask?.cancel()
            sweepTask = nil
        }
    }

    private func scheduleSweep(on loop: any EventLoop) {
        sweepTask = loop.assumeIsolated().scheduleTask(in: sweepInterval) { [self] in
            self.sweepTask = nil
            self.sweepNow = loop.now
            self.sweep(now: self.sweepNow)
            if !self.connections.isEmpty && self.sweepTask == nil { self.scheduleSweep(on: loop) }
        }
    }

    /// Acts on what is due on every connection (CONNECT timeouts, idle connections, expired tokens).
    func sweep(now: NIODeadline) {
        var due: [(HubConnectionHandler, HubConnectionHandler.Due)] = []
        for handler in connections.values {
            if let d = handler.due(at: now) { due.append((handler, d)) }
        }
        for (handler, d) in due { handler.expire(d) }
    }

    /// Applies a fault plan step; returns the connections it affected (closed or silenced now, or, for a window
    /// that ends, refused, delayed or throttled during it).
    func apply(_ step: FaultPlan.Step, fault: Scenario.Fault, index: Int) -> Int {
        let now = instant()
        var affected = 0
        if let effect = HubFaults.effect(of: fault.kind, step: step) {
            for handler in Array(connections.values)
            where fault.target.matches(deviceID: handler.deviceID, peer: { handler.peer })
                && !handler.isSilenced
            {
                affected += 1
                switch effect {
                case .close: handler.dropByHub()
                case .expire:
                    core.recorder.countTokenExpiry()
                    handler.closeByHub()
                case .silence: handler.silence()
                }
            }
        }
        if fault.kind == .blackhole, step == .start {
            affected +=
                connections.values.filter { h in
                    fault.target.matches(deviceID: h.deviceID, peer: { h.peer })
                }.count
        }
        return affected + core.faultStep(step, fault: fault, index: index, now: now)
    }

    /// Queues one C2D message for every known device and sends to those online and subscribed.
    func sendCloudToDevice() {
        for id in knownDevices {
            if cloudToDevice.enqueue(deviceID: id) {
                byDevice[id]?.deliverCloudToDevice()
            } else {
                core.recorder.countCloudToDeviceRejected()
            }
        }
    }
}

@available(*, unavailable)
extension HubState: Sendable {}
