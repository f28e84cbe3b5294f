public import FleetCore

/// Per fault group, each device's part in that group's storm (0: not connected at its start, 1: connected,
/// 2: lost its connection, 3: back again). A device counts once however often it is lost. The real engine and
/// FleetSim both keep one, so storms are counted the same way in both.
public struct StormMarks: Sendable {
    private var storms: [(group: Int, marks: [UInt8])] = []

    public init() {}

    public var isEmpty: Bool { storms.isEmpty }

    /// A fault group starts: remember which devices are connected (before the fault acts).
    public mutating func mark(group: Int, devices: Int, connected: (Int) -> Bool) {
        guard !storms.contains(where: { $0.group == group }) else { return }
        storms.append((group, (0..<devices).map { connected($0) ? 1 : 0 }))
    }

    /// Follows one device event into the storms: the latest storm takes new losses; any storm takes the recovery and
    /// the attempts of a device it lost.
    public mutating func event(device i: Int, _ event: DeviceEvent, recorder: Recorder, at: Instant) {
        switch event {
        case .status(let from, let to, let reason)
        where from == .connected && (to == .disconnectedRetrying || (to == .disconnected && reason != .clientClose)):
            let k = storms.count - 1
            if storms[k].marks[i] == 1 {
                storms[k].marks[i] = 2
                recorder.stormEvent(.stormAffected, group: storms[k].group, at: at)
            }
        case .reconnected:
            for k in storms.indices where storms[k].marks[i] == 2 {
                storms[k].marks[i] = 3
                recorder.stormEvent(.stormRecovered, group: storms[k].group, at: at)
            }
        case .connectAttempt:
            for k in storms.indices where storms[k].marks[i] == 2 {
                recorder.stormEvent(.stormAttempts, group: storms[k].group, at: at)
            }
        default:
            break
        }
    }
}
