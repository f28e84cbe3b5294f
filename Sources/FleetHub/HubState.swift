internal import FleetCore
internal import FleetMetrics
import Foundation
internal import NIOCore

/// The hub's state on its loop: statistics, open connections, faults in force, throttles, twins and C2D queues.
/// Loop-bound.
final class HubState {
    var recorder = HubRecorder()
    var connections: [ObjectIdentifier: HubConnectionHandler] = [:]
    /// The live connection of each device id (IoT Hub allows one; a new CONNECT takes over).
    var byDevice: [String: HubConnectionHandler] = [:]
    /// Device ids that ever connected (C2D goes to them, online or not).
    var knownDevices: Set<String> = []
    var stopping = false
    /// IoT Hub throttles (nil: unlimited).
    var connectShaper: RateShaper?
    var sendShaper: RateShaper?
    /// The daily message quota: the tier's limit, what today used, and which UTC day "today" is.
    let quotas: HubQuotas?
    var dailyUsed: UInt64 = 0
    var quotaDay: Int64 = 0
    var faults = HubFaults()
    var twins = TwinStore()
    var cloudToDevice = CloudToDeviceQueues()
    /// The hub's clock origin (the run's start when embedded: the runner resets it), and the wall clock then.
    var origin = NIODeadline.now() {
        didSet { originUnixSeconds = Int64(Date().timeIntervalSince1970) }
    }
    private(set) var originUnixSeconds = Int64(Date().timeIntervalSince1970)

    /// Wall-clock seconds at hub time `at`, without reading the wall clock (for the daily quota's UTC day).
    func unixSeconds(at: Instant) -> Int64 { originUnixSeconds + at.nanoseconds / 1_000_000_000 }

    init(quotas: HubQuotas?, bin: Duration = .milliseconds(100)) {
        self.quotas = quotas
        recorder = HubRecorder(bin: bin)
        connectShaper = quotas?.shaper()
        sendShaper = quotas?.shaper()
    }

    func instant(_ at: NIODeadline = .now()) -> Instant {
        Instant(nanoseconds: Int64(at.uptimeNanoseconds) - Int64(origin.uptimeNanoseconds))
    }

    var stats: HubStats {
        var s = recorder.stats
        s.twinGets = twins.gets
        s.twinPatches = twins.patches
        return s
    }

    func record(_ event: HubEvent, peer: String?, at: Instant) {
        recorder.record(event, peer: peer, at: at)
    }

    func opened(_ handler: HubConnectionHandler, at: Instant) {
        connections[ObjectIdentifier(handler)] = handler
        recorder.connections(connections.count, at: at)
    }

    func closed(_ handler: HubConnectionHandler, deviceID: String?, at: Instant) {
        connections[ObjectIdentifier(handler)] = nil
        if let deviceID, byDevice[deviceID] === handler { byDevice[deviceID] = nil }
        recorder.connections(connections.count, at: at)
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
                    recorder.countTokenExpiry()
                    handler.closeByHub()
                case .silence: handler.silence()
                }
            }
        }
        switch (fault.kind, step) {
        case (.blackhole, .start):
            affected +=
                connections.values.filter { h in
                    fault.target.matches(deviceID: h.deviceID, peer: { h.peer })
                }.count
            faults.start(fault, index: index, now: now)
        case (_, .start):
            faults.start(fault, index: index, now: now)
        case (.flap, .pulse):
            faults.setDown(index: index, fault.down > .zero)
        case (.flap, .release):
            faults.setDown(index: index, false)
        case (_, .end):
            affected += faults.end(index: index)
        default:
            break
        }
        return affected
    }

    /// Charges a D2C message against the daily quota; false once today's quota is used up (403002).
    func chargeDaily(bytes: Int, unixSeconds: Int64) -> Bool {
        guard let quotas else { return true }
        let day = unixSeconds / 86_400
        if day != quotaDay {
            quotaDay = day
            dailyUsed = 0
        }
        let units = quotas.meterUnits(bytes: bytes)
        guard dailyUsed + units <= quotas.dailyMessagesPerWorker else {
            recorder.countQuotaExceeded()
            return false
        }
        dailyUsed += units
        return true
    }

    /// Queues one C2D message for every known device and sends to those online and subscribed.
    func sendCloudToDevice() {
        for id in knownDevices {
            if cloudToDevice.enqueue(deviceID: id) {
                byDevice[id]?.deliverCloudToDevice()
            } else {
                recorder.countCloudToDeviceRejected()
            }
        }
    }
}

@available(*, unavailable)
extension HubState: Sendable {}
