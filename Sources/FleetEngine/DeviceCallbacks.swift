public import FleetCore
public import FleetMQTT

/// How one message ended, for `sendCompleted`.
public enum SendResult: Sendable, Hashable {
    /// PUBACK received; latency from the message's intended send time.
    case acked(latency: Duration)
    /// Will never be acknowledged (`count` messages at once when a connection or the queue drops several).
    case failed(reason: MessageLoss, count: Int)
}

/// The device SDKs' callbacks, per device: connection status changes (with the last error), cloud-to-device
/// messages, and send completions. They run on the devices' event loop, so keep them short; nil ones cost nothing.
public struct DeviceCallbacks: Sendable {
    public var statusChanged:
        (
            @Sendable (
                _ deviceID: String, _ status: ConnectionStatus, _ reason: StatusReason, _ lastError: FailureCause?
            ) -> Void
        )?
    public var messageReceived: (@Sendable (_ deviceID: String, _ message: MQTTPublish) -> Void)?
    public var sendCompleted: (@Sendable (_ deviceID: String, _ result: SendResult) -> Void)?

    public init() {}
}

extension DeviceCallbacks {
    /// Whether any callback is set (a run without them skips routing every event).
    public var isEmpty: Bool { statusChanged == nil && messageReceived == nil && sendCompleted == nil }

    /// Routes a recorded event to the callbacks that want it.
    func notify(deviceID: String, event: DeviceEvent, lastError: FailureCause?) {
        switch event {
        case .status(_, let to, let reason):
            statusChanged?(deviceID, to, reason, lastError)
        case .received(let message):
            messageReceived?(deviceID, message)
        case .acked(let latency, _):
            sendCompleted?(deviceID, .acked(latency: latency))
        case .failed(let count, let reason):
            sendCompleted?(deviceID, .failed(reason: reason, count: count))
        default:
            break
        }
    }
}
