internal import FleetCore
internal import FleetHubCore
internal import FleetMetrics
import Foundation
internal import NIOCore

/// The hub's state on its loop: statistics, open connections, faults in force, throttles, twins and C2D queues.
/// Loop-bound.
final class HubState {
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

    init(configuration: HubConfiguration) {
        core = HubCore(quotas: configuration.quotas, parts: configuration.workers, bin: configuration.seriesBin)
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

    func opened(_ handler: HubConnectionHandler, at: Instant) {
        connections[ObjectIdentifier(handler)] = handler
        core.recorder.connections(connections.count, at: at)
    }

    func closed(_ handler: HubConnectionHandler, deviceID: String?, at: Instant) {
        connections[ObjectIdentifier(handler)] = nil
        if let deviceID, byDevice[deviceID] === handler { byDevice[deviceID] = nil }
        core.recorder.connections(connections.count, at: at)
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
                case .close: handler.closeByHub()
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
